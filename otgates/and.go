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
// traffic is counted in the offline phase (made here, when the gate runs;
// a caller with idle time could make them ahead).
type tripleGen struct {
	n, k, g int     // g: 1-of-16 OTs per direction
	a, b, u []uint8 // u: the sender's r, its share of a·b_peer
	widths  []uint8
	recv    *ot.PendingN
	out     *ot.Outgoing
}

// offline runs f with p's traffic counted in the offline phase.
func (p *Party) offline(f func() error) error {
	st := p.Conn.Stats()
	prev := st.Phase()
	st.SetPhase(transport.PhaseOffline)
	defer st.SetPhase(prev)
	if err := f(); err != nil {
		return fmt.Errorf("otgates: triples: %w", err)
	}
	return nil
}

// startTriples draws the bits of n triples and sends the matrix of the
// OTs in which this party receives (its b bits are the choices).
func (p *Party) startTriples(n, k int) (*tripleGen, error) {
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
	c := make([]uint8, n*k)
	for i := range n {
		o, j := i/oleSlots, i%oleSlots
		for s := range k {
			vb := uint8(v[o] >> (j*k + s) & 1)
			c[i*k+s] = t.a[i*k+s]&t.b[i] ^ t.u[i*k+s] ^ vb
		}
	}
	return &tripleSet{a: t.a, b: t.b, c: c, k: k}, nil
}

// tripleSet is a batch of correlated triples with k a-bits per b,
// consumed in order by andShared.
type tripleSet struct {
	a, b, c []uint8
	k, next int
}

// andShared returns shares of x[i·k+j] ∧ y[i] for XOR-shared bits x (n·k)
// and y (n), k ≤ ts.k: Beaver's multiplication with the next n correlated
// triples of ts, one exchange of n·(k+1) bits each way.
func (p *Party) andShared(x, y []uint8, k int, ts *tripleSet) ([]uint8, error) {
	n := len(y)
	if k > ts.k || ts.next+n > len(ts.b) {
		return nil, fmt.Errorf("otgates: %d triples of width %d wanted, %d of width %d left", n, k, len(ts.b)-ts.next, ts.k)
	}
	K := ts.k
	a, b, c := ts.a[ts.next*K:], ts.b[ts.next:], ts.c[ts.next*K:]
	ts.next += n
	masked := make([]uint8, n*(k+1))
	for i := range n {
		for j := range k {
			masked[i*k+j] = x[i*k+j] ^ a[i*K+j]
		}
		masked[n*k+i] = y[i] ^ b[i]
	}
	open, err := p.openBits(masked)
	if err != nil {
		return nil, err
	}
	z := make([]uint8, n*k)
	for i := range n {
		f := open[n*k+i]
		for j := range k {
			e := open[i*k+j]
			z[i*k+j] = c[i*K+j] ^ e&b[i] ^ f&a[i*K+j]
			if p.ID == 0 {
				z[i*k+j] ^= e & f
			}
		}
	}
	return z, nil
}
