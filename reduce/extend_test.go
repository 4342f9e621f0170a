package reduce

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLongerFinetuneFromSearchCheckpoint checks the recipe of
// scripts/best-from-checkpoint.py (docs/CLI.md, "reduce"): a finished
// search's checkpoint copied to a new prefix, its best snapshot written by
// the script, resumed with another finetune schedule, gives bit for bit
// the model and history of an uninterrupted run with that schedule (issue
// 18's 4 + 6-epoch ResNet-18 run was made this way from the 4 + 1 run).
func TestLongerFinetuneFromSearchCheckpoint(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: skipping the best-from-checkpoint.py recipe test")
	}
	train, test := toySet(640, 1), toySet(192, 2)
	seed := int64(0)
	run := func(dir string, ftEpochs int, ftLR float64, resume bool) (*Result, map[string][]float32) {
		t.Helper()
		cfg := quickConfig(t, MethodAutoReP, 30)
		// Score lr 0.05: the toy search reaches the budget only in its
		// second epoch (38 then 12 ReLUs of 144), so that epoch is its best.
		cfg.Epochs, cfg.FinetuneEpochs, cfg.FinetuneLR, cfg.Seed, cfg.ScoreLR = 2, ftEpochs, ftLR, seed, 0.05
		cfg.Checkpoint, cfg.Resume = filepath.Join(dir, "ckpt"), resume
		student := toyNet(7)
		res, err := Run(student, toyNet(7), train, test, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := student.Tensors()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]float32{}
		for k, v := range ts {
			out[k] = v.Data
		}
		return res, out
	}
	// The recipe needs a search whose last epoch is its best (the script
	// refuses others): the first seed from 1 whose toy search has one.
	var short, ext string
	var msg []byte
	for seed = 1; seed <= 12; seed++ {
		short, ext = t.TempDir(), t.TempDir()
		run(short, 1, 0.01, false)
		raw, err := os.ReadFile(filepath.Join(short, "ckpt.search"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ext, "ckpt.search"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(py, "../scripts/best-from-checkpoint.py", filepath.Join(ext, "ckpt.search"), filepath.Join(ext, "ckpt.best"))
		if msg, err = cmd.CombinedOutput(); err == nil {
			break
		}
		if !strings.Contains(string(msg), "is not the best snapshot") {
			t.Fatalf("best-from-checkpoint.py: %v\n%s", err, msg)
		}
		t.Logf("seed %d: the search's best is not its last epoch, refused: %s", seed, msg)
	}
	if seed > 12 {
		t.Fatal("no seed in 1..12 gave a search ending on its best epoch")
	}
	if !strings.Contains(string(msg), "from search epoch 2") {
		t.Fatalf("best-from-checkpoint.py: %s", msg)
	}
	long := t.TempDir()
	want, wantW := run(long, 3, 0.03, false)
	got, gotW := run(ext, 3, 0.03, true)

	if len(got.History) != 5 || len(want.History) != 5 {
		t.Fatalf("histories of %d and %d epochs, want 2 + 3", len(got.History), len(want.History))
	}
	for i := range want.History {
		a, b := want.History[i], got.History[i]
		a.Seconds, b.Seconds = 0, 0
		if a != b {
			t.Errorf("epoch %d: %+v uninterrupted, %+v from the copied search", i+1, a, b)
		}
	}
	if got.Accuracy != want.Accuracy || got.ReLUs != want.ReLUs {
		t.Errorf("result %.4f%% / %d ReLUs, uninterrupted %.4f%% / %d", got.Accuracy, got.ReLUs, want.Accuracy, want.ReLUs)
	}
	for k, w := range wantW {
		g := gotW[k]
		if len(g) != len(w) {
			t.Fatalf("%s: %d values, want %d", k, len(g), len(w))
		}
		for i := range w {
			if g[i] != w[i] {
				t.Fatalf("%s[%d] = %v from the copied search, %v uninterrupted", k, i, g[i], w[i])
			}
		}
	}
}
