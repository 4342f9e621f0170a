package main

import (
	"path/filepath"
	"testing"

	"github.com/autorep/autorep/data"
)

// TestImportExportCLI: a reduced LeNet exported to ONNX and imported back
// keeps its ReLU count and its test accuracy exactly (with data), the
// committed PyTorch fixture imports as LeNet, and bad input is a clear
// error.
func TestImportExportCLI(t *testing.T) {
	dir := t.TempDir()
	onnxPath := filepath.Join(dir, "l10.onnx")
	back := filepath.Join(dir, "back.safetensors")
	orig := modelPath(t, "lenet-mnist-autorep10.safetensors")
	wantOK(t, runCLI(t, short, "export", "--onnx", orig, "--out", onnxPath))
	var imp struct {
		Arch  string `json:"arch"`
		ReLUs int    `json:"relus"`
		Mixed int    `json:"mixed_sites"`
	}
	r := runCLI(t, short, "import", "--onnx", onnxPath, "--dataset", "mnist", "--out", back, "--json")
	wantOK(t, r)
	decodeJSON(t, r, &imp)
	if imp.Arch != "lenet" || imp.ReLUs != 610 || imp.Mixed != 4 {
		t.Errorf("import report %+v, want lenet, 610 ReLUs, 4 mixed sites", imp)
	}
	// The exported file names its dataset (metadata_props): --dataset may go.
	wantOK(t, runCLI(t, short, "import", "--onnx", onnxPath, "--out", filepath.Join(dir, "nods.safetensors")))
	fixture := filepath.Join("..", "..", "onnxmodel", "testdata", "lenet.onnx")
	wantOK(t, runCLI(t, short, "import", "--onnx", fixture, "--dataset", "mnist", "--out", filepath.Join(dir, "pt.safetensors"), "--arch", "lenet"))
	wantFail(t, runCLI(t, short, "import", "--onnx", fixture, "--dataset", "cifar10", "--out", filepath.Join(dir, "x.safetensors")), 1,
		"dataset cifar10 has images [3 32 32]")
	wantFail(t, runCLI(t, short, "import", "--onnx", orig, "--dataset", "mnist", "--out", filepath.Join(dir, "x.safetensors")), 1, "is not a valid ONNX model")
	wantFail(t, runCLI(t, short, "import", "--onnx", fixture, "--out", filepath.Join(dir, "x.safetensors")), 1, "--dataset is required")
	wantFail(t, runCLI(t, short, "export", "--onnx", fixture, "--out", filepath.Join(dir, "x.onnx")), 1, "safetensors")

	needData(t, "mnist")
	type evalOut struct {
		Accuracy float64 `json:"accuracy"`
		ReLUs    int     `json:"relus"`
	}
	var a, b evalOut
	r = runCLI(t, 2*short, "eval", "--model", orig, "--n", "500", "--json")
	wantOK(t, r)
	decodeJSON(t, r, &a)
	r = runCLI(t, 2*short, "eval", "--model", back, "--n", "500", "--json")
	wantOK(t, r)
	decodeJSON(t, r, &b)
	if a != b {
		t.Errorf("eval of the original %+v and of export → import %+v differ", a, b)
	}
}

// TestImportPixelsPrivate: models that normalise [0,1] pixels in their
// graph. The trained LeNet exported with (x − 0.1307)/0.3081 inside
// imports with --pixels as plain lenet; tvnet (torchvision-style
// normalisation, a dilated and a 1×3 conv, constant Mul/Sub/Div) imports
// as a graph whose normalisation is a layer, and bench pi on it gives the
// plaintext labels.
func TestImportPixelsPrivate(t *testing.T) {
	dir := t.TempDir()
	fixture := func(name string) string { return filepath.Join("..", "..", "onnxmodel", "testdata", name+".onnx") }
	var imp struct {
		Arch     string   `json:"arch"`
		ReLUs    int      `json:"relus"`
		Rewrites []string `json:"rewrites"`
	}
	r := runCLI(t, short, "import", "--onnx", fixture("lenet-norm"), "--dataset", "mnist", "--pixels", "--out", filepath.Join(dir, "ln.safetensors"), "--json")
	wantOK(t, r)
	decodeJSON(t, r, &imp)
	if imp.Arch != "lenet" || imp.ReLUs != 6508 || imp.Rewrites == nil || len(imp.Rewrites) != 0 {
		t.Errorf("lenet-norm --pixels: %+v, want lenet with 6508 ReLUs", imp)
	}
	tv := filepath.Join(dir, "tv.safetensors")
	r = runCLI(t, short, "import", "--onnx", fixture("tvnet"), "--dataset", "cifar10", "--pixels", "--out", tv, "--json")
	wantOK(t, r)
	decodeJSON(t, r, &imp)
	// The normalisation (ImageNet constants, not CIFAR-10's) as a layer,
	// the dilated and the 1×3 convolutions rewritten.
	if imp.Arch != "graph" || len(imp.Rewrites) != 3 {
		t.Errorf("tvnet: %+v, want a generic graph with 3 rewrites", imp)
	}
	if _, err := data.Load(data.Dir(""), "cifar10", false); err != nil {
		t.Skipf("CIFAR-10 test split not available (set AUTOREP_DATA): %v", err)
	}
	var pi struct {
		Agree  float64 `json:"agree"`
		LogErr float64 `json:"max_abs_logit_err"`
	}
	r = runCLI(t, 2*short, "bench", "pi", "--model", tv, "--n", "2", "--json")
	wantOK(t, r)
	decodeJSON(t, r, &pi)
	if pi.Agree != 1 || pi.LogErr > 1e-3 {
		t.Errorf("bench pi on the imported tvnet: %+v, want private labels = plaintext labels", pi)
	}
}
