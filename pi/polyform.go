package pi

import (
	"fmt"
	"math/big"
	"math/bits"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/otgates"
)

// PolyNarrow is the narrow fixed-point form of the activation polynomials
// (Public.Poly), the two-party suite's: s = ⌊t²/2^f⌋, then
// p = ⌊(a·s + b·t + c)/2^f⌋ with a = C2 at f, b = C1 rounded to f and c =
// C0 rounded to 2f fractional bits (narrowCoef). Its values stay below
// 2^(2f + value bits), where the default form ⌊(C2·t² + C1·t + C0)/2^2f⌋
// (mpc.PolyCoefs.Eval, the dealer suite's) needs 3f + value bits, so the
// share width ℓ of every gate of a layer is f bits smaller. Both parties'
// gates (otgates.Poly2Exact, Poly1Exact) and EvalFixed compute it exactly.
const PolyNarrow = "narrow"

// PolyFormFor returns the polynomial form a suite computes by default
// (Config.Poly): PolyHE for SuiteTwoParty (with TruncFor's faithful
// mode; SuiteForms gives the narrow form for exact truncations), "" (the
// default form) for the dealer suite.
func PolyFormFor(suite string) string {
	if suiteName(suite) == SuiteTwoParty {
		return PolyHE
	}
	return ""
}

// validPolyForm returns nil for a known polynomial form.
func validPolyForm(form string) error {
	if form != "" && form != PolyNarrow && form != PolyHE {
		return fmt.Errorf("pi: unknown polynomial form %q (known: default \"\", %q, %q)", form, PolyNarrow, PolyHE)
	}
	return nil
}

// narrowCoef returns channel ch's coefficients of the narrow form: a = C2
// (already at f fractional bits), b = C1 rounded from 2f to f bits and c =
// C0 rounded from 3f to 2f bits (f ≥ 1).
func narrowCoef(coef mpc.PolyCoefs, ch int, f uint) (a, b, c uint64) {
	half := uint64(1) << (f - 1)
	return coef[3*ch+2], uint64(int64(coef[3*ch+1]+half) >> f), uint64(int64(coef[3*ch]+half) >> f)
}

// sqTrunc is ⌊t²/2^f⌋ mod 2^64 for signed t (1 ≤ f < 64), from the 128-bit
// square.
func sqTrunc(t uint64, f uint) uint64 {
	v := int64(t)
	if v < 0 {
		v = -v
	}
	hi, lo := bits.Mul64(uint64(v), uint64(v))
	return hi<<(64-f) | lo>>f
}

// evalNarrow is the narrow form's value at t (scale f) in Z_2^64: the
// two-party gates' value whenever it fits their width.
func evalNarrow(a, b, c, t uint64, f uint) uint64 {
	return uint64(int64(a*sqTrunc(t, f)+b*t+c) >> f)
}

// narrowWidth returns the share width the narrow form's gates need at t:
// t² < 2^(ℓ−1) for the known-sign truncation of the square (unless the
// step is of degree 1), |a·s + b·t + c| < 2^(ℓ−2) for the final one,
// computed without wrapping.
func narrowWidth(a, b, c, t uint64, f uint, deg1 bool) int {
	var u, s, k big.Int
	tv := k.SetInt64(int64(t))
	s.Mul(tv, tv)
	need := 0
	if !deg1 {
		need = s.BitLen() + 1
	}
	s.Rsh(&s, f) // ⌊t²/2^f⌋ (t² ≥ 0)
	u.Mul(&s, big.NewInt(int64(a)))
	u.Add(&u, new(big.Int).Mul(tv, big.NewInt(int64(b))))
	u.Add(&u, big.NewInt(int64(c)))
	return max(need, u.BitLen()+2)
}

// setNarrow switches a compiled plan to the narrow form: it marks the
// activation steps whose polynomials all have C2 = 0 as degree 1 (public:
// their gate skips the square) and checks that a and b fit the gates'
// public coefficient bound (|·| < 2^(otgates.PolyCoefBits−1)).
func (p *Plan) setNarrow() error {
	f := p.Public.Frac
	lim := int64(1) << (f + otgates.PolyCoefBits - 1)
	p.Public.Poly = PolyNarrow
	for i := range p.Public.Steps {
		st := &p.Public.Steps[i]
		if st.Op != OpAct || st.ReLUs == st.Positions() {
			continue
		}
		coef := p.Secret.Steps[i].Coef
		for ch := range coef.Channels() {
			a, b, _ := narrowCoef(coef, ch, f)
			if int64(a) < -lim || int64(a) >= lim || int64(b) < -lim || int64(b) >= lim {
				return fmt.Errorf("pi: step %q channel %d: polynomial coefficients %.4g, %.4g outside the narrow form's bound ±%d (use the default form)",
					st.Name, ch, float64(int64(a))/float64(uint64(1)<<f), float64(int64(b))/float64(uint64(1)<<f), lim>>f)
			}
		}
	}
	p.markDegree1()
	return nil
}
