package reduce

import (
	"strings"
	"testing"
)

func TestSearchScoreLR(t *testing.T) {
	for _, c := range []struct {
		lr    float64
		steps int
		want  float64
	}{
		{1e-3, 3 * 468, 4.0 / 1404}, // LeNet, MNIST, 3 epochs: 0.00285
		{1e-3, 9 * 468, 1e-3},       // 4/4212 < lr: lr is kept
		{1e-3, 10 * 390, 4.0 / 3900},
		{0.004, 2 * 468, 4.0 / 936}, // the demo's 2-epoch search
		{0.05, 10, 0.4},
		{0.01, 0, 0.01}, // no steps: nothing to derive
	} {
		if got := SearchScoreLR(c.lr, c.steps); got != c.want {
			t.Errorf("SearchScoreLR(%g, %d) = %g, want %g", c.lr, c.steps, got, c.want)
		}
	}
}

// TestRunDerivesScoreLR: with ScoreLR unset a short AutoReP search gets the
// derived rate and reaches a budget that the plain rate cannot reach in as
// many steps; an explicit ScoreLR is kept; SNL has no scores.
func TestRunDerivesScoreLR(t *testing.T) {
	train, test := toySet(640, 1), toySet(192, 2)
	cfg := quickConfig(t, MethodAutoReP, 30)
	cfg.Epochs, cfg.FinetuneEpochs, cfg.LR = 2, 0, 1e-3 // 2×20 steps of 32: scores move ≲ 0.04 at lr
	steps := cfg.Epochs * (train.N / cfg.Batch)

	cfg.ScoreLR = cfg.LR
	_, err := Run(toyNet(7), toyNet(7), train, test, cfg)
	if err == nil || !strings.Contains(err.Error(), "above the budget") {
		t.Fatalf("score lr = lr: want the budget missed, got %v", err)
	}

	cfg.ScoreLR = 0
	res, err := Run(toyNet(7), toyNet(7), train, test, cfg)
	if err != nil {
		t.Fatalf("derived score lr: %v", err)
	}
	if want := SearchScoreLR(cfg.LR, steps); res.ScoreLR != want || want != 0.1 {
		t.Errorf("score lr %g, want %g = 4/%d", res.ScoreLR, want, steps)
	}
	if res.ReLUs > cfg.Budget {
		t.Errorf("%d ReLUs over the budget %d", res.ReLUs, cfg.Budget)
	}

	cfg.ScoreLR = 0.2
	if res, err := Run(toyNet(7), toyNet(7), train, test, cfg); err != nil || res.ScoreLR != 0.2 {
		t.Errorf("explicit score lr: %v, result %v", err, res)
	}
}
