package ot

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// Ferret silent correlated OT (Yang, Weng, Lan, Zhang and Wang, CCS 2020)
// as a COT source of a Sender/Receiver pair, semi-honest. An iteration
// turns k + t·h reserved COTs into n fresh ones with the same global Δ:
// t GGM trees (ferret_spcot.go) give a COT of a regular-noise vector e
// (one 1 per bin of n/t), and the primal LPN code (ferret_lpn.go) adds
// A·u for the k reserved COTs of random u, so the receiver's choice bits
// x = e ⊕ A·u are pseudo-random under regular-noise LPN and the rows keep
// r_i = s_i ⊕ x_i·Δ. The last k + t·h of the outputs are the next
// iteration's reserve; the rest go to a buffer. One message per
// iteration, sender to receiver: a 16-byte LPN seed and t·(2h+1) blocks.
//
// The first reserve comes from the Sender/Receiver's own extension
// (IKNP or SoftSpoken, random choice bits), through the small parameter
// set first when the large one is used, as emp-ot does.
//
// Using the buffer: the receiver turns a random COT (s_i; r_i, x_i) into
// one with its chosen bit c_i by sending d_i = x_i ⊕ c_i; the sender's row
// is s_i ⊕ d_i·Δ. So the receiver's matrix message of an extension with
// Ferret is: an 8-byte header (m, the COTs taken from the buffer, and the
// refills it asks for), the m bits d, then the extension's own matrix for
// the n − m OTs the buffer could not serve (none once it is warm).
// The receiver decides m from its buffer, which never holds more than
// the sender's (it holds only what the sender has made and sent); the
// sender checks m against its own. Refills are asked for in the header
// when what is left falls below the largest batch seen so far (capped at
// the larger of one iteration's yield and 2^22 COTs) and come in the same message as the sender's
// payload of that batch (its masked messages, correlations or 1-of-N
// messages), in front of it: the iterations never wait on the peer while
// a party is making a matrix, and no step gains a message, so every
// order of sends and receives that works with the extension works with
// Ferret. Raw COT/ROT calls, which have no payload, send and receive
// the refill as a message of its own right after the matrix.
//
// Memory per side: the buffer holds less than its target plus one
// iteration's yield (large set: 2 × 10.0M COTs × 16 B = 320 MB; small
// set: 4.2M + 0.53M COTs, 76 MB; the receiver adds a byte per COT),
// plus the k + t·h reserve and, during an iteration, its n new rows.

// FerretParams selects a Ferret parameter set (Config.Ferret).
type FerretParams int

// The parameter sets are emp-ot's (ferret/constants.h), used by the
// Ferret authors for 128-bit security of regular-noise LPN against the
// known attacks (the paper's estimate; not re-derived here, see doc.go).
const (
	// NoFerret: COTs come from the extension alone.
	NoFerret FerretParams = iota
	// FerretLarge: n = 10,608,640, k = 589,824, t = 1,295 trees of
	// depth 13 (emp-ot's main set): 10,001,981 COTs per iteration for
	// a 559,456-byte message.
	FerretLarge
	// FerretSmall: n = 607,232, k = 69,454, t = 593 trees of depth 10
	// (emp-ot's second bootstrapping set, used here on its own too):
	// 531,848 COTs per iteration for 249,076 bytes.
	FerretSmall
	ferretTiny // tests only: no security
)

// allowTinyFerret lets the package's tests select ferretTiny.
var allowTinyFerret = false

// ParseFerret maps a command-line name to a parameter set: "" or "none"
// (no Ferret), "large" or "ferret", "small".
func ParseFerret(name string) (FerretParams, error) {
	switch name {
	case "", "none":
		return NoFerret, nil
	case "large", "ferret":
		return FerretLarge, nil
	case "small":
		return FerretSmall, nil
	}
	return NoFerret, fmt.Errorf("ot: Ferret parameter set %q: want none, large or small", name)
}

type ferretParams struct{ n, k, t, h int }

var ferretSets = map[FerretParams]ferretParams{
	FerretLarge: {n: 10608640, k: 589824, t: 1295, h: 13},
	FerretSmall: {n: 607232, k: 69454, t: 593, h: 10},
	ferretTiny:  {n: 2048, k: 300, t: 16, h: 7},
}

// String names the set.
func (f FerretParams) String() string {
	switch f {
	case NoFerret:
		return "none"
	case FerretLarge:
		return "large"
	case FerretSmall:
		return "small"
	case ferretTiny:
		return "tiny"
	}
	return fmt.Sprintf("FerretParams(%d)", int(f))
}

