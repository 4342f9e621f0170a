package otgates

import "fmt"

// Poly2 returns shares of the degree-2 polynomial with party 0's secret
// coefficients, ⌊(a·⌊x²/2^f⌋ + b·x + c)/2^f⌋ mod 2^ℓ: a, b at scale 2^f and
// c at scale 2^(2f), one per element, known to party 0 only (party 1 passes
// nil for all three); x is shared at scale 2^f with x² < 2^(ℓ−1) and the
// polynomial's value at scale 2^(2f) within the signed ℓ−2-bit range. The
// result is one of the values the two one-unit truncation errors allow
// (⌊x²/2^f⌋ may be one less, and so may the final shift), as Trunc's.
//
// Gilboa's products x0·x1 (for x²) and b·x1 use the same multiplier bits
// x1, so they share one batch of ℓ correlated OTs, each carrying both
// correlations (ot.Sender.SendCorrelatedPair); the known-sign truncation
// of x², a·y by MulPrivate and the final signed truncation follow: 2ℓ OTs,
// ℓ² + ℓ(ℓ+1)/2 bits of payload and two bit products, 4 rounds.
func (p *Party) Poly2(a, b, c, x []uint64, ell, f int) ([]uint64, error) {
	if err := checkEll(ell); err != nil {
		return nil, err
	}
	if f < 1 || 2*f > ell-2 {
		return nil, fmt.Errorf("otgates: poly2: %d fractional bits in ℓ = %d (want 1 ≤ 2f ≤ ℓ−2)", f, ell)
	}
	n := len(x)
	if p.ID == 0 && (len(a) != n || len(b) != n || len(c) != n) {
		return nil, fmt.Errorf("otgates: poly2: %d, %d, %d coefficients for %d shares", len(a), len(b), len(c), n)
	}
	m := mask(ell)
	sq, bx, err := p.squareAndScale(x, b, ell)
	if err != nil {
		return nil, fmt.Errorf("otgates: poly2: %w", err)
	}
	y, err := p.TruncNonNeg(sq, ell, f)
	if err != nil {
		return nil, fmt.Errorf("otgates: poly2: %w", err)
	}
	ay, err := p.MulPrivate(a, y, ell)
	if err != nil {
		return nil, fmt.Errorf("otgates: poly2: %w", err)
	}
	z := make([]uint64, n)
	for i := range z {
		z[i] = ay[i] + bx[i]
		if p.ID == 0 {
			z[i] += c[i]
		}
		z[i] &= m
	}
	return p.Trunc(z, ell, f)
}

// squareAndScale returns shares of x² and of b·x mod 2^ℓ (b party 0's,
// nil for party 1) from one batch of ℓ correlated OTs on party 1's bits of
// x1: OT j carries x0 mod 2^(ℓ−1−j) (the doubled cross term of x², none
// for j = ℓ−1) and b mod 2^(ℓ−j).
func (p *Party) squareAndScale(x, b []uint64, ell int) (sq, bx []uint64, err error) {
	n := len(x)
	m := mask(ell)
	sq, bx = make([]uint64, n), make([]uint64, n)
	for i, v := range x {
		sq[i] = v * v & m
	}
	if n == 0 {
		return sq, bx, nil
	}
	w0, w1 := make([]uint8, n*ell), make([]uint8, n*ell)
	for i := range n {
		for j := range ell {
			w0[i*ell+j] = uint8(max(ell-1-j, 0))
			w1[i*ell+j] = uint8(ell - j)
		}
	}
	// Each side's share of a Gilboa product is ∓Σ_j 2^j·(its value of OT j).
	fold := func(v []uint64, i int, sign uint64) uint64 {
		var s uint64
		for j := range ell {
			s += v[i*ell+j] << uint(j)
		}
		return sign * s
	}
	if p.ID == 0 {
		d0, d1 := make([]uint64, n*ell), make([]uint64, n*ell)
		for i := range n {
			for j := range ell {
				d0[i*ell+j], d1[i*ell+j] = x[i], b[i]
			}
		}
		X, Y, err := p.OT.MulSend.SendCorrelatedPair(d0, d1, w0, w1)
		if err != nil {
			return nil, nil, err
		}
		for i := range n {
			sq[i] = (sq[i] + 2*fold(X, i, ^uint64(0))) & m
			bx[i] = (b[i]*x[i] + fold(Y, i, ^uint64(0))) & m
		}
		return sq, bx, nil
	}
	choice := make([]uint8, n*ell)
	for i := range n {
		for j := range ell {
			choice[i*ell+j] = uint8(x[i] >> uint(j) & 1)
		}
	}
	X, Y, err := p.OT.MulRecv.ReceiveCorrelatedPair(choice, w0, w1)
	if err != nil {
		return nil, nil, err
	}
	for i := range n {
		sq[i] = (sq[i] + 2*fold(X, i, 1)) & m
		bx[i] = fold(Y, i, 1) & m
	}
	return sq, bx, nil
}
