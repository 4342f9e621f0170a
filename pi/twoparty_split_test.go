package pi

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/autorep/autorep/mpc/corr"
)

// TestActSplit: the split computed once per step and repeated per image
// equals the positions' mask tested one by one over the batch, and is
// empty for the other steps.
func TestActSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	shape := []int{3, 5, 7}
	per := numel(shape)
	for _, frac := range []float64{0, 0.3, 1} { // all polynomial, mixed, all ReLU
		relu := make([]bool, per)
		count := 0
		for j := range relu {
			relu[j] = rng.Float64() < frac
			if relu[j] {
				count++
			}
		}
		pub := &Public{Steps: []Step{
			{Name: "lin", Op: OpLinear},
			{Name: "act", Op: OpAct, Shape: shape, Mask: corr.MaskOf(relu), ReLUs: count},
		}}
		acts := newActSplits(pub)
		if r, p := acts[0].batch(2); len(r)+len(p) != 0 {
			t.Fatalf("linear step split: %d ReLU, %d polynomial positions", len(r), len(p))
		}
		for _, n := range []int{1, 3} {
			var wantR, wantP []int
			for j := range n * per {
				if relu[j%per] {
					wantR = append(wantR, j)
				} else {
					wantP = append(wantP, j)
				}
			}
			gotR, gotP := acts[1].batch(n)
			if !slices.Equal(gotR, wantR) || !slices.Equal(gotP, wantP) {
				t.Fatalf("ReLU fraction %v, n %d: split %v / %v, want %v / %v", frac, n, gotR, gotP, wantR, wantP)
			}
		}
	}
}