// ferretTarget bounds the buffer's target level (COTs) where one
// iteration yields less: 2^22 COTs, 64 MiB of rows.
const ferretTarget = 1 << 22

// target is the most a buffer is refilled to: the largest batch seen,
// up to this.
func (p ferretParams) target() int { return max(p.usable(), ferretTarget) }

// maxRefill is the most iterations one matrix can ask for.
func (p ferretParams) maxRefill() int { return (p.target() + p.usable() - 1) / p.usable() }

func (p ferretParams) reserve() int  { return p.k + p.t*p.h }
func (p ferretParams) usable() int   { return p.n - p.reserve() }
func (p ferretParams) msgBytes() int { return ring.SeedSize + mpcotMsgBytes(p.t, p.h) }

// ferretChain is the parameter sets an iteration chain of f runs through
// from the extension's COTs: the large set starts from the small one.
func ferretChain(f FerretParams) []ferretParams {
	if f == FerretLarge {
		return []ferretParams{ferretSets[FerretSmall], ferretSets[FerretLarge]}
	}
	return []ferretParams{ferretSets[f]}
}

// ferretHeader is the size of the header of a Ferret matrix message.
const ferretHeader = 8

// ferretSender is the Δ holder's Ferret state.
type ferretSender struct {
	p       ferretParams
	delta   Block
	res     []Block // the next iteration's k LPN keys, then its t·h tree COTs
	buf     []Block // unused COTs from off
	off     int
	claimed int    // buffer COTs of received matrices not yet expanded
	owed    []int  // iterations owed per received matrix, in order
	tw      uint64 // next tree COT tweak
	iters   int    // iterations run
	served  int    // COTs taken from the buffer
	sc      ferretScratch
}

// ferretReceiver is the choice holder's Ferret state.
type ferretReceiver struct {
	p        ferretParams
	res      []Block
	resBits  []byte
	buf      []Block
	bits     []byte
	off      int
	pending  int   // COTs asked for, not yet received
	maxBatch int   // the largest batch seen
	owed     []int // iterations asked for per matrix sent, in order
	tw       uint64
	iters    int
	sc       ferretScratch
	out      []byte
}

// setupFerretSender bootstraps s's Ferret from its extension (the peer
// runs setupFerretReceiver on the matching Receiver).
func setupFerretSender(s *Sender, set FerretParams) error {
	chain := ferretChain(set)
	q, err := s.COT(chain[0].reserve())
	if err != nil {
		return fmt.Errorf("ot: ferret bootstrap: %w", err)
	}
	f := &ferretSender{p: chain[0], delta: s.delta, res: q}
	for _, next := range chain[1:] {
		msg, err := f.iterate()
		if err != nil {
			return err
		}
		if err := s.c.Send(msg); err != nil {
			return fmt.Errorf("ot: ferret bootstrap: %w", err)
		}
		all := append(f.res, f.buf[f.off:]...)
		f.p, f.res, f.buf, f.off = next, all[:next.reserve():next.reserve()], slices.Clone(all[next.reserve():]), 0
	}
	s.fe = f
	return nil
}

// setupFerretReceiver is the receiver's side of setupFerretSender.
func setupFerretReceiver(r *Receiver, set FerretParams) error {
	chain := ferretChain(set)
	b := make([]byte, chain[0].reserve())
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("ot: ferret bootstrap: %w", err)
	}
	for i := range b {
		b[i] &= 1
	}
	t, err := r.COT(b)
	if err != nil {
		return fmt.Errorf("ot: ferret bootstrap: %w", err)
	}
	f := &ferretReceiver{p: chain[0], res: t, resBits: b}
	for _, next := range chain[1:] {
		msg, err := transport.RecvExact(r.c, f.p.msgBytes())
		if err != nil {
			return fmt.Errorf("ot: ferret bootstrap: %w", err)
		}
		if err := f.absorb(msg); err != nil {
			return err
		}
		all := append(f.res, f.buf[f.off:]...)
		allBits := append(f.resBits, f.bits[f.off:]...)
		k := next.reserve()
		f.p, f.res, f.resBits = next, all[:k:k], allBits[:k:k]
		f.buf, f.bits, f.off = slices.Clone(all[k:]), slices.Clone(allBits[k:]), 0
	}
	r.fe = f
	return nil
}

