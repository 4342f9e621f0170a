package ring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"unsafe"
)

// SeedSize is the size of a PRG seed in bytes (an AES-128 key).
const SeedSize = 16

// Seed is a PRG seed.
type Seed [SeedSize]byte

// NewSeed returns a fresh uniformly random seed from crypto/rand.
func NewSeed() (Seed, error) {
	var s Seed
	if _, err := rand.Read(s[:]); err != nil {
		return s, fmt.Errorf("ring: reading random seed: %w", err)
	}
	return s, nil
}

// PRG is a cryptographic pseudo-random generator: AES-128 in counter mode
// keyed by a 16-byte seed, starting from a zero counter block. The output
// stream is a deterministic function of the seed, so two parties holding the
// same seed draw identical values; different seeds give independent-looking
// streams. A PRG is not safe for concurrent use.
type PRG struct {
	stream cipher.Stream
	buf    [prgBuf]byte
	pos    int // next unread byte in buf; prgBuf means empty
}

const prgBuf = 4096

// littleEndian reports whether uint64 memory holds little-endian bytes.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

var zeroBlock [prgBuf]byte

// NewPRG returns a PRG expanding seed.
func NewPRG(seed Seed) *PRG {
	block, err := aes.NewCipher(seed[:])
	if err != nil {
		// aes.NewCipher only fails for a key length other than 16/24/32.
		panic(fmt.Sprintf("ring: AES-128 with a 16-byte key: %v", err))
	}
	var iv [aes.BlockSize]byte
	return &PRG{stream: cipher.NewCTR(block, iv[:]), pos: prgBuf}
}

// NewRandomPRG returns a PRG with a fresh seed from crypto/rand.
func NewRandomPRG() (*PRG, error) {
	s, err := NewSeed()
	if err != nil {
		return nil, err
	}
	return NewPRG(s), nil
}

// Bytes fills dst with pseudo-random bytes.
func (p *PRG) Bytes(dst []byte) {
	// Serve from the buffer first so that the stream is the same whatever
	// mix of calls consumes it.
	if p.pos < prgBuf {
		n := copy(dst, p.buf[p.pos:])
		p.pos += n
		dst = dst[n:]
	}
	for len(dst) >= prgBuf {
		p.stream.XORKeyStream(dst[:prgBuf], zeroBlock[:])
		dst = dst[prgBuf:]
	}
	if len(dst) > 0 {
		p.refill()
		p.pos = copy(dst, p.buf[:])
	}
}

func (p *PRG) refill() {
	p.stream.XORKeyStream(p.buf[:], zeroBlock[:])
	p.pos = 0
}

// Read fills b with pseudo-random bytes and never fails; it makes a PRG an
// io.Reader for libraries that take one.
func (p *PRG) Read(b []byte) (int, error) {
	p.Bytes(b)
	return len(b), nil
}

// Uint64 returns one pseudo-random value (8 little-endian stream bytes).
func (p *PRG) Uint64() uint64 {
	if p.pos > prgBuf-8 {
		var b [8]byte
		p.Bytes(b[:])
		return binary.LittleEndian.Uint64(b[:])
	}
	v := binary.LittleEndian.Uint64(p.buf[p.pos:])
	p.pos += 8
	return v
}

// Uint64s fills dst with pseudo-random values, uniform over Z_2^64. Each
// value is 8 little-endian stream bytes, so the result does not depend on
// how a stream is split across calls.
func (p *PRG) Uint64s(dst []uint64) {
	for len(dst) > 0 && p.pos < prgBuf {
		dst[0] = p.Uint64()
		dst = dst[1:]
	}
	// Large requests on a little-endian machine: run the key stream straight
	// over dst's memory.
	if littleEndian && len(dst) >= prgBuf/8 {
		n := len(dst) / (prgBuf / 8) * (prgBuf / 8)
		d := dst[:n]
		clear(d)
		b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), 8*n)
		p.stream.XORKeyStream(b, b)
		dst = dst[n:]
	}
	for len(dst) > 0 {
		if p.pos > prgBuf-8 {
			if p.pos < prgBuf {
				dst[0] = p.Uint64() // straddles the buffer end
				dst = dst[1:]
				continue
			}
			p.refill()
		}
		n := min(len(dst), (prgBuf-p.pos)/8)
		b := p.buf[p.pos:]
		for i := range n {
			dst[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
		p.pos += 8 * n
		dst = dst[n:]
	}
}

// Bits fills dst with pseudo-random bits, one per byte (each 0 or 1). Eight
// bits are taken from each stream byte, least significant first.
func (p *PRG) Bits(dst []byte) {
	var b [1]byte
	for i := 0; i < len(dst); i += 8 {
		p.Bytes(b[:])
		for j := 0; j < 8 && i+j < len(dst); j++ {
			dst[i+j] = (b[0] >> j) & 1
		}
	}
}

// Seed draws a fresh seed from the stream (to derive a child PRG).
func (p *PRG) Seed() Seed {
	var s Seed
	p.Bytes(s[:])
	return s
}

// Rand returns a tensor of the given shape with uniform entries.
func (p *PRG) Rand(shape ...int) *Tensor {
	t := New(shape...)
	p.Uint64s(t.Data)
	return t
}
