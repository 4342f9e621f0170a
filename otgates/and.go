package otgates

import (
	"fmt"

	"github.com/autorep/autorep/ot"
	"github.com/autorep/autorep/transport"
)

// Bit triples from 1-out-of-16 OT. A triple (a, b, c = a ∧ b), XOR-shared,
// needs the two cross terms a0·b1 and a1·b0, each a bit-OLE: the sender
// holds a, the receiver b, and they end with u ⊕ v = a ∧ b. One
// 1-out-of-2^s OT does s of them at once: the receiver's choice is its s
// bits b_1..b_s, and the sender offers, for every choice c, the s slots
// r_j ⊕ a_j·c_j (r_j its random share). The millionaires' tree wants
// correlated triples, k a-bits sharing one b (eq_hi ∧ lt_lo and
// eq_hi ∧ eq_lo share eq_hi), so a slot carries k bits. With s = 4
// (KK13 1-of-16: 32 bytes of matrix plus 16 messages of 4k bits) a
// correlated bit-OLE costs 12 bytes for k = 2 and 10 for k = 1, against
// 16 for one IKNP random OT per bit-OLE.

// oleSlots is s above.
const oleSlots = 4

// tripleGen is a batch of n correlated triples (k a-bits per b) in the
// making. Its four steps — start (this party's choice bits b out as the
// receiver's matrix), prepare (the peer's matrix in), send (this party's
// slots out), finish (the peer's slots in) — interleave with the
// comparison leaves' steps in LessThan, so that the two parties compute
// at the same time. The triples do not depend on any input, so their
// traffic is counted in the offline phase. A caller with idle time makes
// them ahead instead (MakeTriples, UseTriples).
type tripleGen struct {
	n, k, g int     // g: 1-of-16 OTs per direction
	a, b, u []uint8 // u: the sender's r, its share of a·b_peer
	widths  []uint8
	recv    *ot.PendingN
	out     *ot.Outgoing
}

// offline runs f, a step of the triples, with p's traffic counted in the
// offline phase.
func (p *Party) offline(f func() error) error { return p.offlineAs("triples", f) }

// offlineAs runs f with p's traffic counted in the offline phase; what
// names it in an error.
func (p *Party) offlineAs(what string, f func() error) error {
	st := p.Conn.Stats()
	prev := st.Phase()
	st.SetPhase(transport.PhaseOffline)
	defer st.SetPhase(prev)
	if err := f(); err != nil {
		return fmt.Errorf("otgates: %s: %w", what, err)
	}
	return nil
}

// startTriples draws the bits of n triples and sends the matrix of the
// OTs in which this party receives (its b bits are the choices).
func (p *Party) startTriples(n, k int) (*tripleGen, error) {
	if k < 1 || k > maxTripleWidth {
		return nil, fmt.Errorf("otgates: triples of width %d, want 1..%d", k, maxTripleWidth)
	}
	t := &tripleGen{n: n, k: k, g: (n + oleSlots - 1) / oleSlots}
	t.b = p.randomBits(t.g * oleSlots)[:n]
	t.a = p.randomBits(n * k)
	t.widths = make([]uint8, t.g)
	for i := range t.widths {
		t.widths[i] = uint8(oleSlots * k)
	}
	return t, p.offline(func() error {
		choice := make([]uint8, t.g)
		for i := range t.b {
			choice[i/oleSlots] |= t.b[i] << (i % oleSlots)
		}
		var err error
		t.recv, err = p.OT.StartReceiveNWidths(choice, 1<<oleSlots, t.widths)
		return err
	})
}

// prepare receives the peer's matrix of the OTs in which this party sends.
func (t *tripleGen) prepare(p *Party) error {
	return p.offline(func() (err error) {
		t.out, err = p.OT.PrepareSendN(1<<oleSlots, t.widths)
		return err
	})
}

// send sends this party's slots: OT o's message for choice ch is
// R_o ⊕ (A_o ∧ S_ch), with R_o packing the slots' random bits (slot j's k
// bits at j·k), A_o the a bits the same way and S_ch all ones in the
// slots whose bit of ch is set.
func (t *tripleGen) send(p *Party) error {
	const nn = 1 << oleSlots
	n, k := t.n, t.k
	rb := p.randomBits(t.g * oleSlots * k)
	t.u = rb[:n*k]
	var sel [nn]uint64
	for ch := range nn {
		for j := range oleSlots {
			if ch>>j&1 == 1 {
				sel[ch] |= (1<<uint(k) - 1) << uint(j*k)
			}
		}
	}
	w := oleSlots * k
	gen := func(o int, out []uint64) {
		var r, am uint64
		for x, bit := range rb[o*w : o*w+w] {
			r |= uint64(bit) << uint(x)
		}
		if lo := o * w; lo < n*k {
			for x, bit := range t.a[lo:min(lo+w, n*k)] {
				am |= uint64(bit) << uint(x)
			}
		}
		for ch := range out {
			out[ch] = r ^ am&sel[ch]
		}
	}
	return p.offline(func() error { return t.out.SendFunc(gen) })
}

// finish receives the peer's slots and returns the triples.
func (t *tripleGen) finish(p *Party) (*tripleSet, error) {
	var v []uint64 // received slots: share of a_peer·b
	if err := p.offline(func() (err error) { v, err = t.recv.Finish(); return err }); err != nil {
		return nil, err
	}
	n, k := t.n, t.k
	w := make([]uint8, n)
	for i := range n {
		o, j := i/oleSlots, i%oleSlots
		x := t.b[i] << tripleB
		for s := range k {
			vb := uint8(v[o] >> (j*k + s) & 1)
			a := t.a[i*k+s]
			x |= a<<s | (a&t.b[i]^t.u[i*k+s]^vb)<<(tripleC+s)
		}
		w[i] = x
	}
	return &tripleSet{w: w, k: k}, nil
}

