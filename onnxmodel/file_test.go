package onnxmodel

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autorep/autorep/models"
)

// TestFileImport imports the PyTorch LeNet fixture to a model file, loads
// it back with its dataset, normalisation and import record, and refuses
// bad flags, a corrupt file, a dataset of another shape and a file that
// names no dataset, each with a clear error.
func TestFileImport(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "lenet.safetensors")
	res, err := FileImport{ONNX: "testdata/lenet.onnx", Out: out, Dataset: "mnist", Arch: "lenet"}.Run()
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.Arch != "lenet" || res.Rewrites == nil || res.Opset < MinOpset || res.Calibrated != 0 {
		t.Errorf("result %+v, report %+v", res, res.Report)
	}
	m, err := models.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Meta.Dataset != "mnist" || len(m.Meta.Mean) != 1 || len(m.Meta.Std) != 1 {
		t.Errorf("metadata %+v", m.Meta)
	}
	var rec struct {
		Source string   `json:"source"`
		Arch   string   `json:"arch"`
		Opset  int64    `json:"opset"`
		Rew    []string `json:"rewrites"`
	}
	if err := json.Unmarshal([]byte(m.Meta.Extra[KeyImport]), &rec); err != nil || rec.Source != "testdata/lenet.onnx" || rec.Arch != "lenet" || rec.Opset != res.Opset || rec.Rew == nil {
		t.Errorf("import record %+v, %v", rec, err)
	}
	corrupt := filepath.Join(dir, "corrupt.onnx")
	if err := os.WriteFile(corrupt, []byte("not protobuf \xff\xff\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    FileImport
		want string
	}{
		{FileImport{ONNX: "testdata/lenet.onnx", Out: out, Dataset: "mnist", Calibrate: -1}, "--calibrate must be >= 0"},
		{FileImport{ONNX: "testdata/lenet.onnx", Dataset: "mnist"}, "--onnx and --out are required"},
		{FileImport{Out: out, Dataset: "mnist"}, "--onnx and --out are required"},
		{FileImport{ONNX: corrupt, Out: out, Dataset: "mnist"}, "corrupt.onnx"},
		{FileImport{ONNX: filepath.Join(dir, "absent.onnx"), Out: out, Dataset: "mnist"}, "absent.onnx"},
		{FileImport{ONNX: "testdata/lenet.onnx", Out: out}, "--dataset is required"},
		{FileImport{ONNX: "testdata/lenet.onnx", Out: out, Dataset: "cifar10"}, "dataset cifar10 has images"},
	} {
		if _, err := c.f.Run(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.f, err, c.want)
		}
	}
}
