package ot

import (
	"crypto/rand"
	"fmt"

	"github.com/autorep/autorep/transport"
)

// OT precomputation (Beaver, "Precomputing oblivious transfer", Crypto
// 1995) for a Sender/Receiver pair: Precompute extends n COTs now, with
// random choice bits r_i on the receiver's side, and keeps them (the
// sender its rows q_i, the receiver t_i = q_i ⊕ r_i·Δ and r_i). While
// such a pool is installed, every extension of the pair takes its COTs
// from it instead of extending: for choice c_i the receiver sends
// d_i = r_i ⊕ c_i (one bit per OT instead of the extension's ⌈128/k⌉)
// and keeps t_i; the sender's row becomes q_i ⊕ d_i·Δ, so that t_i =
// (q_i ⊕ d_i·Δ) ⊕ c_i·Δ: a COT with choice c_i and the same Δ, after
// which every OT built on COTs (random, chosen-message, correlated,
// 1-out-of-N) runs unchanged. d_i is uniform and independent of c_i
// because r_i is, so the sender's view is the extension's. The bits take
// the place of the matrix in the same message, so no protocol gains a
// message or a round.
//
// The pool is exact, not a cache: both sides hold the same count and
// consume it in step, a batch larger than what is left fails on both
// sides (no silent fallback to the extension, which would hide a wrong
// count), and the sender knows the size of every bits message without a
// header. With Ferret the precomputation itself draws on Ferret (its
// iterations then run ahead too), and a pooled batch asks for no
// iterations.

// poolBatch bounds the COTs of one precomputation message (4 MiB of
// matrix at SoftSpoken k = 4), so that its transient memory stays small
// beside the pool. A variable for tests.
var poolBatch = 1 << 20

// sendPool is the sender's precomputed COTs.
type sendPool struct {
	q       []Block // rows q_i; [off, len) unused
	off     int
	claimed int // COTs of received bits messages not yet expanded
}

// recvPool is the receiver's precomputed COTs.
type recvPool struct {
	t   []Block // rows t_i
	r   []byte  // their random choice bits
	off int
}

func (p *sendPool) left() int {
	if p == nil {
		return 0
	}
	return len(p.q) - p.off - p.claimed
}

func (p *recvPool) left() int {
	if p == nil {
		return 0
	}
	return len(p.t) - p.off
}

// Precompute extends n COTs now and adds them to s's pool, which serves
// every extension of s from then on until DropPool (see above); the peer
// runs Receiver.Precompute with the same n. The precomputation's own
// COTs come from the extension (or Ferret), in messages of at most
// poolBatch COTs.
func (s *Sender) Precompute(n int) error {
	if n < 0 {
		return fmt.Errorf("ot: %d COTs to precompute", n)
	}
	p := s.pre
	if p != nil && p.claimed > 0 {
		return fmt.Errorf("ot: precomputing while %d pooled COTs are claimed", p.claimed)
	}
	if p == nil {
		p = &sendPool{}
	}
	s.pre = nil // the precomputation itself extends
	q := make([]Block, 0, p.left()+n)
	q = append(q, p.q[p.off:]...)
	for done := 0; done < n; {
		m := min(poolBatch, n-done)
		// The rows go straight into the pool, not through scratch.
		q = q[:len(q)+m]
		mat, err := s.recvMatrix(m)
		if err == nil {
			_, err = s.expandTo(mat, fullRows(q[len(q)-m:]))
		}
		if err == nil {
			err = s.refill()
		}
		if err != nil {
			s.pre = p
			return fmt.Errorf("ot: precomputing COTs: %w", err)
		}
		done += m
	}
	p.q, p.off = q, 0
	s.pre = p
	return nil
}

// Precompute is the receiver's side of Sender.Precompute: the choice
// bits are drawn here, uniformly.
func (r *Receiver) Precompute(n int) error {
	if n < 0 {
		return fmt.Errorf("ot: %d COTs to precompute", n)
	}
	p := r.pre
	if p == nil {
		p = &recvPool{}
	}
	r.pre = nil
	t := make([]Block, 0, p.left()+n)
	t = append(t, p.t[p.off:]...)
	bits := make([]byte, 0, p.left()+n)
	bits = append(bits, p.r[p.off:]...)
	for done := 0; done < n; {
		m := min(poolBatch, n-done)
		c, err := randomBits(m)
		var msg []byte
		if err == nil {
			t = t[:len(t)+m]
			_, msg, err = r.makeCOTTo(c, fullRows(t[len(t)-m:]))
		}
		if err == nil {
			if err = r.c.Send(msg); err != nil {
				err = fmt.Errorf("sending the extension matrix: %w", err)
			}
		}
		if err == nil {
			err = r.refill()
		}
		if err != nil {
			r.pre = p
			return fmt.Errorf("ot: precomputing COTs: %w", err)
		}
		bits = append(bits, c...)
		done += m
	}
	p.t, p.r, p.off = t, bits, 0
	r.pre = p
	return nil
}

