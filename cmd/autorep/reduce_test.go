package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/reduce"
)

// TestReduceAndPlotCLI runs `autorep reduce` (SNL, tiny) on MNIST from an
// untrained LeNet, checks the output file, and plots it.
func TestReduceAndPlotCLI(t *testing.T) {
	dataDir := os.Getenv("AUTOREP_DATA")
	if dataDir == "" {
		t.Skip("AUTOREP_DATA not set: skipping the MNIST reduce CLI test")
	}
	if _, err := os.Stat(filepath.Join(dataDir, "mnist")); err != nil {
		t.Skipf("no mnist under AUTOREP_DATA=%s: %v", dataDir, err)
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "base.safetensors")
	m, err := models.New("lenet", 10, [3]int{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	m.Meta.Dataset = "mnist"
	if err := m.Meta.SetJSON(modelfile.KeyTrain, map[string]any{"test_acc": 0.1}); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(base); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out", "snl.safetensors")
	// Bad budgets are refused before any training.
	for _, b := range []string{"7000", "-1", "x", "101%"} {
		if err := runReduce([]string{"--model", base, "--budget", b, "--out", out}); err == nil {
			t.Errorf("budget %q accepted", b)
		}
	}
	// --resume without a checkpoint starts from the beginning, saying so.
	stderr, err := captureStderr(t, func() error {
		return runReduce([]string{"--model", base, "--method", "snl", "--budget", "5%", "--epochs", "1",
			"--finetune-epochs", "1", "--train-limit", "256", "--batch", "64", "--out", out, "--resume"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "no checkpoint at " + out + ".ckpt."; !strings.Contains(stderr, want) || !strings.Contains(stderr, "starting from the beginning") {
		t.Errorf("--resume without a checkpoint: stderr lacks %q ... starting from the beginning:\n%s", want, stderr)
	}
	got, err := models.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	per, total := got.ReLUCount()
	if total > 325 || len(per) != 4 {
		t.Fatalf("reduced model has %d ReLUs (%v), budget 325", total, per)
	}
	for _, s := range got.Sites {
		if _, ok := s.Act.(*nn.PolyMask); !ok {
			t.Fatalf("site %s has no PolyMask after load", s.Name)
		}
	}
	var rec reduce.Record
	if ok, err := got.Meta.GetJSON(modelfile.KeyReduce, &rec); !ok || err != nil {
		t.Fatalf("reduction record: %v %v", ok, err)
	}
	if rec.Method != "snl" || rec.ReLUs != total || rec.Budget != 325 || rec.Total != 6508 {
		t.Fatalf("record %+v", rec)
	}
	// Reducing an already reduced model is refused.
	if err := runReduce([]string{"--model", out, "--budget", "100", "--out", filepath.Join(dir, "x.safetensors")}); err == nil {
		t.Fatal("reduced model accepted as input")
	}
	png := filepath.Join(dir, "acc.png")
	if err := runPlot([]string{"--out", png, base, out}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
		t.Fatalf("plot output: %v", err)
	}
	if err := runPlot([]string{"--out", png, filepath.Join(dir, "out", "snl.safetensors.ckpt.best")}); err == nil {
		t.Fatal("plot of a checkpoint-only input succeeded")
	}
}

// captureStderr runs f with os.Stderr redirected and returns what it wrote.
func captureStderr(t *testing.T, f func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	ferr := f()
	os.Stderr = saved
	w.Close()
	out := <-done
	r.Close()
	return out, ferr
}
