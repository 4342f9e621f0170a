package train

import (
	"testing"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/optim"
)

// EvalRunning records, before the recalibration, what a trainer without
// recalibration evaluates: the same model (training does not read the
// running averages) with the same running averages in epoch 1.
func TestEvalRunningIsTheUnrecalibratedEvaluation(t *testing.T) {
	run := func(recal bool) []EpochStats {
		m := tinyModel(3)
		o, err := optim.NewSGD(optim.SplitDecay(optim.ParamsOf(m.Net), 0), optim.SGDConfig{LR: 0.05, Momentum: 0.9})
		if err != nil {
			t.Fatal(err)
		}
		tr := &Trainer{Model: m, Opt: o, Train: data.NewLoader(tinySet(60, 1), data.LoaderConfig{Batch: 16, Shuffle: true, Seed: 9}),
			Test: tinySet(30, 2), Epochs: 2}
		if recal {
			tr.Recalibrate, tr.EvalRunning = &RecalibrateOptions{Batches: 2, Batch: 16, Seed: 1}, true
		}
		if err := tr.Run(); err != nil {
			t.Fatal(err)
		}
		return tr.History
	}
	plain, both := run(false), run(true)
	if got, want := both[0].Extra["test_loss_running"], plain[0].TestLoss; got != want || got == 0 {
		t.Errorf("epoch 1: loss before recalibration %g, without recalibration %g", got, want)
	}
	if got, want := both[0].Extra["test_acc_running"], plain[0].TestAcc; got != want {
		t.Errorf("epoch 1: accuracy before recalibration %g, without recalibration %g", got, want)
	}
	if both[0].TestLoss == plain[0].TestLoss {
		t.Errorf("the recalibrated evaluation equals the running-average one (loss %g): the test shows nothing", both[0].TestLoss)
	}
	if _, ok := both[1].Extra["test_acc_running"]; !ok {
		t.Error("epoch 2: no accuracy before recalibration")
	}
	for _, s := range plain {
		if _, ok := s.Extra["test_acc_running"]; ok {
			t.Errorf("epoch %d of a run without EvalRunning records test_acc_running", s.Epoch)
		}
	}
}
