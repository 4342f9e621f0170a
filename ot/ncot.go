package ot

import (
	"fmt"
	"math/bits"

	"github.com/autorep/autorep/transport"
)

// 1-out-of-N OT from log N correlated OTs (the construction of Naor and
// Pinkas, "Efficient oblivious transfer protocols", SODA 2001, §4, with
// the PRF of each key instantiated by the tweakable correlation-robust
// hash): for N ≤ 2^L the receiver's choice x is L choice bits of L COTs,
// (q_j, t_j = q_j ⊕ x_j·Δ), j < L. The key of message y is
//
//	K_y = ⊕_{j<L} H((idx_j, 1 + y mod 2^{j+1}), q_j ⊕ y_j·Δ)
//
// with H(w, x) = π(π(x) ⊕ w) ⊕ π(x) (hash.go) and the tweak w = (the COT's
// index, the prefix of y up to bit j). The receiver computes K_x from its
// t_j. For y ≠ x let j be the highest bit where they differ: the term of
// (j, y mod 2^{j+1}) hashes t_j ⊕ Δ under a tweak used for no other input,
// so by TCCR (Guo–Katz–Wang–Yu, S&P 2020) it is pseudo-random given
// everything the receiver sees; each y ≠ x owns a distinct such term
// (y is its prefix plus x's higher bits) and the other unknown terms of
// K_y sit at lower bits, so the N−1 keys are jointly pseudo-random by a
// triangular argument. Every tweak is queried on one input only (TCCR's
// condition). Cost: L COTs (L·⌈128/k⌉ bits with SoftSpoken) plus N·ℓ
// message bits; the sender hashes the 2^{L+1} − 2 tree nodes once each.
// This replaces the Kolesnikov–Kumaresan OT (kk.go), whose 256-bit rows
// need a wider hash than one AES block gives, once COTs are cheap.

// CNSender is the sender of 1-out-of-N OTs built on a Sender's COTs.
type CNSender struct{ s *Sender }

// CNReceiver is the receiver of 1-out-of-N OTs built on a Receiver's COTs.
type CNReceiver struct{ r *Receiver }

// NewCNSender returns a 1-out-of-N sender drawing its COTs from s (the
// peer wraps the matching Receiver in NewCNReceiver); no setup traffic.
func NewCNSender(s *Sender) *CNSender { return &CNSender{s} }

// NewCNReceiver is the receiver's side of NewCNSender.
func NewCNReceiver(r *Receiver) *CNReceiver { return &CNReceiver{r} }

// logN returns L = ⌈log2 nn⌉, the COTs per 1-out-of-nn OT.
func logN(nn int) int { return bits.Len(uint(nn - 1)) }

// nodeTweak is the tweak of tree node (COT index idx, prefix p).
func nodeTweak(idx uint64, p int) Block { return Block{idx, uint64(p) + 1} }

// Send runs 1-out-of-nn OTs of ell-bit messages with the layout of
// NSender.Send (OT i's message y at msgs[i·nn+y]): the COT matrix in,
// nn·ell bits per OT out.
func (c *CNSender) Send(msgs []uint64, nn, ell int) error {
	widths, err := uniformN(msgs, nn, ell)
	if err != nil {
		return err
	}
	return c.SendWidths(msgs, nn, widths)
}

// SendWidths is Send with a message width per OT: OT i's nn messages are
// widths[i] bits each (len(msgs) = nn·len(widths)), so batches of
// different widths share one COT matrix and one message.
func (c *CNSender) SendWidths(msgs []uint64, nn int, widths []uint8) error {
	m, err := c.Prepare(nn, widths)
	if err != nil {
		return err
	}
	return m.Send(msgs)
}

// Prepare is the first half of SendWidths: it receives the receiver's
// COT matrix; the Outgoing's Send hashes and sends the messages. A party
// that also receives can take in all the peer's matrices before it sends
// (one burst of sends, not two).
func (c *CNSender) Prepare(nn int, widths []uint8) (*Outgoing, error) {
	n, L := len(widths), logN(nn)
	if _, err := checkNWidths(nn, n, widths); err != nil {
		return nil, err
	}
	m, err := c.s.recvMatrix(n * L)
	if err != nil {
		return nil, err
	}
	return &Outgoing{n: n, nn: nn, send: func(gen func(int, []uint64)) error { return c.send(m, gen, nn, widths) }}, nil
}

// Outgoing is a 1-out-of-N send whose matrix has been received
// (CNSender.Prepare, NSender.Prepare, Session.PrepareSendN). The
// Outgoings of one Sender must send in the order they were prepared.
type Outgoing struct {
	n, nn int // OTs, messages per OT
	send  func(gen func(i int, out []uint64)) error
}

