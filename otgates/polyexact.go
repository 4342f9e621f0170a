package otgates

import "fmt"

// Poly2Exact is Poly2 with exact truncations: shares of exactly
// ⌊(a·⌊x²/2^f⌋ + b·x + c)/2^f⌋ mod 2^ℓ (TruncExactNonNeg for x², TruncExact
// for the sum), so a deterministic fixed-point executor computes the same
// value. Same conditions as Poly2: x² < 2^(ℓ−1), the sum in the signed
// ℓ−2-bit range, |a| < 2^(PolyCoefBits−1) at scale 2^f. Cost: Poly2's plus
// the two carries (a LessThan of f bits and a B2A each).
func (p *Party) Poly2Exact(a, b, c, x []uint64, ell, f int) ([]uint64, error) {
	if err := checkPolyArgs("poly2", p.ID, ell, f, len(x), a, b, c); err != nil {
		return nil, err
	}
	return p.poly2(a, b, c, x, ell, f, p.TruncExactNonNeg, p.TruncExact)
}

// Poly1Exact returns shares of exactly ⌊(b·x + c)/2^f⌋ mod 2^ℓ, the
// degree-1 case of Poly2Exact without the square: b (scale 2^f, |b| <
// 2^(PolyCoefBits−1)) and c (scale 2^(2f)) are party 0's (party 1 passes
// nil for both), x is shared at scale 2^f and the sum must stay in the
// signed ℓ−2-bit range. b·x is one mulCoef on the f + PolyCoefBits bits of
// b (no round of its own), then one TruncExact.
func (p *Party) Poly1Exact(b, c, x []uint64, ell, f int) ([]uint64, error) {
	if err := checkPolyArgs("poly1", p.ID, ell, f, len(x), b, c); err != nil {
		return nil, err
	}
	ab := min(f+PolyCoefBits, ell)
	if p.ID == 0 {
		if err := checkCoef("poly1", "b", b, ell, f, ab); err != nil {
			return nil, err
		}
	}
	z, err := p.mulCoef(b, x, ell, ab)
	if err != nil {
		return nil, fmt.Errorf("otgates: poly1: %w", err)
	}
	if p.ID == 0 {
		m := mask(ell)
		for i := range z {
			z[i] = (z[i] + c[i]) & m
		}
	}
	return p.TruncExact(z, ell, f)
}

// checkPolyArgs checks ℓ, the scale (1 ≤ 2f ≤ ℓ−2) and that party 0 has one
// of each coefficient per share.
func checkPolyArgs(gate string, id, ell, f, n int, coefs ...[]uint64) error {
	if err := checkEll(ell); err != nil {
		return err
	}
	if f < 1 || 2*f > ell-2 {
		return fmt.Errorf("otgates: %s: %d fractional bits in ℓ = %d (want 1 ≤ 2f ≤ ℓ−2)", gate, f, ell)
	}
	if id == 0 {
		for _, c := range coefs {
			if len(c) != n {
				return fmt.Errorf("otgates: %s: %d coefficients for %d shares", gate, len(c), n)
			}
		}
	}
	return nil
}
