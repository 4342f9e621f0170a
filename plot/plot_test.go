package plot

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// checkPNG fails unless path is a PNG of at least 300×200 pixels that is
// not blank.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
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
	checkPNG(t, out)
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

func TestCostVsReLUs(t *testing.T) {
	dir := t.TempDir()
	vals := []Value{
		{Series: "measured p50", ReLUs: 188416, Value: 330}, {Series: "LAN estimate", ReLUs: 188416, Value: 349},
		{Series: "measured p50", ReLUs: 12894, Value: 171}, {Series: "LAN estimate", ReLUs: 12894, Value: 190},
		{Series: "WAN estimate", ReLUs: 12894, Value: 1065},
	}
	for _, opt := range []Options{{Title: "ResNet-20"}, {LogX: true, Width: 5, Height: 3}, {LogX: true, LogY: true}} {
		out := filepath.Join(dir, "cost.png")
		if err := CostVsReLUs(vals, out, "latency (ms)", opt); err != nil {
			t.Fatal(err)
		}
		checkPNG(t, out)
	}
	// A logarithmic value axis: ticks at 1, 2, 5 × 10^k labelled with the
	// values (a linear axis would label 0.00, 200.00, …); zero refused.
	logSVG := filepath.Join(dir, "log.svg")
	if err := CostVsReLUs(vals, logSVG, "latency (ms)", Options{LogY: true}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(logSVG); err != nil || !strings.Contains(string(b), ">1000<") || strings.Contains(string(b), ".00<") {
		t.Errorf("log-axis SVG lacks the tick label 1000 or has linear labels (%v)", err)
	}
	zero := append([]Value{{Series: "s", ReLUs: 10, Value: 0}}, vals...)
	if err := CostVsReLUs(zero, filepath.Join(dir, "z.png"), "y", Options{}); err != nil {
		t.Errorf("zero cost on a linear axis: %v", err)
	}
	if err := CostVsReLUs(zero, filepath.Join(dir, "z.png"), "y", Options{LogY: true}); err == nil || !strings.Contains(err.Error(), "positive") {
		t.Errorf("zero cost on a log axis: %v, want an error", err)
	}
	// SVG by extension.
	svg := filepath.Join(dir, "cost.svg")
	if err := CostVsReLUs(vals, svg, "latency (ms)", Options{}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(svg); err != nil || !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "latency (ms)") {
		t.Fatalf("SVG output: %v", err)
	}
}

func TestCostVsReLUsErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "c.png")
	for name, vals := range map[string][]Value{
		"negative cost": {{Series: "s", ReLUs: 10, Value: -1}},
		"NaN cost":      {{Series: "s", ReLUs: 10, Value: math.NaN()}},
		"Inf cost":      {{Series: "s", ReLUs: 10, Value: math.Inf(1)}},
		"negative ReLU": {{Series: "s", ReLUs: -10, Value: 1}},
		"no series":     {{ReLUs: 10, Value: 1}},
	} {
		if err := CostVsReLUs(vals, out, "y", Options{}); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if err := CostVsReLUs(nil, out, "y", Options{}); err != ErrNoPoints {
		t.Errorf("no points: %v", err)
	}
}

func TestShortCount(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 800: "800", 1000: "1K", 12900: "12.9K", 25000: "25K",
		100000: "100K", 175000: "175K", 1.5e6: "1.5M", 1e7: "10M"} {
		if got := shortCount(v); got != want {
			t.Errorf("shortCount(%v) = %q, want %q", v, got, want)
		}
	}
	ts := countTicks{stubTicker{}}.Ticks(0, 1)
	if len(ts) != 2 || ts[0].Label != "25K" || ts[1].Label != "" {
		t.Errorf("countTicks relabelled %+v", ts)
	}
}

func TestLogTicks(t *testing.T) {
	ts := logTicks{}.Ticks(math.Log10(15), math.Log10(600))
	var labels []string
	var values []float64
	for _, tk := range ts {
		values = append(values, math.Round(math.Pow(10, tk.Value)))
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	wantV := []float64{20, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300, 400, 500, 600}
	if !slices.Equal(values, wantV) || !slices.Equal(labels, []string{"20", "50", "100", "200", "500"}) {
		t.Errorf("logTicks(15..600): values %v labels %v, want %v and 20 50 100 200 500", values, labels, wantV)
	}
	if ts := (logTicks{}).Ticks(0, math.Log10(3.5)); len(ts) != 3 || ts[0].Label != "1" || ts[1].Label != "2" || ts[2].Label != "" {
		t.Errorf("logTicks(1..3.5): %+v, want 1, 2 and an unlabelled 3", ts)
	}
	// Below one: 0.5 is labelled as such.
	if ts := (logTicks{}).Ticks(math.Log10(0.45), math.Log10(0.55)); len(ts) != 1 || ts[0].Label != "0.5" {
		t.Errorf("logTicks(0.45..0.55): %+v, want one tick labelled 0.5", ts)
	}
}

// stubTicker returns one labelled and one unlabelled (minor) tick.
type stubTicker struct{}

func (stubTicker) Ticks(min, max float64) []gplot.Tick {
	return []gplot.Tick{{Value: 25000, Label: "25000.00"}, {Value: 30000}}
}

// TestFitTitle: a title wider than the canvas gets a smaller font that
// fits it (gonum would clip both ends); one that fits keeps its size.
func TestFitTitle(t *testing.T) {
	const long = "ResNet-18, original CIFAR-10: test accuracy vs ReLU count (4 + 1, 10 + 2, 10 + 8 epochs)"
	width := 6 * vg.Inch
	p := gplot.New()
	sty := p.Title.TextStyle
	size := sty.Font.Size
	if sty.Width(long) <= width {
		t.Fatalf("test title %.0f pt wide fits %.0f pt: make it longer", sty.Width(long), width)
	}
	fitTitle(&sty, long, width)
	if sty.Font.Size >= size || sty.Width(long) > width-16 {
		t.Errorf("font %.1f pt (was %.1f), title %.0f pt wide on a %.0f pt canvas", sty.Font.Size, size, sty.Width(long), width)
	}
	short := p.Title.TextStyle
	fitTitle(&short, "CIFAR-10", width)
	if short.Font.Size != size {
		t.Errorf("a short title's font changed from %.1f to %.1f pt", size, short.Font.Size)
	}
}
