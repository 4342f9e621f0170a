package pi

import (
	"math/big"
	"math/bits"

	"github.com/autorep/autorep/tensor"
)

// MinEll returns the smallest share width ℓ at which the two-party suite
// computes exactly EvalFixed's logits on the images x: every exact
// truncation's input (an activation's input, a polynomial's value
// C2·t² + C1·t + C0 at 3f fractional bits — in the narrow form (PolyNarrow)
// t² and a·⌊t²/2^f⌋ + b·t + c at 2f —, a truncation step's x·Mul)
// within |v| < 2^(ℓ−2), every max-pool difference and the output within
// the signed ℓ-bit range, and ℓ at least what the plan's shifts need
// (2f + 2). A result above 64 means that no width of the suite (ℓ ≤ 64)
// is guaranteed exact on x. It runs the fixed-point executor once, so the
// answer holds for these images only: a margin for other inputs is the
// caller's choice.
func (p *Plan) MinEll(x *tensor.Tensor) (int, error) {
	ell, _, err := p.MinWidths(x)
	return ell, err
}

// MinWidths is MinEll and, for the PolyHE form, the smallest prime width
// (Public.PBits) at which every polynomial value v = C2·t² + C1·t + C0 (at
// 3f fractional bits) of these images has |v| < P/4 − 2^2f for any P of
// that many bits (|v| + 2^2f < 2^(PBits−3); PBits ≥ 2f + 4): the width at
// which the HE path reproduces EvalFixed's values up to its one-unit
// truncation errors. pBits is 0 for the other forms;
// in the PolyHE form the polynomial values do not count towards ℓ.
func (p *Plan) MinWidths(x *tensor.Tensor) (ell, pBits int, err error) {
	if err := p.check(); err != nil {
		return 0, 0, err
	}
	in, n, err := p.Public.EncodeInput(x)
	if err != nil {
		return 0, 0, err
	}
	b := &rangeBackend{fixedBackend: fixedBackend{plan: p}, need: 2*int(p.Public.Frac) + 2}
	if p.Public.Poly == PolyHE {
		b.pNeed = minPBits(p.Public.Frac)
	}
	y, err := execute(p.Public, b, n, in, nil)
	if err != nil {
		return 0, 0, err
	}
	b.fit(y, 1)
	return b.need, b.pNeed, nil
}

// rangeBackend is the fixed-point executor recording the width each
// two-party gate needs (twoPartyBackend's ranges): need for ℓ, pNeed for
// the PolyHE form's prime.
type rangeBackend struct {
	fixedBackend
	need, pNeed int
}

// bitsOf is the bit length of |v| for a signed 64-bit value.
func bitsOf(v uint64) int {
	s := int64(v)
	if s < 0 {
		return bits.Len64(uint64(-s))
	}
	return bits.Len64(uint64(s))
}

// fit raises need so that every value of v has |v| < 2^(ℓ−margin).
func (b *rangeBackend) fit(v []uint64, margin int) {
	for _, x := range v {
		b.need = max(b.need, bitsOf(x)+margin)
	}
}

func (b *rangeBackend) act(i int, st *Step, n int, x []uint64) ([]uint64, error) {
	b.fit(x, 2)
	if st.ReLUs < st.Positions() && !st.Folded { // a folded position is a truncation
		f := b.plan.Public.Frac
		per := st.Positions()
		c, _, _ := chw(st.Shape)
		hw := per / c
		coef := b.plan.Secret.Steps[i].Coef
		narrow := b.plan.Public.Poly == PolyNarrow
		var u, t, k big.Int
		for j, v := range x {
			if st.Mask.At(j % per) {
				continue
			}
			ch := (j % per) / hw
			if narrow {
				a, bb, c := narrowCoef(coef, ch, f)
				b.need = max(b.need, narrowWidth(a, bb, c, uint64(int64(v)>>f), f, st.PolyDeg == 1))
				continue
			}
			t.SetInt64(int64(v) >> f)
			u.SetInt64(int64(coef[3*ch+2]))
			u.Mul(&u, &t)
			u.Add(&u, k.SetInt64(int64(coef[3*ch+1])))
			u.Mul(&u, &t)
			u.Add(&u, k.SetInt64(int64(coef[3*ch])))
			if b.plan.Public.Poly == PolyHE {
				u.Abs(&u).Add(&u, k.Lsh(big.NewInt(1), 2*f))
				b.pNeed = max(b.pNeed, u.BitLen()+3)
				continue
			}
			b.need = max(b.need, u.BitLen()+2)
		}
	}
	return b.fixedBackend.act(i, st, n, x)
}

func (b *rangeBackend) maxPool(i int, st *Step, n int, x []uint64) ([]uint64, error) {
	var diffs []uint64
	y, err := b.fixedBackend.maxPoolWith(st, n, x, func(a, c []uint64) {
		for j := range a {
			diffs = append(diffs, a[j]-c[j])
		}
	})
	b.fit(diffs, 1)
	return y, err
}

func (b *rangeBackend) trunc(i int, st *Step, x []uint64) ([]uint64, error) {
	for _, v := range x {
		b.need = max(b.need, bitsOf(v*st.Mul)+2, int(st.Shift)+2)
	}
	return b.fixedBackend.trunc(i, st, x)
}
