package otgates

import (
	"fmt"

	"github.com/autorep/autorep/ot"
)

// LeafBits is the digit width m of the millionaires' protocol: each
// ℓ-bit comparison is split into ⌈ℓ/m⌉ digits compared by one
// 1-out-of-2^m OT each. m = 4 is CrypTFlow2's choice for IKNP-based OT:
// a 1-of-16 OT costs 32 bytes of KK13 matrix plus 16·2 message bits, and
// every extra digit adds an AND-tree node of two correlated triples.
const LeafBits = 4

// leafMsgs[d][y] is a leaf's message before masking: 1{d < y} in bit 0,
// 1{d = y} in bit 1.
var leafMsgs = func() (t [1 << LeafBits][1 << LeafBits]uint64) {
	for d := range t {
		for y := range t[d] {
			if d < y {
				t[d][y] |= 1
			}
			if d == y {
				t[d][y] |= 2
			}
		}
	}
	return t
}()

// leafMsgsRev[d][y] = leafMsgs[y][d]: the leaf table when the OT sender
// holds the larger side b (digit d) and the receiver a (digit y):
// 1{y < d} in bit 0, 1{y = d} in bit 1.
var leafMsgsRev = func() (t [1 << LeafBits][1 << LeafBits]uint64) {
	for d := range t {
		for y := range t[d] {
			t[d][y] = leafMsgs[y][d]
		}
	}
	return t
}()

// lessThanWidth is the width (a-bits per b) of LessThan's triples: the
// two ANDs of a tree node share eq_hi.
const lessThanWidth = 2

// LessThanTriples returns the number of bit triples LessThan of n values
// of the given width consumes: per element, one per digit pair of every
// level of the AND tree.
func LessThanTriples(n, bits int) int {
	if n <= 0 || bits < 1 {
		return 0
	}
	total := 0
	for l := (bits + LeafBits - 1) / LeafBits; l > 1; l = (l + 1) / 2 {
		total += n * (l / 2)
	}
	return total
}

