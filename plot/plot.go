// Package plot draws the project's figures as PNG files with gonum/plot:
// test accuracy against ReLU count, one line per reduction method, and
// private-inference costs (latency, dealer material, CPU time) against ReLU
// count, one line per measured or estimated series.
package plot

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
)

// Point is one model: its method ("autorep", "snl", "baseline", ...), its
// ReLU count and its test accuracy in percent.
type Point struct {
	Method   string  `json:"method"`
	ReLUs    int     `json:"relus"`
	Accuracy float64 `json:"accuracy"`
	// Label optionally names the point (e.g. the file); not drawn.
	Label string `json:"label,omitempty"`
}

// Value is one point of a cost figure: the series it belongs to (e.g.
// "measured p50", "LAN estimate"), the model's ReLU count and the cost.
type Value struct {
	Series string  `json:"series"`
	ReLUs  int     `json:"relus"`
	Value  float64 `json:"value"`
	// Label optionally names the point (e.g. the file); not drawn.
	Label string `json:"label,omitempty"`
}

// Options controls the figure.
type Options struct {
	// Title is drawn on top ("" for none).
	Title string
	// LogX uses a logarithmic ReLU axis (default when counts span more
	// than a factor of 20).
	LogX bool
	// LogY uses a logarithmic value axis, on which equal ratios are equal
	// distances (costs that differ by orders of magnitude, such as two
	// protocol suites'); every value must then be positive.
	LogY bool
	// Width and Height in inches (default 6 × 4).
	Width, Height float64
}

// ErrNoPoints is returned when there is nothing to draw.
var ErrNoPoints = errors.New("plot: no points")

// AccuracyVsReLUs writes a PNG (or SVG/PDF, by extension) of test accuracy
// against ReLU count to out, one line per method (in name order, the legend
// giving each method's number of models) with the points sorted by ReLU
// count.
func AccuracyVsReLUs(points []Point, out string, opt Options) error {
	vals := make([]Value, len(points))
	for i, p := range points {
		if p.ReLUs < 0 || math.IsNaN(p.Accuracy) || math.IsInf(p.Accuracy, 0) {
			return fmt.Errorf("plot: bad point %+v", p)
		}
		m := p.Method
		if m == "" {
			m = "unknown"
		}
		vals[i] = Value{Series: m, ReLUs: p.ReLUs, Value: p.Accuracy, Label: p.Label}
	}
	return draw(vals, out, opt, axes{yLabel: "test accuracy (%)", sortSeries: true, legendCounts: true})
}

// CostVsReLUs writes a PNG (or SVG/PDF, by extension) of a cost against
// ReLU count to out: one line per series, in order of first appearance,
// with the points sorted by ReLU count. yLabel names the cost and its unit;
// the cost axis starts at zero (unless opt.LogY). Costs must be finite and non-negative.
func CostVsReLUs(vals []Value, out, yLabel string, opt Options) error {
	for _, v := range vals {
		if v.ReLUs < 0 || v.Value < 0 || math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
			return fmt.Errorf("plot: bad point %+v", v)
		}
		if v.Series == "" {
			return fmt.Errorf("plot: point %+v has no series", v)
		}
	}
	return draw(vals, out, opt, axes{yLabel: yLabel, yFromZero: true})
}

// axes is what distinguishes the figures drawn by draw.
type axes struct {
	yLabel       string
	sortSeries   bool // series in name order (else first appearance)
	legendCounts bool // legend entries "name (points)"
	yFromZero    bool // the value axis starts at 0
}

