package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/autorep/autorep/pi"
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
autorep d2: total"), an all-ReLU model's point starting every method's line.`

// plotCosts maps the cost metrics of autorep plot --metric to their value
// axis labels.
var plotCosts = map[string]string{
	"latency":  "online latency per image (ms)",
	"material": "dealer material per image (MB)",
	"cpu":      "CPU time per image (s)",
	"bytes":    "total bytes per image, setup + offline + online (MB)",
	"online":   "online bytes per image (MB)",
	"rounds":   "online rounds per image",
}

func runPlot(args []string) error {
	fs := newFlags("plot", "--out FILE.png [--metric M] [--title T] FILE|DIR...", plotSummary)
	metric := fs.String("metric", "accuracy", "what to plot against the ReLU count: accuracy (model files), or latency, material, cpu, bytes, online or rounds (bench pi --json files)")
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
	yLabel, isCost := plotCosts[*metric]
	if *metric != "accuracy" && !isCost {
		return fmt.Errorf("plot: unknown --metric %q (want accuracy, latency, material, cpu, bytes, online or rounds)", *metric)
	}
	opt := plot.Options{Title: *title, LogX: *logX}
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

// benchPIKeys lists, per cost metric, the fields of an autorep bench pi
// --json output that the metric needs (besides relus).
var benchPIKeys = map[string][]string{
	"latency":  {"latency_ms_p50", "estimates"},
	"material": {"offline_bytes"},
	"cpu":      {"cpu_s_per_image"},
	"bytes":    {"total_bytes"},
	"online":   {"online_bytes"},
	"rounds":   {"online_rounds"},
}

// benchPIValues reads one autorep bench pi --json output and returns its
// points for a cost metric (see plotCosts), labelled with the file name,
// and the protocol suite it records (dealer when absent: older outputs).
// Files that are not such an output, or lack the metric's fields, are
// errors naming the file.
func benchPIValues(path, metric string) ([]plot.Value, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, "", fmt.Errorf("plot: %s: empty file (want autorep bench pi --json output)", path)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, "", fmt.Errorf("plot: %s: not an autorep bench pi --json output: %w", path, err)
	}
	var missing []string
	for _, k := range append([]string{"relus"}, benchPIKeys[metric]...) {
		if v, ok := raw[k]; !ok || string(v) == "null" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, "", fmt.Errorf("plot: %s: not an autorep bench pi --json output for --metric %s (missing %s)", path, metric, strings.Join(missing, ", "))
	}
	var rep pibench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, "", fmt.Errorf("plot: %s: %w", path, err)
	}
	if rep.ReLUs < 0 {
		return nil, "", fmt.Errorf("plot: %s: negative relus %d", path, rep.ReLUs)
	}
	val := func(series string, v float64) plot.Value {
		return plot.Value{Series: series, ReLUs: rep.ReLUs, Value: v, Label: path}
	}
	var vals []plot.Value
	switch metric {
	case "latency":
		vals = append(vals, val("measured p50", rep.P50))
		var ests []map[string]json.RawMessage
		if err := json.Unmarshal(raw["estimates"], &ests); err != nil {
			return nil, "", fmt.Errorf("plot: %s: estimates: %w", path, err)
		}
		if len(ests) == 0 {
			return nil, "", fmt.Errorf("plot: %s: no cost-model estimates", path)
		}
		for i, e := range ests {
			for _, k := range []string{"network", "latency_ms"} {
				if _, ok := e[k]; !ok {
					return nil, "", fmt.Errorf("plot: %s: estimates[%d] lacks %s", path, i, k)
				}
			}
			est := rep.Estimates[i]
			name := strings.ToUpper(est.Network) + " estimate"
			if est.Gbps > 0 {
				name += fmt.Sprintf(" (%g Gbit/s, %g ms RTT)", est.Gbps, est.RTTms)
			}
			vals = append(vals, val(name, est.Ms))
		}
	case "material":
		vals = append(vals, val("dealer material", float64(rep.OfflineBytes)/1e6))
	case "cpu":
		vals = append(vals, val("measured", rep.CPUPerImage))
	case "bytes":
		vals = append(vals, val("total", float64(rep.TotalBytes)/1e6))
	case "online":
		vals = append(vals, val("online", float64(rep.OnlineBytes)/1e6))
	case "rounds":
		vals = append(vals, val("rounds", float64(rep.OnlineRounds+rep.OfflineInlineRounds)))
	default:
		return nil, "", fmt.Errorf("plot: unknown cost metric %q", metric)
	}
	for _, v := range vals {
		if v.Value < 0 || math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
			return nil, "", fmt.Errorf("plot: %s: bad %s value %v", path, v.Series, v.Value)
		}
	}
	suite := rep.Suite
	if suite == "" { // outputs from before the twoparty suite
		suite = pi.SuiteDealer
	}
	return vals, plot.SuiteGroup(suite, rep.Method, rep.Degree), nil
}
