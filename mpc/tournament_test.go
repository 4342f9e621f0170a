package mpc_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/autorep/autorep/mpc"
)

// The one tournament schedule: its round sizes by hand, and its plaintext
// play equal to the window maxima computed directly.
func TestTournament(t *testing.T) {
	// 3×3 windows, padding 1, on a 3×3 plane: 4 corner windows of 4
	// elements, 4 edge windows of 6, the centre of 9.
	p := mpc.PoolSpec{N: 1, C: 1, H: 3, W: 3, K: 3, Stride: 1, Pad: 1}
	if got, want := mpc.MaxPoolRounds(p), []int{24, 10, 5, 1}; !slices.Equal(got, want) {
		t.Fatalf("rounds %v, want %v", got, want)
	}
	if got, want := mpc.MaxPoolRounds(mpc.PoolSpec{N: 2, C: 3, H: 4, W: 4, K: 2, Stride: 2}), []int{2 * 3 * 4 * 2, 2 * 3 * 4}; !slices.Equal(got, want) {
		t.Fatalf("2×2 rounds %v, want %v", got, want)
	}
	if mpc.MaxPoolRounds(mpc.PoolSpec{N: 1, C: 1, H: 2, W: 2, K: 3, Stride: 1}) != nil {
		t.Fatal("rounds of an invalid spec")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range []mpc.PoolSpec{p, {N: 2, C: 3, H: 7, W: 5, K: 3, Stride: 2, Pad: 1}, {N: 1, C: 2, H: 6, W: 6, K: 2, Stride: 2}} {
		x := make([]int64, p.N*p.C*p.H*p.W)
		for i := range x {
			x[i] = rng.Int64N(2001) - 1000
		}
		y, err := mpc.Tournament(p, x, func(a, b []int64) ([]int64, error) {
			for i := range a {
				a[i] = max(a[i], b[i])
			}
			return a, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ws := p.Windows()
		if len(y) != len(ws) || len(ws) != p.OutLen() {
			t.Fatalf("%+v: %d outputs, %d windows, want %d", p, len(y), len(ws), p.OutLen())
		}
		for i, w := range ws {
			m := x[w[0]]
			for _, j := range w {
				m = max(m, x[j])
			}
			if y[i] != m {
				t.Fatalf("%+v: window %d: %d, want %d", p, i, y[i], m)
			}
		}
	}
	if _, err := mpc.Tournament(p, make([]int64, 8), nil); err == nil {
		t.Fatal("a wrong input length was accepted")
	}
}
