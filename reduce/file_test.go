package reduce

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autorep/autorep/models"
)

// TestFileRunRefuses checks the settings, the budget and the input model
// before any data is read (the data directory is empty) and writes nothing.
func TestFileRunRefuses(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.safetensors")
	m, err := models.New("lenet", 10, [3]int{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	m.Meta.Dataset = "mnist"
	if err := m.Save(base); err != nil {
		t.Fatal(err)
	}
	_, total := m.ReLUCount()
	if err := PolyTwin(m.Sites); err != nil {
		t.Fatal(err)
	}
	reduced := filepath.Join(dir, "reduced.safetensors")
	if err := m.Save(reduced); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.safetensors")
	ok := FileRun{Model: base, Out: out, Budget: "100", DataDir: dir, Config: Config{Method: MethodAutoReP, Epochs: 1}}
	for want, mod := range map[string]func(*FileRun){
		`method "magic"`:          func(f *FileRun) { f.Config.Method = "magic" },
		"epochs must be at least": func(f *FileRun) { f.Config.Epochs = 0 },
		"finetune epochs":         func(f *FileRun) { f.Config.FinetuneEpochs = -1 },
		"training limit":          func(f *FileRun) { f.TrainLimit = -1 },
		"no input or output":      func(f *FileRun) { f.Out = "" },
		"budget: ":                func(f *FileRun) { f.Budget = "101%" },
		"already reduced":         func(f *FileRun) { f.Model = reduced },
		"no such file":            func(f *FileRun) { f.Model = filepath.Join(dir, "absent.safetensors") },
	} {
		f := ok
		mod(&f)
		if _, err := f.Run(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error with %q, got %v", want, err)
		}
	}
	f := ok
	f.Budget = "6509" // one more than LeNet's ReLUs
	if _, err := f.Run(); err == nil || !strings.Contains(err.Error(), "budget") {
		t.Errorf("budget above %d ReLUs: %v", total, err)
	}
	// With valid settings the run reaches the (absent) data.
	if _, err := ok.Run(); err == nil || !strings.Contains(err.Error(), "mnist") {
		t.Errorf("empty data directory: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused run wrote its output")
	}
}

func TestNoteCheckpoints(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "m.ckpt")
	note := func(resume bool) string {
		var b bytes.Buffer
		if err := noteCheckpoints(&b, prefix, resume); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if s := note(true); !strings.Contains(s, "no checkpoint at "+prefix+".{search,l1,finetune}; starting from the beginning") {
		t.Errorf("resume without a checkpoint: %q", s)
	}
	if s := note(false); s != "" {
		t.Errorf("fresh run without a checkpoint: %q", s)
	}
	if err := os.WriteFile(prefix+".finetune", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if s := note(false); !strings.Contains(s, prefix+".finetune exists and will be overwritten") {
		t.Errorf("fresh run over a checkpoint: %q", s)
	}
	if s := note(true); s != "" {
		t.Errorf("resume with a checkpoint: %q", s)
	}
}
