package otgates

import (
	"math/rand/v2"
	"testing"
)

// TestReLUTrunc: the fused gate gives ⌊(x + 2^(s−1))/2^s⌋ or one less
// (Trunc's centred truncation; x for s = 0) for x ≥ 0 and exactly 0 for
// x < 0, at several ℓ and shifts, edge inputs
// included, in the ReLU's rounds.
func TestReLUTrunc(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(43, 43))
	for _, ell := range []int{2, 3, 8, 17, 32, 37, 63, 64} {
		for _, s := range []int{0, 1, ell / 3, ell - 2} {
			if s > ell-2 {
				continue
			}
			lo, hi := quarterRange(ell)
			if ell == 2 {
				lo, hi = -1, 1
			}
			x := inputs(rng, nTest, ell, lo, hi)
			x0, x1 := share(rng, x, ell)
			z0, z1 := run(t, p0, p1, func(p *Party) ([]uint64, error) {
				return p.ReLUTrunc([][]uint64{x0, x1}[p.ID], ell, s)
			})
			for i, v := range x {
				sv := signed(v, ell)
				got := signed((z0[i]+z1[i])&mask(ell), ell)
				want := centred(max(sv, 0), s)
				if sv < 0 && got != 0 || sv >= 0 && got != want && (s == 0 || got != want-1) {
					t.Fatalf("ℓ=%d s=%d: ReLU(%d)>>%d = %d, want %d or one less (0 for x < 0)", ell, s, sv, s, got, want)
				}
			}
		}
	}
	if _, err := p0.ReLUTrunc(make([]uint64, 2), 32, 31); err == nil {
		t.Error("s = 31 at ℓ = 32 accepted")
	}
}
