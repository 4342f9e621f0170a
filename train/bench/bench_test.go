package bench

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autorep/autorep/internal/stat"
)

// TestJSONUnchanged encodes a Result and the map `autorep bench train
// --json` printed before the harness moved here, built from the same
// values the way the command built it: the bytes must be equal.
func TestJSONUnchanged(t *testing.T) {
	runs := []Round{{100, 400, 60, 250}, {110, 390, 61, 251}, {90, 410, 59, 249}}
	anchors := []AnchorRun{{Train: 50, Infer: 200}, {Train: 52, Infer: 210}, {Train: 48, Infer: 190}}
	for _, withAnchor := range []bool{false, true} {
		for _, rounds := range []int{1, 3} {
			r := &Result{Model: "resnet20", Threads: 2, Batch: 128, Steps: 20, InferBatch: 256,
				Train: 100, Infer: 400, TrainCPU: 60, InferCPU: 250}
			old := map[string]any{"model": "resnet20", "threads": 2, "batch": 128, "steps": 20, "infer_batch": 256,
				"train_images_per_s": 100.0, "infer_images_per_s": 400.0,
				"train_images_per_cpu_s": 60.0, "infer_images_per_cpu_s": 250.0}
			if rounds > 1 {
				r.Rounds = runs
				old["rounds"] = runs
			}
			if withAnchor {
				r.PyTorch = &PyTorch{Train: 50, Infer: 200, Runs: anchors}
				r.TrainRatio, r.InferRatio = 2, 2
				old["pytorch"] = map[string]any{"train_images_per_s": 50.0, "infer_images_per_s": 200.0, "runs": anchors}
				old["train_ratio"], old["infer_ratio"] = 2.0, 2.0
			}
			got, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(old)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("anchor %v, %d rounds:\n got %s\nwant %s", withAnchor, rounds, got, want)
			}
		}
	}
}