// roomFor returns b with capacity for an iteration's n outputs after
// its contents. A new array at least doubles the old one, up to room for
// the target level and an iteration, so that a buffer is reallocated
// (and cleared) a few times, not every iteration.
func roomFor[T any](b []T, p ferretParams) []T {
	if cap(b)-len(b) >= p.n {
		return b
	}
	most := max(len(b), p.target()) + p.n
	nb := make([]T, len(b), min(most, max(2*cap(b), len(b)+p.n)))
	copy(nb, b)
	return nb
}

// compact drops the used front of a buffer.
func compact[T any](b []T, off int) []T { return append(b[:0], b[off:]...) }

// iterate runs one iteration: the buffer grows by p.usable() COTs, the
// reserve is renewed, and it returns the message for the receiver.
func (f *ferretSender) iterate() ([]byte, error) {
	p := f.p
	var rnd [ring.SeedSize + 16]byte
	seeds := make([]Block, p.t)
	for i := range seeds {
		if _, err := rand.Read(rnd[:16]); err != nil {
			return nil, fmt.Errorf("ot: ferret seeds: %w", err)
		}
		seeds[i] = blockFromBytes(rnd[:16])
	}
	var seed ring.Seed
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("ot: ferret LPN seed: %w", err)
	}
	f.buf = roomFor(compact(f.buf, f.off), p)
	f.off = 0
	start := len(f.buf)
	f.buf = f.buf[:start+p.n]
	out := f.buf[start:]
	tree := mpcotSend(f.delta, f.res[p.k:], seeds, p.h, f.tw, out, &f.sc)
	msg := make([]byte, p.msgBytes())
	copy(msg, seed[:])
	copy(msg[ring.SeedSize:], tree)
	f.tw += uint64(p.t * p.h)
	lpnEncode(seed, f.res[:p.k], out, nil, nil, &f.sc.idx)
	// The reserve is the last outputs, so the rest stays where it is.
	copy(f.res, out[p.usable():])
	f.buf = f.buf[:start+p.usable()]
	f.iters++
	return msg, nil
}

// absorb is the receiver's side of iterate.
func (f *ferretReceiver) absorb(msg []byte) error {
	p := f.p
	if len(msg) != p.msgBytes() {
		return fmt.Errorf("ot: ferret iteration message has %d bytes, want %d", len(msg), p.msgBytes())
	}
	var seed ring.Seed
	copy(seed[:], msg)
	f.buf, f.bits = roomFor(compact(f.buf, f.off), p), roomFor(compact(f.bits, f.off), p)
	f.off = 0
	start := len(f.buf)
	f.buf, f.bits = f.buf[:start+p.n], f.bits[:start+p.n]
	out, ob := f.buf[start:], f.bits[start:]
	clear(ob)
	alphas, err := mpcotRecv(f.res[p.k:], f.resBits[p.k:], p.t, p.h, f.tw, msg[ring.SeedSize:], out, &f.sc)
	if err != nil {
		return err
	}
	f.tw += uint64(p.t * p.h)
	for i, a := range alphas {
		ob[i<<p.h+a] = 1
	}
	lpnEncode(seed, f.res[:p.k], out, f.resBits[:p.k], ob, &f.sc.idx)
	copy(f.res, out[p.usable():])
	copy(f.resBits, ob[p.usable():])
	f.buf, f.bits = f.buf[:start+p.usable()], f.bits[:start+p.usable()]
	f.iters++
	return nil
}

// makeMatrix is the receiver's matrix for choice (see the comment at the
// top): the rows go to rows, ext makes the extension's matrix for the
// OTs the buffer cannot serve (choice[m:], rows from m on). The message
// is in f's scratch until the next call.
func (f *ferretReceiver) makeMatrix(choice []byte, rows rowWriter, ext func(choice []byte, rows rowWriter) ([]byte, error)) ([]byte, error) {
	n := len(choice)
	m := min(n, len(f.buf)-f.off)
	f.maxBatch = max(f.maxBatch, n)
	refill := 0
	for have := len(f.buf) - f.off - m + f.pending; have < min(f.maxBatch, f.p.target()); have += f.p.usable() {
		refill++
	}
	f.pending += refill * f.p.usable()
	f.owed = append(f.owed, refill)
	// The buffer's rows first: a streaming writer takes rows in order.
	bits := f.bits[f.off : f.off+m]
	rows.putBlocks(f.buf[f.off:f.off+m], 0)
	f.off += m
	var extMsg []byte
	if m < n {
		var err error
		if extMsg, err = ext(choice[m:], rows.from(m)); err != nil {
			return nil, err
		}
	}
	msg := grow(&f.out, ferretHeader+(m+7)/8+len(extMsg))
	binary.LittleEndian.PutUint32(msg, uint32(m))
	binary.LittleEndian.PutUint32(msg[4:], uint32(refill))
	d := msg[ferretHeader : ferretHeader+(m+7)/8]
	clear(d)
	for i, b := range bits {
		d[i/8] |= (b ^ choice[i]) << (i % 8)
	}
	copy(msg[ferretHeader+(m+7)/8:], extMsg)
	return msg, nil
}

