package data

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// dataDir returns $AUTOREP_DATA or skips the test.
func dataDir(t *testing.T, need string) string {
	t.Helper()
	d := os.Getenv("AUTOREP_DATA")
	if d == "" {
		t.Skip("AUTOREP_DATA is not set: set it to the datasets directory (e.g. ../shared/datasets) to run tests on real data")
	}
	if _, err := os.Stat(filepath.Join(d, need)); err != nil {
		t.Skipf("%s not found in AUTOREP_DATA=%s: %v", need, d, err)
	}
	return d
}

func TestMNISTReal(t *testing.T) {
	dir := dataDir(t, "mnist")
	tr, err := Load(dir, "mnist", true)
	if err != nil {
		t.Fatal(err)
	}
	te, err := Load(dir, "mnist", false)
	if err != nil {
		t.Fatal(err)
	}
	if tr.N != 60000 || te.N != 10000 || tr.C != 1 || tr.H != 28 || tr.W != 28 || tr.Classes != 10 {
		t.Fatalf("train N=%d C=%d H=%d W=%d classes=%d, test N=%d", tr.N, tr.C, tr.H, tr.W, tr.Classes, te.N)
	}
	if got := tr.Labels[:5]; !slices.Equal(got, []int32{5, 0, 4, 1, 9}) {
		t.Errorf("first train labels %v, want [5 0 4 1 9]", got)
	}
	if got := te.Labels[:3]; !slices.Equal(got, []int32{7, 2, 1}) {
		t.Errorf("first test labels %v, want [7 2 1]", got)
	}
	m, sd := tr.ChannelStats()
	if math.Abs(m[0]-0.1307) > 5e-4 || math.Abs(sd[0]-0.3081) > 5e-4 {
		t.Errorf("MNIST train mean/std %.4f/%.4f, want 0.1307/0.3081", m[0], sd[0])
	}
	if tr.Mean[0] != 0.1307 || tr.Std[0] != 0.3081 {
		t.Errorf("Set mean/std %v/%v", tr.Mean, tr.Std)
	}
	// Normalised pixels: 0 maps to -mean/std.
	x := tr.Normalized(0)
	if !slices.Equal(x.Shape, []int{1, 1, 28, 28}) {
		t.Fatalf("Normalized shape %v", x.Shape)
	}
	if want := float32(-0.1307 / 0.3081); math.Abs(float64(x.Data[0]-want)) > 1e-5 {
		t.Errorf("normalised 0 pixel %v, want %v", x.Data[0], want)
	}
}

func TestFashionMNISTReal(t *testing.T) {
	dir := dataDir(t, "fashion-mnist")
	tr, err := Load(dir, "fashion-mnist", true)
	if err != nil {
		t.Fatal(err)
	}
	te, err := Load(dir, "fashion_mnist", false)
	if err != nil {
		t.Fatal(err)
	}
	if tr.N != 60000 || te.N != 10000 || tr.Name != "fashion-mnist" || te.Name != "fashion-mnist" {
		t.Fatalf("fashion-mnist train %d (%s), test %d (%s)", tr.N, tr.Name, te.N, te.Name)
	}
	m, sd := tr.ChannelStats()
	if math.Abs(m[0]-0.2860) > 5e-4 || math.Abs(sd[0]-0.3530) > 5e-4 {
		t.Errorf("Fashion-MNIST mean/std %.4f/%.4f, want 0.2860/0.3530", m[0], sd[0])
	}
	// Labels are balanced: 6000 per class.
	count := make([]int, 10)
	for _, l := range tr.Labels {
		count[l]++
	}
	for c, n := range count {
		if n != 6000 {
			t.Errorf("class %d has %d training images, want 6000", c, n)
		}
	}
}

func TestCIFAR10JPEGReal(t *testing.T) {
	dir := dataDir(t, "cifar-10-jpg.tar.gz")
	start := time.Now()
	tr, err := Load(dir, "cifar10", true)
	if err != nil {
		t.Fatal(err)
	}
	te, err := Load(dir, "cifar10", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CIFAR-10 (JPEG copy) loaded in %v from %s", time.Since(start), tr.Source)
	if tr.N != 50000 || te.N != 10000 || tr.C != 3 || tr.H != 32 || tr.W != 32 {
		t.Fatalf("train N=%d C=%d H=%d W=%d, test N=%d", tr.N, tr.C, tr.H, tr.W, te.N)
	}
	want := []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
	if !slices.Equal(tr.ClassNames, want) || tr.Classes != 10 {
		t.Errorf("classes %v", tr.ClassNames)
	}
	if tr.Labels[0] != 0 || tr.Labels[49999] != 9 || te.Labels[0] != 0 || te.Labels[9999] != 9 {
		t.Errorf("labels not in class-directory order: %d %d %d %d", tr.Labels[0], tr.Labels[49999], te.Labels[0], te.Labels[9999])
	}
	m, sd := tr.ChannelStats()
	for c, w := range []float64{0.4914, 0.4822, 0.4465} {
		if math.Abs(m[c]-w) > 2e-3 {
			t.Errorf("channel %d mean %.4f, want about %.4f", c, m[c], w)
		}
	}
	for c, w := range []float64{0.2470, 0.2435, 0.2616} {
		if math.Abs(sd[c]-w) > 5e-3 {
			t.Errorf("channel %d std %.4f, want about %.4f", c, sd[c], w)
		}
	}
	t.Logf("CIFAR-10 (JPEG copy) train mean %.4f std %.4f", m, sd)
}

func TestTinyImageNetSubsetReal(t *testing.T) {
	dir := dataDir(t, "tiny-imagenet-200-subset20.tar.gz")
	if _, err := os.Stat(filepath.Join(dir, "tiny-imagenet-200")); err == nil {
		t.Skip("the full tiny-imagenet-200 is present and takes precedence over the subset")
	}
	tr, err := Load(dir, "tiny-imagenet", true)
	if err != nil {
		t.Fatal(err)
	}
	va, err := Load(dir, "tiny-imagenet", false)
	if err != nil {
		t.Fatal(err)
	}
	if tr.N != 10000 || va.N != 1000 || tr.Classes != 20 || va.Classes != 20 || tr.C != 3 || tr.H != 64 || tr.W != 64 {
		t.Fatalf("train N=%d classes=%d %dx%dx%d, val N=%d classes=%d", tr.N, tr.Classes, tr.C, tr.H, tr.W, va.N, va.Classes)
	}
	if !slices.IsSorted(tr.ClassNames) || tr.ClassNames[0] != "n01641577" {
		t.Errorf("class names %v", tr.ClassNames)
	}
	count := make([]int, 20)
	for _, l := range va.Labels {
		count[l]++
	}
	for c, n := range count {
		if n != 50 {
			t.Errorf("class %d has %d validation images, want 50", c, n)
		}
	}
	// val_1.JPEG, the first file name in sorted order, is annotated n04067472.
	if va.Labels[0] != int32(slices.Index(va.ClassNames, "n04067472")) {
		t.Errorf("val image 0 (val_1.JPEG) label %d (%s)", va.Labels[0], va.ClassNames[va.Labels[0]])
	}
}