// draw is the one renderer behind every figure: values against ReLU count,
// one line (with markers) per series, a legend in the free top left corner
// and a logarithmic ReLU axis when asked for or when counts span > 20x.
func draw(vals []Value, out string, opt Options, ax axes) error {
	if len(vals) == 0 {
		return ErrNoPoints
	}
	bySeries := map[string][]Value{}
	var names []string
	minR, maxR := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if _, ok := bySeries[v.Series]; !ok {
			names = append(names, v.Series)
		}
		bySeries[v.Series] = append(bySeries[v.Series], v)
		minR = math.Min(minR, float64(v.ReLUs))
		maxR = math.Max(maxR, float64(v.ReLUs))
	}
	if ax.sortSeries {
		sort.Strings(names)
	}
	if opt.LogY {
		for _, v := range vals {
			if v.Value <= 0 {
				return fmt.Errorf("plot: a logarithmic value axis needs positive values (series %q has %v at %d ReLUs)", v.Series, v.Value, v.ReLUs)
			}
		}
	}
	logX := opt.LogX || (minR > 0 && maxR/minR > 20)
	if minR <= 0 {
		logX = false // zero ReLUs cannot be placed on a log axis
	}
	p := gplot.New()
	if opt.Title != "" {
		p.Title.Text = opt.Title
	}
	p.X.Label.Text = "ReLU count"
	p.Y.Label.Text = ax.yLabel
	p.Add(plotter.NewGrid())
	p.X.Tick.Marker = countTicks{gplot.DefaultTicks{}}
	if logX {
		p.X.Scale = gplot.LogScale{}
		p.X.Tick.Marker = countTicks{gplot.LogTicks{Prec: -1}}
	}
	if opt.LogY {
		// log10 of the values on a linear axis with ticks at powers of ten
		// and their multiples: gonum's LogScale places the (long) value
		// label's box at the arithmetic middle of the range, so its layout
		// shrinks the figure.
		p.Y.Tick.Marker = logTicks{}
	}
	for i, name := range names {
		pts := append([]Value(nil), bySeries[name]...)
		sort.SliceStable(pts, func(a, b int) bool { return pts[a].ReLUs < pts[b].ReLUs })
		xy := make(plotter.XYs, len(pts))
		for j, q := range pts {
			xy[j].X, xy[j].Y = float64(q.ReLUs), q.Value
			if opt.LogY {
				xy[j].Y = math.Log10(q.Value)
			}
		}
		line, scatter, err := plotter.NewLinePoints(xy)
		if err != nil {
			return fmt.Errorf("plot: series %s: %w", name, err)
		}
		c := plotutil.Color(i)
		line.Color = c
		line.Width = vg.Points(1.5)
		scatter.Color = c
		scatter.Shape = plotutil.Shape(i)
		scatter.Radius = vg.Points(3)
		if len(pts) == 1 {
			line.Color = color.Transparent
		}
		p.Add(line, scatter)
		entry := name
		if ax.legendCounts {
			entry = fmt.Sprintf("%s (%d)", name, len(pts))
		}
		p.Legend.Add(entry, line, scatter)
	}
	// Accuracy usually falls, and costs grow, with the ReLU count, so the
	// top left is free.
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(6)
	p.Legend.YOffs = -vg.Points(6)
	// Pad the axes so points are not on the frame (and the legend has room;
	// on a log axis, in decades).
	if ax.yFromZero && !opt.LogY {
		p.Y.Min = 0
	}
	yr := math.Max(p.Y.Max-p.Y.Min, 1)
	if !ax.yFromZero || opt.LogY {
		p.Y.Min -= 0.08 * yr
	}
	p.Y.Max += 0.25 * yr
	if logX {
		p.X.Min /= 1.3
		p.X.Max *= 1.3
	} else {
		xr := math.Max(p.X.Max-p.X.Min, 1)
		p.X.Min -= 0.05 * xr
		p.X.Max += 0.05 * xr
	}
	w, h := opt.Width, opt.Height
	if w <= 0 {
		w = 6
	}
	if h <= 0 {
		h = 4
	}
	fitTitle(&p.Title.TextStyle, p.Title.Text, vg.Length(w)*vg.Inch)
	if err := p.Save(vg.Length(w)*vg.Inch, vg.Length(h)*vg.Inch, out); err != nil {
		return fmt.Errorf("plot: save %s: %w", out, err)
	}
	return nil
}

// countTicks relabels another ticker's labelled ticks as short counts
// (25K, 1.5M) so ReLU axes read easily.
type countTicks struct{ gplot.Ticker }

// Ticks returns the wrapped ticker's ticks with count labels.
func (c countTicks) Ticks(min, max float64) []gplot.Tick {
	ts := c.Ticker.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = shortCount(ts[i].Value)
		}
	}
	return ts
}

// logTicks marks an axis of log10 values at 1, 2 and 5 times each power
// of ten (labelled with the value) and at the other integer multiples
// (unlabelled); gonum's LogTicks labels powers of ten only, which leaves a
// range of one or two decades with one or two labels.
type logTicks struct{}

// Ticks returns the ticks between min and max (log10 of the values).
func (logTicks) Ticks(min, max float64) []gplot.Tick {
	var ts []gplot.Tick
	for e := math.Floor(min); e <= max; e++ {
		for m := 1; m <= 9; m++ {
			v := float64(m) * math.Pow(10, e)
			lv := math.Log10(v)
			if lv < min || lv > max {
				continue
			}
			t := gplot.Tick{Value: lv}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// shortCount formats a count with a K or M suffix: 25000 → "25K",
// 1500000 → "1.5M", 800 → "800".
func shortCount(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 4, 64) + "M"
	case a >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', 4, 64) + "K"
	default:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
}

// fitTitle shrinks the title's font until the title fits the canvas width
// with a small margin (gonum centres it and clips what overflows), down
// to a floor below which a shorter --title is the fix.
func fitTitle(sty *text.Style, title string, width vg.Length) {
	const floor = vg.Length(7)
	avail := width - 2*vg.Points(8)
	if title == "" || sty.Font.Size <= floor {
		return
	}
	if tw := sty.Width(title); tw > avail {
		sty.Font.Size = max(floor, sty.Font.Size*avail/tw)
	}
}