// LessThan compares the two parties' private values: party 0 holds a,
// party 1 holds b (each bits wide, 1 ≤ bits ≤ 64); both get XOR shares of
// 1{a[i] < b[i]} (unsigned).
//
// Leaves: for digit j, the OT sender draws share bits lt_s, eq_s and
// offers, for every digit value v of the receiver, (lt_s ⊕ 1{a_j < b_j},
// eq_s ⊕ 1{a_j = b_j}) with the receiver's digit set to v; the receiver
// picks its own digit. Party 0 is the sender for the first half of the
// elements and party 1 for the rest (with the table transposed), so the
// two parties do the same work at the same time; the bit triples of the
// tree are taken from the store made ahead (UseTriples), else made in the
// same messages' rounds (tripleGen). Tree: digits are
// merged in pairs, most significant first, by lt = lt_hi ⊕ (eq_hi ∧
// lt_lo), eq = eq_hi ∧ eq_lo (the two ANDs share eq_hi, one correlated
// triple pair); the last merge needs lt only.
func (p *Party) LessThan(v []uint64, bits int) ([]uint8, error) {
	if bits < 1 || bits > 64 {
		return nil, fmt.Errorf("otgates: comparison width %d bits, want 1..64", bits)
	}
	n := len(v)
	if n == 0 {
		return nil, nil
	}
	q := (bits + LeafBits - 1) / LeafBits
	const nn = 1 << LeafBits
	lt := make([]uint8, n*q) // element i, digit j at i*q+j
	eq := make([]uint8, n*q)
	digit := func(x uint64, j int) uint64 {
		w := min(LeafBits, bits-j*LeafBits)
		return x >> uint(j*LeafBits) & (1<<uint(w) - 1)
	}
	// Party 0 sends the leaves of elements [0, n0), party 1 those of
	// [n0, n). A single digit (no tree, no triples) is not split: its
	// leaves alone would then take two rounds instead of one.
	n0 := n
	if q > 1 {
		n0 = (n + 1) / 2
	}
	sLo, sHi, rLo, rHi := 0, n0, n0, n // this party's sender and receiver elements
	table := &leafMsgs
	if p.ID == 1 {
		sLo, sHi, rLo, rHi = n0, n, 0, n0
		table = &leafMsgsRev
	}
	// The AND tree's triples, for all levels in one batch.
	total := LessThanTriples(n, bits)
	var leafIn *ot.PendingN
	var leafOut *ot.Outgoing
	var tg *tripleGen
	var ts *tripleSet
	if total > 0 && p.store != nil {
		var err error
		if ts, err = p.store.take(total); err != nil {
			return nil, err
		}
	}
	widths := func(m int) []uint8 {
		w := make([]uint8, m)
		for i := range w {
			w[i] = 2
		}
		return w
	}
	startLeaves := func() (err error) {
		if rLo == rHi {
			return nil
		}
		choice := make([]uint8, (rHi-rLo)*q)
		for i, x := range v[rLo:rHi] {
			for j := range q {
				choice[i*q+j] = uint8(digit(x, j))
			}
		}
		leafIn, err = p.OT.StartReceiveNWidths(choice, nn, widths(len(choice)))
		return err
	}
	prepareLeaves := func() (err error) {
		if sLo < sHi {
			leafOut, err = p.OT.PrepareSendN(nn, widths((sHi-sLo)*q))
		}
		return err
	}
	sendLeaves := func() error {
		if sLo == sHi {
			return nil
		}
		p.prg.Bits(lt[sLo*q : sHi*q])
		p.prg.Bits(eq[sLo*q : sHi*q])
		// OT o is digit o mod q of element sLo + o/q: the table's row of
		// this party's digit, masked by the shares (lt_s, eq_s).
		return leafOut.SendFunc(func(o int, out []uint64) {
			k := sLo*q + o
			s := uint64(lt[k]) | uint64(eq[k])<<1
			row := &table[digit(v[k/q], k%q)]
			for y := range out {
				out[y] = row[y] ^ s
			}
		})
	}
	finishLeaves := func() error {
		if rLo == rHi {
			return nil
		}
		got, err := leafIn.Finish()
		if err != nil {
			return err
		}
		for k, g := range got {
			lt[rLo*q+k], eq[rLo*q+k] = uint8(g&1), uint8(g>>1)
		}
		return nil
	}
	startTriples := func() (err error) {
		if total > 0 && ts == nil {
			tg, err = p.startTriples(total, lessThanWidth)
		}
		return err
	}
	triples := func(f func() error) error {
		if tg == nil {
			return nil
		}
		return f()
	}
	// The order of the steps makes every message meet a reader (see
	// orderedConn): party 0 sends its two matrices in one burst and its
	// two answers in another, party 1 takes each of party 0's messages
	// before it sends the next.
	var steps []func() error
	if p.ID == 0 {
		steps = []func() error{startLeaves, startTriples, prepareLeaves, func() error { return triples(func() error { return tg.prepare(p) }) },
			sendLeaves, func() error { return triples(func() error { return tg.send(p) }) }, finishLeaves}
	} else {
		steps = []func() error{startLeaves, prepareLeaves, startTriples, func() error { return triples(func() error { return tg.prepare(p) }) },
			sendLeaves, finishLeaves, func() error { return triples(func() error { return tg.send(p) }) }}
	}
	steps = append(steps, func() error {
		return triples(func() (err error) { ts, err = tg.finish(p); return err })
	})
	if err := p.interleaved(func() error {
		for _, f := range steps {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("otgates: comparison leaves: %w", err)
	}
	// AND tree over the digits of every element at once, on triples made
	// for all levels in one batch.
	for q > 1 {
		pairs := q / 2
		final := q == 2
		k := 2
		if final {
			k = 1
		}
		x := make([]uint8, 0, n*pairs*k) // lt_lo (and eq_lo)
		y := make([]uint8, 0, n*pairs)   // eq_hi
		for i := range n {
			for t := range pairs {
				lo, hi := i*q+2*t, i*q+2*t+1
				x = append(x, lt[lo])
				if !final {
					x = append(x, eq[lo])
				}
				y = append(y, eq[hi])
			}
		}
		z, err := p.andShared(x, y, k, ts)
		if err != nil {
			return nil, fmt.Errorf("otgates: comparison tree: %w", err)
		}
		nq := (q + 1) / 2
		nlt := make([]uint8, n*nq)
		neq := make([]uint8, n*nq)
		for i := range n {
			for t := range pairs {
				hi := i*q + 2*t + 1
				g := (i*pairs + t) * k
				nlt[i*nq+t] = lt[hi] ^ z[g]
				if !final {
					neq[i*nq+t] = z[g+1]
				}
			}
			if q%2 == 1 { // the top digit has no partner: it moves up
				nlt[i*nq+nq-1] = lt[i*q+q-1]
				neq[i*nq+nq-1] = eq[i*q+q-1]
			}
		}
		lt, eq, q = nlt, neq, nq
	}
	return lt, nil
}
