package plot

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestAccuracyVsReLUs(t *testing.T) {
	out := filepath.Join(t.TempDir(), "acc.png")
	pts := []Point{
		{Method: "snl", ReLUs: 12900, Accuracy: 88.2}, {Method: "snl", ReLUs: 99900, Accuracy: 93.5},
		{Method: "snl", ReLUs: 25000, Accuracy: 90.9},
		{Method: "autorep", ReLUs: 12900, Accuracy: 94.3},
		{Method: "baseline", ReLUs: 491520, Accuracy: 95.1},
	}
	if err := AccuracyVsReLUs(pts, out, Options{Title: "CIFAR-10"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("output is not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 300 || r.Dy() < 200 {
		t.Fatalf("image too small: %v", r)
	}
	// Not blank: some pixels differ from the top-left background.
	bg := img.At(0, 0)
	diff := 0
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 3 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 3 {
			if img.At(x, y) != bg {
				diff++
			}
		}
	}
	if diff < 100 {
		t.Fatalf("image looks blank (%d differing pixels)", diff)
	}
}

func TestAccuracyVsReLUsErrors(t *testing.T) {
	dir := t.TempDir()
	if err := AccuracyVsReLUs(nil, filepath.Join(dir, "a.png"), Options{}); err != ErrNoPoints {
		t.Fatalf("no points: %v", err)
	}
	if err := AccuracyVsReLUs([]Point{{Method: "x", ReLUs: -1, Accuracy: 1}}, filepath.Join(dir, "b.png"), Options{}); err == nil {
		t.Fatal("negative ReLU count accepted")
	}
	if err := AccuracyVsReLUs([]Point{{Method: "x", ReLUs: 1, Accuracy: math.NaN()}}, filepath.Join(dir, "c.png"), Options{}); err == nil {
		t.Fatal("NaN accuracy accepted")
	}
	if err := AccuracyVsReLUs([]Point{{Method: "x", ReLUs: 1, Accuracy: 50}}, filepath.Join(dir, "no/such/dir/d.png"), Options{}); err == nil {
		t.Fatal("unwritable path accepted")
	}
	// A single point with zero ReLUs must still draw.
	if err := AccuracyVsReLUs([]Point{{Method: "x", ReLUs: 0, Accuracy: 50}}, filepath.Join(dir, "e.png"), Options{}); err != nil {
		t.Fatal(err)
	}
}
