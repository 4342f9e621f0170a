package train

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/autorep/autorep/data"
)

// TestEvalSet: a range gives exactly the images Index, Index+Stride, ...
// of the split (what infer classifies with the same flags), --n a fixed
// subset, and a range past the split, an empty range or another dataset's
// shape is a clear error.
func TestEvalSet(t *testing.T) {
	for _, e := range []EvalSet{{Ranged: true, Index: -1, Count: 1, Stride: 1}, {Ranged: true, Count: 0, Stride: 1}, {Ranged: true, Count: 2, Stride: 0}} {
		if _, _, _, _, err := e.Load(); err == nil || !strings.Contains(err.Error(), "need I >= 0") {
			t.Errorf("%+v: %v", e, err)
		}
	}
	dir := os.Getenv("AUTOREP_DATA")
	if dir == "" {
		t.Skip("AUTOREP_DATA not set: skipping the MNIST loads")
	}
	model := filepath.Join("..", "models", "lenet-mnist.safetensors")
	test, err := data.Load(dir, "mnist", false)
	if err != nil {
		t.Skipf("mnist not available: %v", err)
	}
	m, name, set, idx, err := EvalSet{Model: model, DataDir: dir, Ranged: true, Index: 5, Count: 4, Stride: 3}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if m.Arch != "lenet" || name != "mnist" || !slices.Equal(idx, []int{5, 8, 11, 14}) || set.N != 4 {
		t.Fatalf("%s on %s: images %v (%d)", m.Arch, name, idx, set.N)
	}
	for k, i := range idx {
		if set.Labels[k] != test.Labels[i] {
			t.Errorf("image %d: label %d, the split's %d", i, set.Labels[k], test.Labels[i])
		}
	}
	_, _, sub, idx, err := EvalSet{Model: model, DataDir: dir, N: 7}.Load()
	if err != nil || sub.N != 7 || !slices.Equal(idx, []int{0, 1, 2, 3, 4, 5, 6}) || !slices.Equal(sub.Labels, test.Sample(7, 1).Labels) {
		t.Errorf("--n 7: %v, images %v", err, idx)
	}
	for _, c := range []struct {
		e    EvalSet
		want string
	}{
		{EvalSet{Model: model, DataDir: dir, Ranged: true, Index: test.N - 2, Count: 2, Stride: 2}, "reaches image"},
		{EvalSet{Model: model, DataDir: dir, Dataset: "cifar10"}, "expects [1 28 28] inputs"},
		{EvalSet{Model: filepath.Join(t.TempDir(), "absent.safetensors"), DataDir: dir}, "absent.safetensors"},
	} {
		if _, _, _, _, err := c.e.Load(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.e, err, c.want)
		}
	}
}