// popOwed returns the iterations asked for with the oldest matrix whose
// payload has not come yet.
func (f *ferretReceiver) popOwed() (int, error) {
	if len(f.owed) == 0 {
		return 0, fmt.Errorf("ot: ferret refill with no matrix sent")
	}
	k := f.owed[0]
	f.owed = f.owed[1:]
	return k, nil
}

// absorbAll absorbs k iteration messages, concatenated in msg.
func (f *ferretReceiver) absorbAll(msg []byte, k int) error {
	sz := f.p.msgBytes()
	for i := range k {
		if err := f.absorb(msg[i*sz : (i+1)*sz]); err != nil {
			return err
		}
		f.pending -= f.p.usable()
	}
	return nil
}

// recvMatrix receives the receiver's matrix of n OTs and checks its
// header; extBytes gives the extension's matrix size for a count.
func (f *ferretSender) recvMatrix(c transport.Conn, n int, extBytes func(int) int) ([]byte, int, error) {
	msg, err := transport.RecvMax(c, ferretHeader+(n+7)/8+extBytes(n))
	if err != nil {
		return nil, 0, fmt.Errorf("ot: receiving the ferret matrix (%d OTs): %w", n, err)
	}
	if len(msg) < ferretHeader {
		return nil, 0, fmt.Errorf("ot: ferret matrix of %d bytes has no header", len(msg))
	}
	m, refill := int(binary.LittleEndian.Uint32(msg)), int(binary.LittleEndian.Uint32(msg[4:]))
	if avail := len(f.buf) - f.off - f.claimed; m > n || m > avail {
		return nil, 0, fmt.Errorf("ot: ferret matrix takes %d of %d OTs from the buffer, which holds %d", m, n, avail)
	}
	if most := f.p.maxRefill(); refill > most {
		return nil, 0, fmt.Errorf("ot: ferret matrix asks for %d iterations, at most %d", refill, most)
	}
	want := ferretHeader + (m+7)/8
	if m < n {
		want += extBytes(n - m)
	}
	if len(msg) != want {
		return nil, 0, fmt.Errorf("ot: ferret matrix has %d bytes, want %d: %w", len(msg), want, transport.ErrMessageSize)
	}
	f.claimed += m
	f.owed = append(f.owed, refill)
	return msg, m, nil
}

// expand writes the buffer's m rows, flipped by the receiver's bits d,
// to rows; the rest of msg is the extension's.
func (f *ferretSender) expand(msg []byte, m int, rows rowWriter) []byte {
	derandRows(f.buf[f.off:f.off+m], msg[ferretHeader:ferretHeader+(m+7)/8], f.delta, rows)
	f.off += m
	f.claimed -= m
	f.served += m
	return msg[ferretHeader+(m+7)/8:]
}

// refillMsg runs the iterations the oldest matrix without a payload
// asked for and returns their messages, concatenated (nil for none).
func (f *ferretSender) refillMsg() ([]byte, error) {
	if len(f.owed) == 0 {
		return nil, fmt.Errorf("ot: ferret refill with no matrix received")
	}
	k := f.owed[0]
	f.owed = f.owed[1:]
	var out []byte
	for range k {
		msg, err := f.iterate()
		if err != nil {
			return nil, err
		}
		out = append(out, msg...)
	}
	return out, nil
}

// from returns a writer for rows counted from off in rw.
func (rw rowWriter) from(off int) rowWriter {
	out := rowWriter{dst: func(first, count int) []Block { return rw.dst(first+off, count) }}
	if rw.ready != nil {
		out.ready = func(first int, rows []Block) { rw.ready(first+off, rows) }
	}
	return out
}

// putBlocks writes rows src as rows first… of rw, 4,096 at a time.
func (rw rowWriter) putBlocks(src []Block, first int) {
	for lo := 0; lo < len(src); lo += 4096 {
		hi := min(len(src), lo+4096)
		d := rw.dst(first+lo, hi-lo)
		copy(d, src[lo:hi])
		if rw.ready != nil {
			rw.ready(first+lo, d)
		}
	}
}
