package fss

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/autorep/autorep/ring"
)

func testPRG(b byte) *ring.PRG {
	var s ring.Seed
	for i := range s {
		s[i] = b ^ byte(7*i)
	}
	return ring.NewPRG(s)
}

func maskBits(v uint64, n int) uint64 {
	if n >= 64 {
		return v
	}
	return v & (1<<uint(n) - 1)
}

// dcfCase checks every (alpha, x) pair of one batch against the plaintext
// comparison.
func dcfCheck(t *testing.T, n, g int, alpha, x, beta []uint64, seed byte) {
	t.Helper()
	k0, k1, err := GenDCF(testPRG(seed), n, g, alpha, beta)
	if err != nil {
		t.Fatal(err)
	}
	y0, err := EvalDCF(0, k0, x)
	if err != nil {
		t.Fatal(err)
	}
	y1, err := EvalDCF(1, k1, x)
	if err != nil {
		t.Fatal(err)
	}
	for i := range alpha {
		for j := 0; j < g; j++ {
			want := uint64(0)
			if maskBits(x[i], n) < alpha[i] {
				want = beta[i*g+j]
			}
			if got := y0[i*g+j] + y1[i*g+j]; got != want {
				t.Fatalf("n=%d g=%d alpha=%#x x=%#x word %d: got %#x want %#x", n, g, alpha[i], x[i], j, got, want)
			}
		}
	}
}

// TestDCFCorrect checks random and edge (alpha, x) pairs for several widths
// and payload lengths, with both lockstep widths (4 and 8 lanes).
func TestDCFCorrect(t *testing.T) {
	for _, L := range []int{4, 8} {
		t.Run(fmt.Sprintf("lanes=%d", L), func(t *testing.T) {
			defer func(old int) { lanes = old }(lanes)
			lanes = L
			testDCFCorrect(t)
		})
	}
}

func testDCFCorrect(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 8, 37, 63, 64} {
		for _, g := range []int{1, 2, 3, 4, 5, MaxPayload} {
			top := maskBits(^uint64(0), n)
			var alpha, x []uint64
			edges := []uint64{0, 1, top, top - 1, top / 2, top/2 + 1}
			// Edge alphas against edge inputs, x = alpha ± 1, and random pairs.
			for _, a := range edges {
				a = maskBits(a, n)
				for _, v := range append(edges, a, a-1, a+1, r.Uint64()) {
					alpha = append(alpha, a)
					x = append(x, v) // high bits above n are ignored
				}
			}
			nr := 300
			if g > maxFast { // slow generic path: fewer random pairs
				nr = 30
			}
			for range nr {
				a := maskBits(r.Uint64(), n)
				alpha = append(alpha, a, a, a)
				x = append(x, r.Uint64(), a, a-1)
			}
			beta := make([]uint64, g*len(alpha))
			for i := range beta {
				beta[i] = r.Uint64()
			}
			dcfCheck(t, n, g, alpha, x, beta, byte(n*g))
		}
	}
}

// TestDCFExhaustive evaluates every (alpha, x) pair for n = 5.
func TestDCFExhaustive(t *testing.T) {
	const n = 5
	var alpha, x, beta []uint64
	for a := uint64(0); a < 1<<n; a++ {
		for v := uint64(0); v < 1<<n; v++ {
			alpha = append(alpha, a)
			x = append(x, v)
			beta = append(beta, a*1000+7)
		}
	}
	dcfCheck(t, n, 1, alpha, x, beta, 9)
}

// TestDCFPairEqualsSingle checks that the two-key lockstep generator
// writes exactly the keys of the one-key generator.
func TestDCFPairEqualsSingle(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 17, 63, 64} {
		for _, g := range []int{3, 4} {
			var alpha [2]uint64
			var beta [2][]uint64
			var s0, s1 [2]block
			var w0, w1, v0, v1 [2][]uint64
			for q := range 2 {
				alpha[q] = maskBits(r.Uint64(), n)
				beta[q] = make([]uint64, g)
				for j := range beta[q] {
					beta[q][j] = r.Uint64()
				}
				s0[q], s1[q] = block{r.Uint64(), r.Uint64()}, block{r.Uint64(), r.Uint64()}
				w0[q], w1[q] = make([]uint64, dcfWords(n, g)), make([]uint64, dcfWords(n, g))
				v0[q], v1[q] = make([]uint64, dcfWords(n, g)), make([]uint64, dcfWords(n, g))
				genDCFSmall(n, alpha[q], beta[q], s0[q], s1[q], v0[q], v1[q])
			}
			genDCFPair(n, alpha, beta, s0, s1, w0, w1)
			for q := range 2 {
				if !slices.Equal(w0[q], v0[q]) || !slices.Equal(w1[q], v1[q]) {
					t.Fatalf("n=%d g=%d key %d: pair generator differs from genDCFSmall", n, g, q)
				}
			}
		}
	}
}
