package otgates

import "fmt"

// Poly2 returns shares of the degree-2 polynomial with party 0's secret
// coefficients, ⌊(a·⌊x²/2^f⌋ + b·x + c)/2^f⌋ mod 2^ℓ: a, b at scale 2^f and
// c at scale 2^(2f), one per element, known to party 0 only (party 1 passes
// nil for all three); x is shared at scale 2^f with x² < 2^(ℓ−1) and the
// polynomial's value at scale 2^(2f) within the signed ℓ−2-bit range. The
// result is one of the values the two centred truncations allow (each is
// ⌊(v + 2^(f−1))/2^f⌋ or one less, as Trunc's: within one unit of the
// floor, of mean error 2^−(f+1)).
//
// Gilboa's products x0·x1 (for x²) and b·x1 use the same multiplier bits
// x1, so they share one batch of ℓ correlated OTs, each carrying both
// correlations (ot.Sender.SendCorrelatedPair); the known-sign truncation
// of x², a·y on the bits of a (mulCoef: |a| < 2^(f+PolyCoefBits−1), so
// f + PolyCoefBits OTs, not ℓ) and the final signed truncation follow:
// ℓ + f + PolyCoefBits OTs, ℓ² bits and those of a·y, two bit products, 3
// rounds. A coefficient a outside that range is an error.
func (p *Party) Poly2(a, b, c, x []uint64, ell, f int) ([]uint64, error) {
	if err := checkPolyArgs("poly2", p.ID, ell, f, len(x), a, b, c); err != nil {
		return nil, err
	}
	return p.poly2(a, b, c, x, ell, f, p.TruncNonNeg, p.Trunc)
}

// poly2 is Poly2 with the given known-sign truncation of x² and signed
// final truncation (the one-unit ones or the exact ones).
func (p *Party) poly2(a, b, c, x []uint64, ell, f int, truncNN, trunc func([]uint64, int, int) ([]uint64, error)) ([]uint64, error) {
	n := len(x)
	m := mask(ell)
	ab := min(f+PolyCoefBits, ell)
	if p.ID == 0 {
		// Checked before any message, so party 0 fails before the
		// protocol starts (party 1 then sees a closed connection).
		if err := checkCoef("poly2", "a", a, ell, f, ab); err != nil {
			return nil, err
		}
	}
	sq, bx, err := p.squareAndScale(x, b, ell)
	if err != nil {
		return nil, fmt.Errorf("otgates: poly2: %w", err)
	}
	y, err := truncNN(sq, ell, f)
	if err != nil {
		return nil, fmt.Errorf("otgates: poly2: %w", err)
	}
	ay, err := p.mulCoef(a, y, ell, ab)
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
	return trunc(z, ell, f)
}

// checkCoef returns an error naming the first of party 0's coefficients
// (scaled by 2^f) outside mulCoef's range [−2^(ab−1), 2^(ab−1)).
func checkCoef(gate, name string, a []uint64, ell, f, ab int) error {
	m := mask(ell)
	off := uint64(1) << uint(ab-1)
	for i := range a {
		if (a[i]+off)&m >= 2*off {
			return fmt.Errorf("otgates: %s: coefficient %s[%d] is %d (scaled by 2^%d), outside [−2^%d, 2^%d)", gate, name, i, int64(a[i]<<uint(64-ell))>>uint(64-ell), f, ab-1, ab-1)
		}
	}
	return nil
}

// PolyCoefBits is the public bound on Poly2's a beyond its scale: a
// encoded at f fractional bits must lie in [−2^(f+PolyCoefBits−1),
// 2^(f+PolyCoefBits−1)), |a| < 4.0 (a ReLU fit's x² coefficient is below
// 1). Its bits are the multiplier of a·y, so the bound is part of the
// protocol (like ℓ and f) and the cost.
const PolyCoefBits = 3

// mulCoef returns shares of a·y mod 2^ℓ for party 0's a (party 1 passes
// nil) in [−2^(ab−1), 2^(ab−1)) (the caller checks), ab ≤ ℓ, and shared y, by Gilboa's product on the
// ab bits of a' = a + 2^(ab−1) ≥ 0 (party 0 chooses, party 1 sends y1 mod
// 2^(ℓ−j) for bit j): a'·y1 − 2^(ab−1)·y1 = a·y1, the second term party
// 1's own. ab OTs and Σ_j (ℓ−j) bits instead of MulPrivate's ℓ OTs; party
// 0's choices do not depend on the input, so its OT matrix goes out with
// its previous message (no round of its own).
func (p *Party) mulCoef(a, y []uint64, ell, ab int) ([]uint64, error) {
	n := len(y)
	m := mask(ell)
	out := make([]uint64, n)
	if n == 0 {
		return out, nil
	}
	off := uint64(1) << uint(ab-1)
	widths := make([]uint8, n*ab)
	for i := range n {
		for j := range ab {
			widths[i*ab+j] = uint8(ell - j)
		}
	}
	if p.ID == 0 {
		choice := make([]uint8, n*ab)
		for i := range n {
			ap := (a[i] + off) & m // in [0, 2^ab): Poly2 checked the range
			for j := range ab {
				choice[i*ab+j] = uint8(ap >> uint(j) & 1)
			}
		}
		R, err := p.OT.MulRecv.ReceiveCorrelatedWidths(choice, widths)
		if err != nil {
			return nil, err
		}
		for i := range n {
			s := a[i] * y[i]
			for j := range ab {
				s += R[i*ab+j] << uint(j)
			}
			out[i] = s & m
		}
		return out, nil
	}
	delta := make([]uint64, n*ab)
	for i := range n {
		for j := range ab {
			delta[i*ab+j] = y[i]
		}
	}
	X, err := p.OT.MulSend.SendCorrelatedWidths(delta, widths)
	if err != nil {
		return nil, err
	}
	for i := range n {
		s := -off * y[i]
		for j := range ab {
			s -= X[i*ab+j] << uint(j)
		}
		out[i] = s & m
	}
	return out, nil
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