// Send sends the messages (OT i's message y at msgs[i·nn+y]), once.
func (o *Outgoing) Send(msgs []uint64) error {
	if len(msgs) != o.n*o.nn {
		return fmt.Errorf("ot: %d messages for %d 1-of-%d OTs", len(msgs), o.n, o.nn)
	}
	return o.SendFunc(func(i int, out []uint64) { copy(out, msgs[i*o.nn:(i+1)*o.nn]) })
}

// SendFunc is Send with the messages made on demand: gen(i, out) writes
// OT i's nn messages to out, for i = 0, 1, … in order, while the keys
// are hashed, so that a large batch's messages never sit in memory all
// at once.
func (o *Outgoing) SendFunc(gen func(i int, out []uint64)) error {
	if o.send == nil {
		return fmt.Errorf("ot: 1-of-N messages sent twice")
	}
	f := o.send
	o.send = nil
	return f(gen)
}

func (c *CNSender) send(m matrix, gen func(int, []uint64), nn int, widths []uint8) error {
	n, L := len(widths), logN(nn)
	bits, err := checkNWidths(nn, n, widths)
	if err != nil {
		return err
	}
	base := c.s.next // the index expandTo gives the first row
	delta := c.s.delta
	nodes := 2<<L - 2 // tree nodes per OT: 2^{j+1} at level j
	keys := make([]uint64, 2<<L)
	msgs := make([]uint64, nn)
	bw := c.s.sc.bitWriter(bits)
	// Hash in chunks of OTs so the batches stay in cache.
	const chunk = 64
	pq := make([]Block, 2*chunk*L)
	in := make([]Block, chunk*nodes)
	// hash sends OTs o0 .. o0+cnt−1, whose rows start at q[0].
	hash := func(q []Block, o0, cnt int) {
		for c0 := 0; c0 < cnt; c0 += chunk {
			cn := min(chunk, cnt-c0)
			i0 := o0 + c0 // first OT of the chunk
			qc := q[c0*L : (c0+cn)*L]
			// π(q) and π(q ⊕ Δ) of every COT of the chunk.
			for r := range cn * L {
				pq[2*r] = qc[r]
				pq[2*r+1] = qc[r].Xor(delta)
			}
			permBlocks(pq[:2*cn*L], pq[:2*cn*L])
			// Node (j, p) of OT i hashes π(q_j ⊕ p_j·Δ) ⊕ tweak: the
			// prefixes p < 2^j have bit j clear (π(q_j)), the others set
			// (π(q_j ⊕ Δ)).
			k := 0
			for i := range cn {
				for j := range L {
					r := i*L + j
					idx := base + uint64((i0+i)*L+j)
					half := 1 << j
					a, b := pq[2*r], pq[2*r+1]
					dst := in[k : k+2*half : k+2*half]
					for p := range half {
						dst[p] = Block{a.Lo ^ idx, a.Hi ^ uint64(p+1)}
						dst[half+p] = Block{b.Lo ^ idx, b.Hi ^ uint64(half+p+1)}
					}
					k += 2 * half
				}
			}
			permBlocks(in[:k], in[:k])
			k = 0
			for i := range cn {
				keys[1] = 0 // the empty prefix (level −1 sits at index 1)
				for j := range L {
					r := i*L + j
					lo := 1 << j // prefixes of level j−1 at [lo, 2lo)
					aLo, bLo := pq[2*r].Lo, pq[2*r+1].Lo
					prev, next := keys[lo:2*lo:2*lo], keys[2*lo:4*lo:4*lo]
					src := in[k : k+2*lo : k+2*lo]
					for p := range lo {
						next[p] = prev[p] ^ src[p].Lo ^ aLo
						next[lo+p] = prev[p] ^ src[lo+p].Lo ^ bLo
					}
					k += 2 * lo
				}
				top := 1 << L
				gen(i0+i, msgs)
				writeMessages(bw, msgs, keys[top:top+nn], int(widths[i0+i]))
			}
		}
	}
	// The rows come a chunk at a time (rowWriter); an OT whose L rows
	// straddle two chunks waits in pend for the rest.
	pend := c.s.sc.pend[:0]
	done := 0 // OTs sent
	ready := func(_ int, rows []Block) {
		if len(pend) == 0 && len(rows)%L == 0 {
			hash(rows, done, len(rows)/L)
			done += len(rows) / L
			return
		}
		pend = append(pend, rows...)
		full := len(pend) / L
		hash(pend, done, full)
		done += full
		pend = pend[:copy(pend, pend[full*L:])]
	}
	_, err = c.s.expandTo(m, streamRows(&c.s.sc.rows, ready))
	c.s.sc.pend = pend
	if err != nil {
		return err
	}
	if done != n {
		return fmt.Errorf("ot: internal: %d of %d 1-of-N OTs hashed", done, n) // unreachable
	}
	return c.s.sendPayload(bw.bytes(), "1-of-N messages")
}