// A triple of width k ≤ maxTripleWidth packs into one byte: a_j at bit
// j, b at bit tripleB, c_j at bit tripleC+j.
const (
	maxTripleWidth = 3
	tripleB        = 3
	tripleC        = 4
)

// tripleSet is a batch of correlated triples with k a-bits per b,
// consumed in order by andShared.
type tripleSet struct {
	w       []uint8 // one packed triple per byte
	k, next int
}

// andShared returns shares of x[i·k+j] ∧ y[i] for XOR-shared bits x (n·k)
// and y (n), k ≤ ts.k: Beaver's multiplication with the next n correlated
// triples of ts, one exchange of n·(k+1) bits each way.
func (p *Party) andShared(x, y []uint8, k int, ts *tripleSet) ([]uint8, error) {
	n := len(y)
	if k > ts.k || ts.next+n > len(ts.w) {
		return nil, fmt.Errorf("otgates: %d triples of width %d wanted, %d of width %d left", n, k, len(ts.w)-ts.next, ts.k)
	}
	w := ts.w[ts.next : ts.next+n]
	ts.next += n
	masked := make([]uint8, n*(k+1))
	for i, t := range w {
		for j := range k {
			masked[i*k+j] = x[i*k+j] ^ t>>j&1
		}
		masked[n*k+i] = y[i] ^ t>>tripleB&1
	}
	open, err := p.openBits(masked)
	if err != nil {
		return nil, err
	}
	z := make([]uint8, n*k)
	for i, t := range w {
		f, b := open[n*k+i], t>>tripleB&1
		for j := range k {
			e := open[i*k+j]
			z[i*k+j] = t>>(tripleC+j)&1 ^ e&b ^ f&(t>>j&1)
			if p.ID == 0 {
				z[i*k+j] ^= e & f
			}
		}
	}
	return z, nil
}

// Triples is a store of bit triples made ahead of the gates that consume
// them (MakeTriples): a Party using it (UseTriples) takes each
// comparison's AND-tree triples from it instead of making them while the
// comparison runs, so the comparison sends no offline traffic. The
// triples do not depend on any input. Single use: a triple taken is gone.
type Triples struct {
	w    []uint8 // packed triples of width lessThanWidth
	next int
}

// Len returns the number of triples left.
func (t *Triples) Len() int {
	if t == nil {
		return 0
	}
	return len(t.w) - t.next
}

// take removes the next n triples.
func (t *Triples) take(n int) (*tripleSet, error) {
	if t.Len() < n {
		return nil, fmt.Errorf("otgates: %d bit triples wanted, %d left of those made ahead", n, t.Len())
	}
	ts := &tripleSet{w: t.w[t.next : t.next+n : t.next+n], k: lessThanWidth}
	if t.next += n; t.next == len(t.w) {
		t.w, t.next = nil, 0 // used up: the memory goes with the last taker
	}
	return ts, nil
}

// UseTriples makes p's gates take their bit triples from t (nil: make
// them while they run, counted in transport.PhaseOffline). A gate that
// needs more triples than t holds fails (the peers' counts are alike, so
// both fail at the same gate).
func (p *Party) UseTriples(t *Triples) { p.store = t }

// maxTripleBatch bounds the triples MakeTriples makes per exchange, so
// that its transient memory (about 8 bytes per triple beside the byte
// kept) does not grow with the request. A variable for tests.
var maxTripleBatch = 1 << 20

// MakeTriples makes ahead, for each count, a store of that many bit
// triples of the kind LessThan's AND tree consumes, in exchanges of at
// most maxTripleBatch triples over all the stores in order (two rounds
// each; the traffic counted in transport.PhaseOffline). Both parties
// call it with the same counts, before MakeCOTs (or after DropCOTs). A
// store keeps one byte per triple.
func (p *Party) MakeTriples(counts []int) ([]*Triples, error) {
	if p.pooling() {
		// Their OTs would draw on COTs counted for the gates.
		return nil, fmt.Errorf("otgates: bit triples made while COTs made ahead are installed (make the triples first, or DropCOTs)")
	}
	total := 0
	out := make([]*Triples, len(counts))
	for i, c := range counts {
		if c < 0 {
			return nil, fmt.Errorf("otgates: %d bit triples asked for", c)
		}
		out[i] = &Triples{w: make([]uint8, c)}
		total += c
	}
	dst, off := 0, 0 // the store being filled, and how far
	for made := 0; made < total; {
		m := min(maxTripleBatch, total-made)
		ts, err := p.tripleBatch(m)
		if err != nil {
			return nil, err
		}
		for w := ts.w; len(w) > 0; {
			for off == len(out[dst].w) {
				dst, off = dst+1, 0
			}
			c := copy(out[dst].w[off:], w)
			w, off = w[c:], off+c
		}
		made += m
	}
	return out, nil
}

// tripleBatch makes n triples of width lessThanWidth in one exchange:
// both parties send their receiver's matrix, then their slots
// (asynchronous sends, so neither waits on the other's large message).
func (p *Party) tripleBatch(n int) (*tripleSet, error) {
	var ts *tripleSet
	err := p.interleaved(func() error {
		tg, err := p.startTriples(n, lessThanWidth)
		if err == nil {
			err = tg.prepare(p)
		}
		if err == nil {
			err = tg.send(p)
		}
		if err == nil {
			ts, err = tg.finish(p)
		}
		return err
	})
	return ts, err
}
