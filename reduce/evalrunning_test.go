package reduce

import "testing"

// With EvalRunning every epoch of the history also carries its accuracy
// with the batch-norm running averages (train.Trainer.EvalRunning checks
// that this is the unrecalibrated evaluation); without it none does.
func TestRunEvalRunning(t *testing.T) {
	train, test := toySet(640, 1), toySet(192, 2)
	cfg := quickConfig(t, MethodAutoReP, 30)
	cfg.BNBatches = 8
	for _, on := range []bool{false, true} {
		cfg.EvalRunning = on
		res, err := Run(toyBNNet(7), toyBNNet(7), train, test, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.History) != cfg.Epochs+cfg.FinetuneEpochs {
			t.Fatalf("history of %d epochs, want %d", len(res.History), cfg.Epochs+cfg.FinetuneEpochs)
		}
		for _, e := range res.History {
			if got := e.TestAccRunning > 0; got != on {
				t.Errorf("EvalRunning %v: %s epoch %d records %.2f%% before recalibration", on, e.Phase, e.Epoch, e.TestAccRunning)
			}
		}
	}
}
