package ot

import (
	"encoding/binary"
	"fmt"

	"github.com/autorep/autorep/transport"
)

// bitWriter packs values of 1 to 64 bits, least significant bit first,
// into little-endian bytes: the wire form of OT payloads, so an ℓ-bit
// message costs ℓ bits, not a whole word. Bits collect in a 64-bit
// accumulator that is flushed a whole word at a time.
type bitWriter struct {
	buf  []byte
	acc  uint64 // pending bits, low nacc of them valid
	nacc uint   // < 64
}

func newBitWriter(bits int) *bitWriter { return &bitWriter{buf: make([]byte, 0, (bits+7)/8)} }

// write appends the low w bits of v (1 ≤ w ≤ 64).
func (b *bitWriter) write(v uint64, w uint) {
	v &= mask(w)
	b.acc |= v << b.nacc // Go shifts by ≥ 64 give 0
	if b.nacc+w < 64 {
		b.nacc += w
		return
	}
	b.buf = binary.LittleEndian.AppendUint64(b.buf, b.acc)
	// The bits of v that did not fit (none when nacc was 0).
	if b.nacc == 0 {
		b.acc = 0
	} else {
		b.acc = v >> (64 - b.nacc)
	}
	b.nacc = b.nacc + w - 64
}

// bytes flushes the last partial word and returns the packed message.
func (b *bitWriter) bytes() []byte {
	for b.nacc > 0 {
		b.buf = append(b.buf, byte(b.acc))
		b.acc >>= 8
		b.nacc -= min(8, b.nacc)
	}
	b.acc = 0
	return b.buf
}

// bitReader reads what a bitWriter wrote.
type bitReader struct {
	buf  []byte
	pos  uint64 // bit position
	size uint64 // bits available
}

// newBitReader checks that msg holds exactly ⌈bits/8⌉ bytes.
func newBitReader(msg []byte, bits int, what string) (*bitReader, error) {
	if want := (bits + 7) / 8; len(msg) != want {
		return nil, fmt.Errorf("ot: %s: message has %d bytes, want %d", what, len(msg), want)
	}
	return &bitReader{buf: msg, size: uint64(len(msg)) * 8}, nil
}

// recvBits receives the message of ⌈bits/8⌉ bytes of the step what from c
// (refusing a longer one from its length prefix) and reads it.
func recvBits(c transport.Conn, bits int, what string) (*bitReader, error) {
	msg, err := transport.RecvExact(c, (bits+7)/8)
	if err != nil {
		return nil, fmt.Errorf("ot: receiving %s: %w", what, err)
	}
	return newBitReader(msg, bits, what)
}

// read returns the next w bits (1 ≤ w ≤ 64); the caller never reads past
// the size newBitReader checked. Where eight bytes follow the position it
// loads them as one word (and a ninth byte if the value straddles it).
func (b *bitReader) read(w uint) uint64 {
	byteI := b.pos / 8
	off := uint(b.pos % 8)
	if byteI+8 <= uint64(len(b.buf)) {
		v := binary.LittleEndian.Uint64(b.buf[byteI:]) >> off
		if off+w > 64 {
			v |= uint64(b.buf[byteI+8]) << (64 - off)
		}
		b.pos += uint64(w)
		return v & mask(w)
	}
	var v uint64
	var got uint
	for got < w {
		byteI := b.pos / 8
		off := uint(b.pos % 8)
		k := min(w-got, 8-off)
		v |= uint64(b.buf[byteI]>>off) & (1<<k - 1) << got
		got += k
		b.pos += uint64(k)
	}
	return v
}

// skip moves past the next n ≥ 0 bits.
func (b *bitReader) skip(n int) { b.pos += uint64(n) }

// mask returns the low-w-bit mask (w ≤ 64).
func mask(w uint) uint64 {
	if w >= 64 {
		return ^uint64(0)
	}
	return 1<<w - 1
}