// writeMessages writes msgs[y] ⊕ keys[y], ell bits each, gathering as
// many as fit in one word per bitWriter call.
func writeMessages(bw *bitWriter, msgs, keys []uint64, ell int) {
	m, w := mask(uint(ell)), uint(ell)
	var acc uint64
	var nacc uint
	for y, v := range msgs {
		if nacc+w > 64 {
			bw.write(acc, nacc)
			acc, nacc = 0, 0
		}
		acc |= (v ^ keys[y]) & m << nacc
		nacc += w
	}
	if nacc > 0 {
		bw.write(acc, nacc)
	}
}

// Receive is the receiver's side of CNSender.Send: choice[i] < nn picks
// OT i's message.
func (c *CNReceiver) Receive(choice []uint8, nn, ell int) ([]uint64, error) {
	p, err := c.Start(choice, nn, ell)
	if err != nil {
		return nil, err
	}
	return p.Finish()
}

// Start is the first half of Receive: it sends the COT matrix and hashes
// the chosen keys; the returned PendingN's Finish receives the messages.
// In between the party may run other steps (its own sends), so that the
// two parties compute at the same time instead of in turn; choice must
// not change before Finish.
func (c *CNReceiver) Start(choice []uint8, nn, ell int) (*PendingN, error) {
	if err := checkN(nn, ell); err != nil {
		return nil, err
	}
	return c.StartWidths(choice, nn, uniform(len(choice), ell))
}

// StartWidths is Start with a message width per OT (CNSender.SendWidths).
func (c *CNReceiver) StartWidths(choice []uint8, nn int, widths []uint8) (*PendingN, error) {
	n := len(choice)
	bits, err := checkNWidths(nn, n, widths)
	if err != nil {
		return nil, err
	}
	L := logN(nn)
	cb := make([]byte, n*L)
	for i, x := range choice {
		if int(x) >= nn {
			return nil, fmt.Errorf("ot: choice %d is %d, want < %d", i, x, nn)
		}
		for j := range L {
			cb[i*L+j] = x >> j & 1
		}
	}
	// Each row is hashed as its chunk comes (rowWriter), under the tweak of
	// its node, into its OT's key.
	base := c.r.next // the index makeCOTTo gives the first row
	keys := make([]uint64, n)
	ready := func(first int, rows []Block) {
		tw := grow(&c.r.sc.tw, len(rows))
		for k := range rows {
			g := first + k
			i, j := g/L, g%L
			tw[k] = nodeTweak(base+uint64(g), int(choice[i])&(2<<j-1))
		}
		tccrBlocks(rows, rows, tw, &c.r.sc.tmp)
		for k, r := range rows {
			keys[(first+k)/L] ^= r.Lo
		}
	}
	_, msg, err := c.r.makeCOTTo(cb, streamRows(&c.r.sc.rows, ready))
	if err != nil {
		return nil, err
	}
	if err := c.r.c.Send(msg); err != nil {
		return nil, fmt.Errorf("ot: sending the extension matrix: %w", err)
	}
	return &PendingN{finish: func() ([]uint64, error) {
		br, err := c.r.recvPayload(bits, "1-of-N messages")
		if err != nil {
			return nil, err
		}
		return readChosenFrom(br, choice, nn, widths, keys), nil
	}}, nil
}

// readChosen receives the sender's message of bits bits (OT i's nn
// messages of widths[i] bits each) and returns, in keys, the chosen
// message of every OT unmasked by its key.
func readChosen(c transport.Conn, bits int, choice []uint8, nn int, widths []uint8, keys []uint64) ([]uint64, error) {
	br, err := recvBits(c, bits, "1-of-N messages")
	if err != nil {
		return nil, err
	}
	return readChosenFrom(br, choice, nn, widths, keys), nil
}

// readChosenFrom is readChosen on a message already received.
func readChosenFrom(br *bitReader, choice []uint8, nn int, widths []uint8, keys []uint64) []uint64 {
	for i, x := range choice {
		w := int(widths[i])
		br.skip(int(x) * w)
		keys[i] = (br.read(uint(w)) ^ keys[i]) & mask(uint(w))
		br.skip((nn - 1 - int(x)) * w)
	}
	return keys
}

// PendingN is a 1-out-of-N receive whose matrix has been sent
// (CNReceiver.Start, NReceiver.Start, Session.StartReceiveN).
type PendingN struct{ finish func() ([]uint64, error) }

// Finish receives the sender's messages and returns the chosen ones. It
// must be called once, in the order the receives were started relative
// to the peer's sends.
func (p *PendingN) Finish() ([]uint64, error) {
	if p.finish == nil {
		return nil, fmt.Errorf("ot: 1-of-N receive finished twice")
	}
	f := p.finish
	p.finish = nil
	return f()
}
