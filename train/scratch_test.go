package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/models"
)

func TestScratchValidate(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.safetensors")
	for name, mod := range map[string]func(*Scratch){
		"no arch":        func(s *Scratch) { s.Arch = "" },
		"no dataset":     func(s *Scratch) { s.Dataset = "" },
		"no out":         func(s *Scratch) { s.Out = "" },
		"no epochs":      func(s *Scratch) { s.Epochs = 0 },
		"negative batch": func(s *Scratch) { s.Batch = -1 },
		"smoothing 1":    func(s *Scratch) { s.LabelSmoothing = 1 },
		"negative limit": func(s *Scratch) { s.Limit = -1 },
	} {
		s := NewScratch("lenet", "mnist", 1, out)
		s.DataDir = t.TempDir() // no data: the settings fail first
		mod(&s)
		if _, err := s.Run(); err == nil || strings.Contains(err.Error(), "mnist") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused run wrote its model")
	}
}

// TestScratchMNIST trains LeNet one epoch on 256 MNIST images with the
// command's defaults, then resumes it for a second epoch; other settings
// are refused on resume.
func TestScratchMNIST(t *testing.T) {
	dir := os.Getenv("AUTOREP_DATA")
	if dir == "" {
		t.Skip("AUTOREP_DATA not set: skipping the MNIST scratch run")
	}
	if _, err := data.Locate(dir, "mnist"); err != nil {
		t.Skipf("MNIST not available under AUTOREP_DATA=%s: %v", dir, err)
	}
	out := filepath.Join(t.TempDir(), "sub", "m.safetensors")
	s := NewScratch("lenet", "mnist", 1, out)
	s.DataDir, s.Limit, s.TestLimit, s.KeepCheckpoint, s.Command = dir, 256, 100, true, "test run"
	res, err := s.Run()
	if err != nil {
		t.Fatal(err)
	}
	if res.Epochs != 1 || res.Last.TestAcc <= 0 || res.ReLUs != 6508 || res.Source == "" {
		t.Fatalf("result %+v", res)
	}
	m, err := models.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Command string         `json:"command"`
		Dataset string         `json:"dataset"`
		Config  map[string]any `json:"config"`
	}
	if ok, err := m.Meta.GetJSON(modelfile.KeyTrain, &rec); !ok || err != nil {
		t.Fatalf("no training record in %s", out)
	}
	// MNIST defaults: batch 32, lr 0.03, no warm-up, no augmentation.
	if rec.Command != "test run" || rec.Dataset != "mnist" || rec.Config["batch"] != 32.0 || rec.Config["lr"] != 0.03 ||
		rec.Config["warmup_epochs"] != 0.0 || rec.Config["augment"] != false || m.Meta.Dataset != "mnist" {
		t.Errorf("record %+v", rec)
	}

	s.Epochs, s.Resume, s.KeepCheckpoint = 2, true, false
	other := s
	other.Seed = 2
	if _, err := other.Run(); err == nil || !strings.Contains(err.Error(), "seed was 1, now 2") {
		t.Errorf("resume with another seed: %v", err)
	}
	res, err = s.Run()
	if err != nil {
		t.Fatal(err)
	}
	if res.Epochs != 2 || len(res.Record.History) != 2 {
		t.Errorf("resumed run: %d epochs, %d in the record", res.Epochs, len(res.Record.History))
	}
	if _, err := os.Stat(out + ".ckpt"); !os.IsNotExist(err) {
		t.Errorf("checkpoint kept: %v", err)
	}
}
