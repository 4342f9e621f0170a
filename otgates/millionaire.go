package otgates

import "fmt"

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

// LessThan compares the two parties' private values: party 0 holds a,
// party 1 holds b (each bits wide, 1 ≤ bits ≤ 64); both get XOR shares of
// 1{a[i] < b[i]} (unsigned). Party 0 is the 1-out-of-16 OT sender.
//
// Leaves: for digit j of a, party 0 draws share bits lt0, eq0 and offers,
// for every digit value v of b, (lt0 ⊕ 1{a_j < v}, eq0 ⊕ 1{a_j = v});
// party 1 picks v = b_j. Tree: digits are merged in pairs, most
// significant first, by lt = lt_hi ⊕ (eq_hi ∧ lt_lo), eq = eq_hi ∧ eq_lo
// (the two ANDs share eq_hi, one correlated triple pair); the last merge
// needs lt only.
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
	if p.ID == 0 {
		p.prg.Bits(lt)
		p.prg.Bits(eq)
		if cap(p.msgBuf) < n*q*nn {
			p.msgBuf = make([]uint64, n*q*nn)
		}
		msgs := p.msgBuf[:n*q*nn] // every word is written below
		for i, x := range v {
			for j := range q {
				// leafMsgs[d][y] = 1{d < y} | 1{d = y}<<1, masked by the
				// shares (lt0, eq0).
				s := uint64(lt[i*q+j]) | uint64(eq[i*q+j])<<1
				row := &leafMsgs[digit(x, j)]
				out := msgs[(i*q+j)*nn : (i*q+j+1)*nn : (i*q+j+1)*nn]
				for y := range out {
					out[y] = row[y] ^ s
				}
			}
		}
		if err := p.OT.SendN(msgs, nn, 2); err != nil {
			return nil, fmt.Errorf("otgates: comparison leaves: %w", err)
		}
	} else {
		choice := make([]uint8, n*q)
		for i, x := range v {
			for j := range q {
				choice[i*q+j] = uint8(digit(x, j))
			}
		}
		got, err := p.OT.ReceiveN(choice, nn, 2)
		if err != nil {
			return nil, fmt.Errorf("otgates: comparison leaves: %w", err)
		}
		for k, g := range got {
			lt[k], eq[k] = uint8(g&1), uint8(g>>1)
		}
	}
	// AND tree over the digits of every element at once, on triples made
	// for all levels in one batch.
	total := 0
	for l := q; l > 1; l = (l + 1) / 2 {
		total += n * (l / 2)
	}
	var ts *tripleSet
	if total > 0 {
		var err error
		if ts, err = p.newTriples(total, 2); err != nil {
			return nil, err
		}
	}
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
