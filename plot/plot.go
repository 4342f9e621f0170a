// Package plot draws the project's figures as PNG files with gonum/plot:
// test accuracy against ReLU count, one line per reduction method.
package plot

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"sort"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
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

// Options controls the figure.
type Options struct {
	// Title is drawn on top ("" for none).
	Title string
	// LogX uses a logarithmic ReLU axis (default when counts span more
	// than a factor of 20).
	LogX bool
	// Width and Height in inches (default 6 × 4).
	Width, Height float64
}

// ErrNoPoints is returned when there is nothing to draw.
var ErrNoPoints = errors.New("plot: no points")

// AccuracyVsReLUs writes a PNG (or SVG/PDF, by extension) of test accuracy
// against ReLU count to out, one line per method with the points sorted by
// ReLU count.
func AccuracyVsReLUs(points []Point, out string, opt Options) error {
	if len(points) == 0 {
		return ErrNoPoints
	}
	byMethod := map[string][]Point{}
	minR, maxR := math.Inf(1), math.Inf(-1)
	for _, p := range points {
		if p.ReLUs < 0 || math.IsNaN(p.Accuracy) || math.IsInf(p.Accuracy, 0) {
			return fmt.Errorf("plot: bad point %+v", p)
		}
		m := p.Method
		if m == "" {
			m = "unknown"
		}
		byMethod[m] = append(byMethod[m], p)
		minR = math.Min(minR, float64(p.ReLUs))
		maxR = math.Max(maxR, float64(p.ReLUs))
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
	p.Y.Label.Text = "test accuracy (%)"
	p.Add(plotter.NewGrid())
	if logX {
		p.X.Scale = gplot.LogScale{}
		p.X.Tick.Marker = gplot.LogTicks{Prec: -1}
	}
	methods := make([]string, 0, len(byMethod))
	for m := range byMethod {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	for i, m := range methods {
		pts := byMethod[m]
		sort.Slice(pts, func(a, b int) bool { return pts[a].ReLUs < pts[b].ReLUs })
		xy := make(plotter.XYs, len(pts))
		for j, q := range pts {
			xy[j].X, xy[j].Y = float64(q.ReLUs), q.Accuracy
		}
		line, scatter, err := plotter.NewLinePoints(xy)
		if err != nil {
			return fmt.Errorf("plot: method %s: %w", m, err)
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
		p.Legend.Add(fmt.Sprintf("%s (%d)", m, len(pts)), line, scatter)
	}
	// Accuracy usually falls with the ReLU count, so the top left is free.
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(6)
	p.Legend.YOffs = -vg.Points(6)
	// Pad the axes so points are not on the frame (and the legend has room).
	yr := math.Max(p.Y.Max-p.Y.Min, 1)
	p.Y.Min -= 0.08 * yr
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
	if err := p.Save(vg.Length(w)*vg.Inch, vg.Length(h)*vg.Inch, out); err != nil {
		return fmt.Errorf("plot: save %s: %w", out, err)
	}
	return nil
}