// randomBits returns n uniform bits, one per byte.
func randomBits(n int) ([]byte, error) {
	packed := make([]byte, (n+7)/8)
	if _, err := rand.Read(packed); err != nil {
		return nil, fmt.Errorf("ot: drawing choice bits: %w", err)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = packed[i/8] >> (i % 8) & 1
	}
	return b, nil
}

// Pooled returns the precomputed COTs s has left (0 without a pool).
func (s *Sender) Pooled() int { return s.pre.left() }

// Pooled returns the precomputed COTs r has left (0 without a pool).
func (r *Receiver) Pooled() int { return r.pre.left() }

// Pooling tells whether s has a pool installed (Precompute, until
// DropPool), used up or not: its extensions then take only from it.
func (s *Sender) Pooling() bool { return s.pre != nil }

// Pooling tells whether r has a pool installed.
func (r *Receiver) Pooling() bool { return r.pre != nil }

// DropPool frees s's pool: its extensions extend again.
func (s *Sender) DropPool() { s.pre = nil }

// DropPool frees r's pool: its extensions extend again.
func (r *Receiver) DropPool() { r.pre = nil }

// take is the receiver's pooled makeCOTTo: the rows of the next
// len(choice) pooled COTs go to rows, and the bits message d = r ⊕ choice
// (in *buf) is returned.
func (p *recvPool) take(choice []byte, rows rowWriter, buf *[]byte) ([]byte, error) {
	n := len(choice)
	if left := p.left(); n > left {
		return nil, fmt.Errorf("ot: %d OTs wanted, %d left of those precomputed", n, left)
	}
	msg := grow(buf, (n+7)/8)
	clear(msg)
	for i, b := range p.r[p.off : p.off+n] {
		msg[i/8] |= (b ^ choice[i]) << (i % 8)
	}
	rows.putBlocks(p.t[p.off:p.off+n], 0)
	if p.off += n; p.off == len(p.t) {
		p.t, p.r, p.off = nil, nil, 0 // used up: the memory goes now
	}
	return msg, nil
}

// recvBits is the sender's pooled recvMatrix: the bits message of n OTs,
// checked (its length, and the padding bits of its last byte clear).
func (p *sendPool) recvBits(c transport.Conn, n int) ([]byte, error) {
	if left := p.left(); n > left {
		return nil, fmt.Errorf("ot: %d OTs wanted, %d left of those precomputed", n, left)
	}
	msg, err := transport.RecvExact(c, (n+7)/8)
	if err != nil {
		return nil, fmt.Errorf("ot: receiving the derandomization bits (%d OTs): %w", n, err)
	}
	if n%8 != 0 && msg[len(msg)-1]>>(n%8) != 0 {
		return nil, fmt.Errorf("ot: derandomization bits of %d OTs have padding bits set", n)
	}
	p.claimed += n
	return msg, nil
}

// expand writes the next n pooled rows, flipped by the bits d, to rows.
func (p *sendPool) expand(d []byte, n int, delta Block, rows rowWriter) {
	derandRows(p.q[p.off:p.off+n], d, delta, rows)
	p.off += n
	p.claimed -= n
	if p.off == len(p.q) && p.claimed == 0 {
		p.q, p.off = nil, 0
	}
}

// derandRows writes src[i] ⊕ d_i·Δ (d packed 8 bits a byte) to rows,
// 4,096 at a time: a random COT's sender row turned to the receiver's
// chosen bit (the pool's and Ferret's buffer's).
func derandRows(src []Block, d []byte, delta Block, rows rowWriter) {
	for lo := 0; lo < len(src); lo += 4096 {
		hi := min(len(src), lo+4096)
		dst := rows.dst(lo, hi-lo)
		for i, x := range src[lo:hi] {
			b := -uint64(d[(lo+i)/8] >> ((lo + i) % 8) & 1)
			dst[i] = Block{x.Lo ^ delta.Lo&b, x.Hi ^ delta.Hi&b}
		}
		if rows.ready != nil {
			rows.ready(lo, dst)
		}
	}
}
