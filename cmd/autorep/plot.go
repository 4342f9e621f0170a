package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	pibench "github.com/autorep/autorep/pi/bench"
	"github.com/autorep/autorep/plot"
)

func init() {
	register("plot", "plot accuracy or private-inference cost against ReLU count (PNG)", runPlot)
}

const plotSummary = `Draw test accuracy (--metric accuracy, the default) or a private-inference
cost (--metric latency, material, cpu, bytes, online or rounds) against ReLU count.

accuracy: one line per method, from model files (or every *.safetensors in
a directory). The method, ReLU count and accuracy come from each file's
reduction record (autorep reduce); AutoReP models of different polynomial
degrees get one line per degree. Files without a record are plotted as
"baseline" with their ReLU count and the accuracy of their training record.

latency, material, cpu, bytes, online, rounds: from JSON files written by
autorep bench pi --json (or every *.json in a directory), one point per file.
latency draws the measured online p50 and the LAN and WAN cost-model
estimates (ms per image), material the dealer material per image (MB), cpu
the CPU seconds per image, bytes the total traffic of one image in a session
of its own (total_bytes: setup + offline + online, both directions, MB),
online the online traffic per image (MB) and rounds the rounds on the online
critical path (online rounds plus the twoparty suite's inline offline ones).
When the files come from more than one protocol suite (dealer, twoparty),
every series is split by suite ("dealer: measured"), so one figure compares
the suites; when they come from models of more than one reduction method
(bench pi records the model's method and degree), by method too ("twoparty:
autorep d2: total"), an all-ReLU model's point starting every method's line.
--logy draws the value axis logarithmically, so that costs of different
magnitude (the two suites' bytes) show their ratios as equal distances.`

func runPlot(args []string) error {
	fs := newFlags("plot", "--out FILE.png [--metric M] [--title T] [--logx] [--logy] FILE|DIR...", plotSummary)
	metric := fs.String("metric", "accuracy", "what to plot against the ReLU count: accuracy (model files), or latency, material, cpu, bytes, online or rounds (bench pi --json files)")
	out := fs.String("out", "", "output image (.png; .svg and .pdf also work)")
	title := fs.String("title", "", "figure title")
	logX := fs.Bool("logx", false, "logarithmic ReLU axis (automatic when counts span > 20x)")
	logY := fs.Bool("logy", false, "logarithmic value axis (equal ratios at equal distances, e.g. two suites' costs; values must be positive)")
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
	yLabel, isCost := pibench.CostMetrics[*metric]
	if *metric != "accuracy" && !isCost {
		return fmt.Errorf("plot: unknown --metric %q (want accuracy, latency, material, cpu, bytes, online or rounds)", *metric)
	}
	opt := plot.Options{Title: *title, LogX: *logX, LogY: *logY}
	if isCost {
		files, err := plot.ExpandPaths(paths, "*.json")
		if err != nil {
			return err
		}
		var vals []plot.Value
		var suites []string
		for _, f := range files {
			v, suite, err := benchPIValues(f, *metric)
			if err != nil {
				return err
			}
			vals = append(vals, v...)
			for range v {
				suites = append(suites, suite)
			}
		}
		vals = plot.SplitBySuite(vals, suites)
		if len(vals) == 0 {
			return fmt.Errorf("plot: no bench pi JSON files among %s", strings.Join(paths, " "))
		}
		if err := plot.CostVsReLUs(vals, *out, yLabel, opt); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s (%d files)\n", *out, len(files))
		if *jsonOut {
			return json.NewEncoder(os.Stdout).Encode(map[string]any{"out": *out, "metric": *metric, "unit": yLabel, "points": vals})
		}
		return nil
	}
	files, err := plot.ExpandPaths(paths, "*.safetensors")
	if err != nil {
		return err
	}
	var pts []plot.Point
	var degrees []int
	for _, f := range files {
		p, degree, err := plot.ModelPoint(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "plot: skipping %s: %v\n", f, err)
			continue
		}
		pts = append(pts, p)
		degrees = append(degrees, degree)
	}
	plot.SplitByDegree(pts, degrees)
	if len(pts) == 0 {
		return fmt.Errorf("no plottable model files among %d", len(files))
	}
	if err := plot.AccuracyVsReLUs(pts, *out, opt); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d models)\n", *out, len(pts))
	if *jsonOut {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"out": *out, "points": pts})
	}
	return nil
}

// benchPIValues reads one autorep bench pi --json output and returns its
// points for a cost metric (pibench.DecodeMetric), labelled with the file
// name, and its series group (suite, and method and degree when recorded).
// Errors name the file.
func benchPIValues(path, metric string) ([]plot.Value, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	rep, mv, err := pibench.DecodeMetric(b, metric)
	if err != nil {
		return nil, "", fmt.Errorf("plot: %s: %w", path, err)
	}
	vals := make([]plot.Value, len(mv))
	for i, v := range mv {
		vals[i] = plot.Value{Series: v.Series, ReLUs: rep.ReLUs, Value: v.Value, Label: path}
	}
	return vals, plot.SuiteGroup(rep.Suite, rep.Method, rep.Degree), nil
}
