package helinear

import (
	"math/rand/v2"
	"testing"
)

// TestDivRoundLastNTT checks the NTT-domain rounded division by a level's
// last prime against lattigo's coefficient-domain one, exactly, over
// primes of different sizes (ℓ = 16: 30, 54, then 17 to 33 bits, so the
// dropped prime is sometimes larger than the ones kept).
func TestDivRoundLastNTT(t *testing.T) {
	p, err := NewParams(16)
	if err != nil {
		t.Fatal(err)
	}
	pk := newPacker(p, nil)
	r := p.r
	rng := rand.New(rand.NewPCG(3, 7))
	for lvl := len(p.Q) - 1; lvl >= 1; lvl-- {
		a := r.NewPoly()
		for i, q := range p.Q {
			for j := range a.Coeffs[i] {
				a.Coeffs[i][j] = rng.Uint64N(q)
			}
		}
		want := *a.CopyNew()
		r.AtLevel(lvl).DivRoundByLastModulus(want, want)
		got := *a.CopyNew()
		rl := r.AtLevel(lvl)
		rl.NTT(got, got)
		pk.divRoundLastNTT(rl, lvl, got)
		r.AtLevel(lvl-1).INTT(got, got)
		for i := range lvl {
			for j := range N {
				if got.Coeffs[i][j] != want.Coeffs[i][j] {
					t.Fatalf("level %d, prime %d (%d bits, dropping %d bits), coefficient %d: %d, want %d",
						lvl, i, bitsLen(p.Q[i]), bitsLen(p.Q[lvl]), j, got.Coeffs[i][j], want.Coeffs[i][j])
				}
			}
		}
	}
}
