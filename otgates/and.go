package otgates

import (
	"fmt"

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

// triples returns this party's shares of n correlated triples: a (n·k
// bits, group i at a[i·k:]), b (n bits), c = a ∧ b (n·k bits).
func (p *Party) triples(n, k int) (a, b, c []uint8, err error) {
	g := (n + oleSlots - 1) / oleSlots // OTs per direction
	b = p.randomBits(g * oleSlots)[:n]
	a = p.randomBits(n * k)
	u := make([]uint8, n*k) // sender's r: its share of a·b_peer
	var v []uint64          // received slots: share of a_peer·b
	const nn = 1 << oleSlots
	send := func() error {
		rb := p.randomBits(g * oleSlots * k)
		copy(u, rb)
		// OT o's message for choice ch is R_o ⊕ (A_o ∧ S_ch): R_o packs
		// the slots' random bits (slot j's k bits at j·k), A_o the a bits
		// the same way, S_ch is all ones in the slots whose bit of ch is
		// set.
		var sel [nn]uint64
		for ch := range nn {
			for j := range oleSlots {
				if ch>>j&1 == 1 {
					sel[ch] |= (1<<uint(k) - 1) << uint(j*k)
				}
			}
		}
		w := oleSlots * k
		msgs := make([]uint64, g*nn)
		for o := range g {
			var r, am uint64
			for t, bit := range rb[o*w : o*w+w] {
				r |= uint64(bit) << uint(t)
			}
			if lo := o * w; lo < n*k {
				for t, bit := range a[lo:min(lo+w, n*k)] {
					am |= uint64(bit) << uint(t)
				}
			}
			for ch := range nn {
				msgs[o*nn+ch] = r ^ am&sel[ch]
			}
		}
		return p.OT.SendN(msgs, nn, w)
	}
	recv := func() error {
		choice := make([]uint8, g)
		for i := range b {
			choice[i/oleSlots] |= b[i] << (i % oleSlots)
		}
		var err error
		v, err = p.OT.ReceiveN(choice, nn, oleSlots*k)
		return err
	}
	if err := p.both(send, recv); err != nil {
		return nil, nil, nil, err
	}
	c = make([]uint8, n*k)
	for i := range n {
		o, j := i/oleSlots, i%oleSlots
		for t := range k {
			vb := uint8(v[o] >> (j*k + t) & 1)
			c[i*k+t] = a[i*k+t]&b[i] ^ u[i*k+t] ^ vb
		}
	}
	return a, b, c, nil
}

// tripleSet is a batch of correlated triples with k a-bits per b,
// consumed in order by andShared.
type tripleSet struct {
	a, b, c []uint8
	k, next int
}

// newTriples makes n correlated triples with k a-bits each. They do not
// depend on any input, so their traffic is counted in the offline phase
// (made here, when the gate runs; a caller with idle time could make them
// ahead).
func (p *Party) newTriples(n, k int) (*tripleSet, error) {
	st := p.Conn.Stats()
	prev := st.Phase()
	st.SetPhase(transport.PhaseOffline)
	defer st.SetPhase(prev)
	a, b, c, err := p.triples(n, k)
	if err != nil {
		return nil, fmt.Errorf("otgates: triples: %w", err)
	}
	return &tripleSet{a: a, b: b, c: c, k: k}, nil
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
