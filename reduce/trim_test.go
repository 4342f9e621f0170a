package reduce

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestTrimToBudget: the kept positions of lowest score go first, across
// sites, down to exactly the budget; a site without a score keeps its
// mask; nothing happens within the budget.
func TestTrimToBudget(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a, err := NewMasked("a", []int{2, 3}, 2, rng)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewMasked("b", []int{1, 4}, 2, rng)
	if err != nil {
		t.Fatal(err)
	}
	fixed, err := NewFixed("f", []int{1, 2}, []float32{1, 1}, [][]float32{{0, 1, 0}})
	if err != nil {
		t.Fatal(err)
	}
	copy(a.Score.Value.Data, []float32{0.5, -0.2, 0.9, 0.1, 0.7, 0.3})
	copy(b.Score.Value.Data, []float32{0.05, 0.6, 0.2, 0.8})
	a.Mask[1] = 0 // already replaced: not a candidate despite its low score
	sites := []*Masked{a, fixed, b}
	// 5 + 2 + 4 = 11 kept; budget 7 drops the four lowest kept scores:
	// b[0] 0.05, a[3] 0.1, b[2] 0.2, a[5] 0.3.
	if k := TrimToBudget(sites, 7); k != 4 {
		t.Fatalf("trimmed %d, want 4", k)
	}
	wantA := []float32{1, 0, 1, 0, 1, 0}
	wantB := []float32{0, 1, 0, 1}
	for i, v := range wantA {
		if a.Mask[i] != v {
			t.Errorf("a.Mask = %v, want %v", a.Mask, wantA)
			break
		}
	}
	for i, v := range wantB {
		if b.Mask[i] != v {
			t.Errorf("b.Mask = %v, want %v", b.Mask, wantB)
			break
		}
	}
	if fixed.Count() != 2 {
		t.Errorf("the fixed site lost ReLUs: %v", fixed.Mask)
	}
	if k := TrimToBudget(sites, 7); k != 0 {
		t.Errorf("within the budget: trimmed %d", k)
	}
	// Only the fixed site's 2 ReLUs cannot go: budget 1 leaves 2.
	if k := TrimToBudget(sites, 1); k != 5 || a.Count()+b.Count() != 0 {
		t.Errorf("budget 1: trimmed %d, %d scored ReLUs left", k, a.Count()+b.Count())
	}
}

// TestRunTrimsSmallExcess: a search that ends above the budget by at most
// budget/TrimFraction is trimmed and finetuned into a result within the
// budget; a larger excess, or no finetune, is still an error.
func TestRunTrimsSmallExcess(t *testing.T) {
	train, test := toySet(640, 1), toySet(192, 2)
	cfg := quickConfig(t, MethodAutoReP, 30)
	cfg.Epochs, cfg.FinetuneEpochs, cfg.LR = 2, 0, 1e-3
	cfg.ScoreLR = cfg.LR // too slow to reach the budget (TestRunDerivesScoreLR)
	_, err := Run(toyNet(7), toyNet(7), train, test, cfg)
	if err == nil || !strings.Contains(err.Error(), "above the budget") {
		t.Fatalf("no finetune: want the budget missed, got %v", err)
	}
	var n int
	if _, e := fmt.Sscanf(err.Error(), "reduce: the search ended with %d ReLUs", &n); e != nil {
		t.Fatalf("parse %q: %v", err, e)
	}
	cfg.FinetuneEpochs = 1
	_, err = Run(toyNet(7), toyNet(7), train, test, cfg)
	if err == nil || !strings.Contains(err.Error(), "above the budget") {
		t.Fatalf("excess %d > budget/%d: want an error, got %v", n-cfg.Budget, TrimFraction, err)
	}
	cfg.Budget = n - n/(TrimFraction+2) // within reach: the slow search ends near n again
	res, err := Run(toyNet(7), toyNet(7), train, test, cfg)
	if err != nil {
		t.Fatalf("budget %d: %v", cfg.Budget, err)
	}
	if res.ReLUs > cfg.Budget || res.Phase != "finetune" {
		t.Fatalf("result %d ReLUs (budget %d), phase %q", res.ReLUs, cfg.Budget, res.Phase)
	}
	t.Logf("search ended at %d-ish ReLUs; budget %d: result %d ReLUs, %.1f%%", n, cfg.Budget, res.ReLUs, res.Accuracy)
}
