package data

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDescribe describes a small synthetic MNIST with both splits, then
// with its test split removed (recorded, not an error), and refuses a
// dataset that is not there.
func TestDescribe(t *testing.T) {
	useTempCache(t)
	dir := t.TempDir()
	writeMNIST(t, dir, "mnist", 13)
	d, err := Describe(dir, "mnist")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "mnist" || d.DataDir != dir || d.Channels != 1 || d.Height != 28 || d.Width != 28 || d.Classes != 10 ||
		len(d.ClassNames) != 10 || len(d.Mean) != 1 || len(d.Std) != 1 || d.CacheDir != CacheDir() {
		t.Errorf("description %+v", d)
	}
	if d.Train.N != 13 || !strings.Contains(d.Train.Source, dir) || d.Train.LoadSecs < 0 ||
		d.Test == nil || d.Test.N != 13 || d.TestError != "" {
		t.Errorf("splits: train %+v, test %+v (%q)", d.Train, d.Test, d.TestError)
	}
	for _, f := range []string{"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		if err := os.Remove(filepath.Join(dir, "mnist", f)); err != nil {
			t.Fatal(err)
		}
	}
	if d, err = Describe(dir, "mnist"); err != nil || d.Test != nil || d.TestError == "" || d.Train.N != 13 {
		t.Errorf("without the test split: %+v, %v", d, err)
	}
	if _, err := Describe(dir, "cifar10"); err == nil {
		t.Error("a dataset that is not there was described")
	}
}

// TestCatalog lists every known dataset once, in Names order, present
// only where its files are.
func TestCatalog(t *testing.T) {
	dir := t.TempDir()
	writeMNIST(t, dir, "mnist", 3)
	cat := Catalog(dir)
	var names []string
	for _, e := range cat {
		names = append(names, e.Name)
		info, _ := Lookup(e.Name)
		if e.Present != (e.Name == "mnist") || (e.Source != "") != e.Present || !slices.Equal(e.Expected, info.Layouts) ||
			e.Fetchable != slices.Contains(Fetchable(), e.Name) {
			t.Errorf("entry %+v", e)
		}
	}
	if !slices.Equal(names, Names()) {
		t.Errorf("names %q, want %q", names, Names())
	}
}
