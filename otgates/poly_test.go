package otgates

import (
	"math/rand/v2"
	"testing"
)

// TestPoly2 checks Poly2 against the plaintext polynomial with the two
// centred truncations' carries allowed (each ⌊(v + 2^(f−1))/2^f⌋ or one
// less), at several ℓ and scales, with signed
// coefficients (negative a and b included) and the edge inputs.
func TestPoly2(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(41, 41))
	for _, tc := range []struct{ ell, f int }{{8, 2}, {17, 4}, {32, 12}, {37, 12}, {64, 16}} {
		ell, f := tc.ell, tc.f
		m := mask(ell)
		x, x0, x1, a, b, c := polyCase(rng, ell, f, f, false)
		z0, z1 := run(t, p0, p1, func(p *Party) ([]uint64, error) {
			if p.ID == 0 {
				return p.Poly2(a, b, c, x0, ell, f)
			}
			return p.Poly2(nil, nil, nil, x1, ell, f)
		})
		for i := range x {
			v := signed(x[i], ell)
			y := centred(v*v, f) // the centred truncations: this or one less
			A, B, C := signed(a[i], ell), signed(b[i], ell), signed(c[i], ell)
			ok := false
			for _, yy := range []int64{y, y - 1} {
				w := centred(A*yy+B*v+C, f)
				for _, e := range []int64{0, -1} {
					if got := signed((z0[i]+z1[i])&m, ell); got == w+e {
						ok = true
					}
				}
			}
			if !ok {
				t.Fatalf("ℓ=%d f=%d: poly(%d) with a=%d b=%d c=%d = %d, outside the truncation bound", ell, f, v, A, B, C, signed((z0[i]+z1[i])&m, ell))
			}
		}
	}
	// Bad inputs: missing coefficients, a scale that does not fit.
	if _, err := p0.Poly2(nil, nil, nil, make([]uint64, 3), 32, 12); err == nil {
		t.Error("party 0 without coefficients accepted")
	}
	if _, err := p0.Poly2(nil, nil, nil, nil, 32, 16); err == nil {
		t.Error("f = 16 at ℓ = 32 accepted")
	}
	// a = 4.0 at f = 12 is outside |a| < 2^(PolyCoefBits−1): refused before
	// any message (party 1 is not called, nothing is waited for).
	big := []uint64{4 << 12}
	if _, err := p0.Poly2(big, []uint64{0}, []uint64{0}, []uint64{0}, 32, 12); err == nil {
		t.Error("a = 4.0 accepted")
	}
}

// TestPolyExact checks Poly2Exact and Poly1Exact against the exact
// plaintext value ⌊(a·⌊x²/2^f⌋ + b·x + c)/2^f⌋ (no error allowed).
func TestPolyExact(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(43, 43))
	for _, tc := range []struct{ ell, f int }{{8, 2}, {17, 4}, {37, 12}, {40, 16}, {64, 16}} {
		ell, f := tc.ell, tc.f
		m := mask(ell)
		x, x0, x1, a, b, c := polyCase(rng, ell, f, f+1, true)
		for _, deg := range []int{1, 2} {
			z0, z1 := run(t, p0, p1, func(p *Party) ([]uint64, error) {
				switch {
				case deg == 2 && p.ID == 0:
					return p.Poly2Exact(a, b, c, x0, ell, f)
				case deg == 2:
					return p.Poly2Exact(nil, nil, nil, x1, ell, f)
				case p.ID == 0:
					return p.Poly1Exact(b, c, x0, ell, f)
				}
				return p.Poly1Exact(nil, nil, x1, ell, f)
			})
			for i := range x {
				v := signed(x[i], ell)
				A, B, C := signed(a[i], ell), signed(b[i], ell), signed(c[i], ell)
				if deg == 1 {
					A = 0
				}
				want := (A*((v*v)>>uint(f)) + B*v + C) >> uint(f)
				if got := signed((z0[i]+z1[i])&m, ell); got != want {
					t.Fatalf("ℓ=%d f=%d degree %d: poly(%d) with a=%d b=%d c=%d = %d, want %d", ell, f, deg, v, A, B, C, got, want)
				}
			}
		}
	}
	if _, err := p0.Poly1Exact(nil, nil, make([]uint64, 3), 32, 12); err == nil {
		t.Error("party 0 without coefficients accepted")
	}
	if _, err := p0.Poly1Exact([]uint64{4 << 12}, []uint64{0}, []uint64{0}, 32, 12); err == nil {
		t.Error("b = 4.0 accepted")
	}
	if _, err := p0.Poly2Exact(nil, nil, nil, nil, 32, 16); err == nil {
		t.Error("f = 16 at ℓ = 32 accepted")
	}
}

// polyCase returns nTest inputs x (|x| < 2^(f+2), which keeps x² and the
// polynomial in range at every ℓ of the tests) with their shares, and
// coefficients a, b of up to cb magnitude bits (fewer if the products would
// leave the range) and c in [0, 2^(xb+f)), or centred on 0 if signedC.
func polyCase(rng *rand.Rand, ell, f, cb int, signedC bool) (x, x0, x1, a, b, c []uint64) {
	m := mask(ell)
	xb := min(f+2, (ell-3)/2)
	x = inputs(rng, nTest, ell, -(int64(1) << uint(xb)), int64(1)<<uint(xb))
	x0, x1 = share(rng, x, ell)
	a, b, c = make([]uint64, nTest), make([]uint64, nTest), make([]uint64, nTest)
	cb = min(cb, ell-2-2*xb-2)
	var cOff int64
	if signedC {
		cOff = int64(1) << uint(xb+f-1)
	}
	for i := range a {
		a[i] = uint64(rng.Int64N(int64(1)<<uint(cb+1))-int64(1)<<uint(cb)) & m
		b[i] = uint64(rng.Int64N(int64(1)<<uint(cb+1))-int64(1)<<uint(cb)) & m
		c[i] = uint64(rng.Int64N(int64(1)<<uint(xb+f))-cOff) & m
	}
	return x, x0, x1, a, b, c
}
