package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/plot"
)

func init() {
	register("plot", "plot test accuracy against ReLU count for model files (PNG)", runPlot)
}

const plotSummary = `Draw test accuracy against ReLU count, one line per method, from model
files (or every *.safetensors in a directory). The method, ReLU count and
accuracy come from each file's reduction record (autorep reduce); files
without one are plotted as "baseline" with their ReLU count and the
accuracy of their training record.`

func runPlot(args []string) error {
	fs := newFlags("plot", "--out FILE.png [--title T] FILE|DIR...", plotSummary)
	out := fs.String("out", "", "output image (.png; .svg and .pdf also work)")
	title := fs.String("title", "", "figure title")
	logX := fs.Bool("logx", false, "logarithmic ReLU axis (automatic when counts span > 20x)")
	jsonOut := fs.Bool("json", false, "print the plotted points as JSON on stdout")
	// Flags may come before or after the files.
	var paths []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if *out == "" || len(paths) == 0 {
		fs.Usage()
		return errors.New("--out and at least one FILE or DIR are required")
	}
	var files []string
	for _, a := range paths {
		st, err := os.Stat(a)
		if err != nil {
			return err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		m, err := filepath.Glob(filepath.Join(a, "*.safetensors"))
		if err != nil {
			return err
		}
		sort.Strings(m)
		files = append(files, m...)
	}
	var pts []plot.Point
	for _, f := range files {
		p, err := plotPoint(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "plot: skipping %s: %v\n", f, err)
			continue
		}
		pts = append(pts, p)
	}
	if len(pts) == 0 {
		return fmt.Errorf("no plottable model files among %d", len(files))
	}
	if err := plot.AccuracyVsReLUs(pts, *out, plot.Options{Title: *title, LogX: *logX}); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d models)\n", *out, len(pts))
	if *jsonOut {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"out": *out, "points": pts})
	}
	return nil
}

// plotPoint reads one model file's method, ReLU count and test accuracy.
func plotPoint(path string) (plot.Point, error) {
	f, err := modelfile.Read(path)
	if err != nil {
		return plot.Point{}, err
	}
	meta, err := f.Meta()
	if err != nil {
		return plot.Point{}, err
	}
	if meta.Arch == "" {
		return plot.Point{}, errors.New("not a model file (no architecture metadata)")
	}
	if len(meta.Reduce) > 0 {
		var rec struct {
			Method   string   `json:"method"`
			ReLUs    *int     `json:"relus"`
			Accuracy *float64 `json:"accuracy"`
		}
		if err := json.Unmarshal(meta.Reduce, &rec); err != nil {
			return plot.Point{}, fmt.Errorf("reduction record: %w", err)
		}
		if rec.ReLUs == nil || rec.Accuracy == nil || rec.Method == "" {
			return plot.Point{}, errors.New("reduction record lacks method, relus or accuracy")
		}
		return plot.Point{Method: rec.Method, ReLUs: *rec.ReLUs, Accuracy: *rec.Accuracy, Label: path}, nil
	}
	acc, ok := recordAccuracy(meta.Train)
	if !ok {
		return plot.Point{}, errors.New("no reduction record and no accuracy in the training record")
	}
	m, err := models.Load(path)
	if err != nil {
		return plot.Point{}, err
	}
	_, total := m.ReLUCount()
	full := 0
	for _, s := range m.Sites {
		full += s.Size()
	}
	if total < full { // e.g. a reduce checkpoint (OUT.ckpt.best): its accuracy is not recorded
		return plot.Point{}, fmt.Errorf("%d of %d ReLUs kept but no reduction record (a reduce checkpoint?): plot the reduce output instead", total, full)
	}
	return plot.Point{Method: "baseline", ReLUs: total, Accuracy: acc, Label: path}, nil
}

// recordAccuracy finds a test accuracy (percent) in a JSON training record,
// trying the usual key names; fractions (≤ 1) are scaled to percent.
func recordAccuracy(raw json.RawMessage) (float64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	var rec map[string]any
	if json.Unmarshal(raw, &rec) != nil {
		return 0, false
	}
	for _, k := range []string{"test_accuracy", "test_acc", "accuracy", "best_accuracy", "acc"} {
		for rk, v := range rec {
			if !strings.EqualFold(rk, k) {
				continue
			}
			if x, ok := v.(float64); ok && !math.IsNaN(x) {
				if x <= 1 {
					x *= 100
				}
				return x, true
			}
		}
	}
	return 0, false
}
