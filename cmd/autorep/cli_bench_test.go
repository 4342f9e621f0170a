package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/autorep/autorep/internal/stat"
)

// fakePython writes an executable standing in for `python3 anchor.py N`:
// it prints line (with $2, the thread count, expanded) and exits with code.
func fakePython(t *testing.T, line string, code int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "python")
	script := "#!/bin/sh\necho \"" + line + "\"\nexit " + string(rune('0'+code)) + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBenchTrainAnchor: --rounds reports medians, --anchor runs the
// PyTorch script after each round and reports ratios of the medians; a
// broken anchor is a clear error.
func TestBenchTrainAnchor(t *testing.T) {
	anchor := filepath.Join(t.TempDir(), "anchor.py")
	if err := os.WriteFile(anchor, []byte("# stand-in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	py := fakePython(t, "torch 1.13 threads=$2 resnet20 train_images_per_s=100.0 infer_images_per_s=400.0", 0)
	quick := []string{"bench", "train", "--steps", "1", "--warmup", "1", "--infer-steps", "1", "--json"}
	r := runCLI(t, 2*time.Minute, append(quick, "--rounds", "3", "--anchor", anchor, "--python", py)...)
	if r.code != 0 {
		t.Fatal(r)
	}
	var out struct {
		TrainIPS float64 `json:"train_images_per_s"`
		InferIPS float64 `json:"infer_images_per_s"`
		Rounds   []struct {
			Train float64 `json:"train_images_per_s"`
			Infer float64 `json:"infer_images_per_s"`
		} `json:"rounds"`
		PyTorch struct {
			Train float64 `json:"train_images_per_s"`
			Infer float64 `json:"infer_images_per_s"`
			Runs  []any   `json:"runs"`
		} `json:"pytorch"`
	}
	var ratios struct {
		Train float64 `json:"train_ratio"`
		Infer float64 `json:"infer_ratio"`
	}
	decodeJSON(t, r, &out)
	decodeJSON(t, r, &ratios)
	if len(out.Rounds) != 3 || len(out.PyTorch.Runs) != 3 || out.PyTorch.Train != 100 || out.PyTorch.Infer != 400 {
		t.Fatalf("rounds / anchor runs not reported:\n%s", r)
	}
	tr := []float64{out.Rounds[0].Train, out.Rounds[1].Train, out.Rounds[2].Train}
	if med := stat.Median(tr); out.TrainIPS != med || out.TrainIPS <= 0 {
		t.Errorf("train_images_per_s %v is not the median of %v", out.TrainIPS, tr)
	}
	if math.Abs(ratios.Train-out.TrainIPS/100) > 1e-9 || math.Abs(ratios.Infer-out.InferIPS/400) > 1e-9 {
		t.Errorf("ratios %+v, want %v and %v", ratios, out.TrainIPS/100, out.InferIPS/400)
	}

	bad := fakePython(t, "no figures here", 0)
	wantFail(t, runCLI(t, 2*time.Minute, append(quick, "--anchor", anchor, "--python", bad)...), 1, "printed no positive train_images_per_s")
	crash := fakePython(t, "ModuleNotFoundError: No module named torch", 1)
	wantFail(t, runCLI(t, 2*time.Minute, append(quick, "--anchor", anchor, "--python", crash)...), 1, "anchor")
	wantFail(t, runCLI(t, short, append(quick, "--anchor", filepath.Join(t.TempDir(), "missing.py"))...), 1, "anchor: ")
	wantFail(t, runCLI(t, short, append(quick, "--anchor", anchor, "--model", "lenet", "--dataset", "mnist")...), 1, "the anchor measures PyTorch's ResNet-20")
	wantFail(t, runCLI(t, short, append(quick, "--rounds", "0")...), 1, "rounds must be positive")
}