// TestTrainLeNet runs the harness at toy sizes: positive speeds, every
// round listed, medians of the rounds.
func TestTrainLeNet(t *testing.T) {
	var log bytes.Buffer
	r, err := Train(Config{Arch: "lenet", Input: [3]int{1, 28, 28}, Classes: 10, Batch: 8, Warmup: 1, Steps: 1,
		InferBatch: 8, InferSteps: 1, Rounds: 3, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if r.Model != "lenet" || r.Batch != 8 || r.InferBatch != 8 || r.Steps != 1 || r.Threads < 1 || len(r.Rounds) != 3 || r.PyTorch != nil {
		t.Fatalf("result %+v", r)
	}
	tr := make([]float64, 3)
	for i, rd := range r.Rounds {
		if !(rd.Train > 0 && rd.Infer > 0 && rd.TrainCPU > 0 && rd.InferCPU > 0) {
			t.Errorf("round %d: %+v", i, rd)
		}
		tr[i] = rd.Train
	}
	if r.Train != stat.Median(tr) {
		t.Errorf("train %v is not the median of %v", r.Train, tr)
	}
	if n := strings.Count(log.String(), "lenet threads="); n != 3 {
		t.Errorf("%d round lines logged:\n%s", n, log.String())
	}
}

func TestValidate(t *testing.T) {
	anchor := filepath.Join(t.TempDir(), "anchor.py")
	if err := os.WriteFile(anchor, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ok := Config{Arch: "resnet20", Input: [3]int{3, 32, 32}, Classes: 10, Batch: 128, Steps: 1, InferBatch: 256, InferSteps: 1, Rounds: 1, Anchor: anchor}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"resnet18", "wrn22_8"} {
		c := ok
		c.Arch = arch
		if err := c.Validate(); err != nil {
			t.Errorf("anchor on %s: %v", arch, err)
		}
	}
	for name, mod := range map[string]func(*Config){
		"no rounds":       func(c *Config) { c.Rounds = 0 },
		"negative warmup": func(c *Config) { c.Warmup = -1 },
		"zero batch":      func(c *Config) { c.Batch = 0 },
		"no classes":      func(c *Config) { c.Classes = 0 },
		"anchor on lenet": func(c *Config) { c.Arch = "lenet" },
		"anchor batch":    func(c *Config) { c.Batch = 64 },
		"missing anchor":  func(c *Config) { c.Anchor = anchor + ".missing" },
	} {
		c := ok
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := Train(c); err == nil {
			t.Errorf("%s: Train ran", name)
		}
	}
}

// TestAddAnchor: medians of the anchor's runs and autorep's ratios to
// them, per CPU-second only when every run printed CPU-second rates.
func TestAddAnchor(t *testing.T) {
	r := &Result{Train: 120, Infer: 600, TrainCPU: 60, InferCPU: 300}
	var log bytes.Buffer
	r.addAnchor([]AnchorRun{{100, 400, 40, 200}, {80, 300, 30, 100}, {60, 500, 50, 250}}, &log)
	if p := r.PyTorch; p.Train != 80 || p.Infer != 400 || p.TrainCPU != 40 || p.InferCPU != 200 || len(p.Runs) != 3 {
		t.Fatalf("medians %+v", p)
	}
	if r.TrainRatio != 1.5 || r.InferRatio != 1.5 || r.TrainCPURatio != 1.5 || r.InferCPURatio != 1.5 {
		t.Fatalf("ratios %+v", r)
	}
	if !strings.Contains(log.String(), "per CPU-second: autorep 60.0 / 300.0, PyTorch 40.0 / 200.0 images (train / infer): 1.50x / 1.50x") {
		t.Errorf("log:\n%s", log.String())
	}
	r = &Result{Train: 120, Infer: 600, TrainCPU: 60, InferCPU: 300}
	r.addAnchor([]AnchorRun{{100, 400, 40, 200}, {Train: 80, Infer: 300}}, io.Discard)
	if r.PyTorch.TrainCPU != 0 || r.TrainCPURatio != 0 || r.InferCPURatio != 0 || r.TrainRatio != 120.0/90 {
		t.Errorf("a run without CPU-second rates: %+v %+v", r, r.PyTorch)
	}
}

func TestParseAnchor(t *testing.T) {
	a, err := parseAnchor("a.py", "resnet18", "torch 2.1 threads=2 resnet18\ntrain_images_per_s=101.5 infer_images_per_s=400\n")
	if err != nil || a != (AnchorRun{Train: 101.5, Infer: 400}) {
		t.Errorf("parseAnchor = %+v, %v", a, err)
	}
	a, err = parseAnchor("a.py", "resnet18", "resnet18 train_images_per_s=101.5 infer_images_per_s=400 train_images_per_cpu_s=55 infer_images_per_cpu_s=210.5")
	if err != nil || a != (AnchorRun{101.5, 400, 55, 210.5}) {
		t.Errorf("parseAnchor with CPU-second rates = %+v, %v", a, err)
	}
	for _, out := range []string{"", "no figures", "train_images_per_s=1", "train_images_per_s=0 infer_images_per_s=1",
		"train_images_per_s=NaN infer_images_per_s=1", "train_images_per_s=x infer_images_per_s=1"} {
		if a, err := parseAnchor("a.py", "resnet20", "resnet20 "+out); err == nil {
			t.Errorf("%q parsed as %+v", out, a)
		}
	}
	// A script that measured another network (the shared ResNet-20 anchor
	// ignores the model argument), or names none, is refused.
	for _, out := range []string{"torch 1.13 threads=2 resnet20 train_images_per_s=100.0 infer_images_per_s=400.0",
		"train_images_per_s=100.0 infer_images_per_s=400.0", "model=resnet18 train_images_per_s=1 infer_images_per_s=1"} {
		if a, err := parseAnchor("a.py", "resnet18", out); err == nil || !strings.Contains(err.Error(), "did not name resnet18") {
			t.Errorf("%q for resnet18: %+v, %v", out, a, err)
		}
	}
	if _, err := RunAnchor("/nonexistent/python", "a.py", "resnet20", 1); err == nil {
		t.Error("a missing interpreter ran")
	}
}
