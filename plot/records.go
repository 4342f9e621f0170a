package plot

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/reduce"
)

// This file turns records into points: a model file's reduction or
// training record into a Point of the accuracy plot, and the grouping of
// cost points by protocol suite and reduction method into series.

// ExpandPaths lists the files named by paths, replacing each directory
// by its entries matching pattern (in name order).
func ExpandPaths(paths []string, pattern string) ([]string, error) {
	var files []string
	for _, a := range paths {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		m, err := filepath.Glob(filepath.Join(a, pattern))
		if err != nil {
			return nil, err
		}
		sort.Strings(m)
		files = append(files, m...)
	}
	return files, nil
}

// SuiteGroup is the group of a cost point for SplitBySuite: the protocol
// suite, and the model's reduction method with an AutoReP model's
// polynomial degree ("autorep d2"), if it has one (method "" for an
// all-ReLU model).
func SuiteGroup(suite, method string, degree int) string {
	if method == "" {
		return suite
	}
	if method == reduce.MethodAutoReP {
		method += fmt.Sprintf(" d%d", degree)
	}
	return suite + "\x00" + method
}

// SplitBySuite prefixes every series with its point's suite ("dealer:
// measured") when the points come from more than one suite, and with the
// model's reduction method when they come from more than one method, so
// that each gets its own line. groups[i] is point i's SuiteGroup; a point
// without a method (an all-ReLU model) is copied into every method's line
// of its suite, whose common start it is.
func SplitBySuite(vals []Value, groups []string) []Value {
	suites, methods := map[string]bool{}, map[string][]string{}
	for _, g := range groups {
		s, m, _ := strings.Cut(g, "\x00")
		suites[s] = true
		if m != "" && !slices.Contains(methods[s], m) {
			methods[s] = append(methods[s], m)
		}
	}
	split := false
	for _, ms := range methods {
		split = split || len(ms) > 1
	}
	var out []Value
	for i, v := range vals {
		s, m, _ := strings.Cut(groups[i], "\x00")
		prefix := ""
		if len(suites) > 1 {
			prefix = s + ": "
		}
		switch {
		case !split:
			v.Series = prefix + v.Series
			out = append(out, v)
		case m != "":
			v.Series = prefix + m + ": " + v.Series
			out = append(out, v)
		case len(methods[s]) == 0:
			v.Series = prefix + "all-ReLU: " + v.Series
			out = append(out, v)
		default:
			for _, mm := range methods[s] {
				c := v
				c.Series = prefix + mm + ": " + v.Series
				out = append(out, c)
			}
		}
	}
	return out
}

// SplitByDegree labels AutoReP points "autorep (degree d)" when the
// AutoReP models plotted together use more than one polynomial degree, so
// that each degree gets its own line.
func SplitByDegree(pts []Point, degrees []int) {
	seen := map[int]bool{}
	for i, p := range pts {
		if p.Method == reduce.MethodAutoReP {
			seen[degrees[i]] = true
		}
	}
	if len(seen) < 2 {
		return
	}
	for i := range pts {
		if pts[i].Method == reduce.MethodAutoReP {
			pts[i].Method = fmt.Sprintf("%s (degree %d)", reduce.MethodAutoReP, degrees[i])
		}
	}
}

// ModelPoint reads one model file's method, ReLU count and test accuracy,
// and the polynomial degree of a reduced model (0 for a baseline).
func ModelPoint(path string) (Point, int, error) {
	f, err := modelfile.Read(path)
	if err != nil {
		return Point{}, 0, err
	}
	meta, err := f.Meta()
	if err != nil {
		return Point{}, 0, err
	}
	if meta.Arch == "" {
		return Point{}, 0, errors.New("not a model file (no architecture metadata)")
	}
	if len(meta.Reduce) > 0 {
		var rec struct {
			Method   string   `json:"method"`
			ReLUs    *int     `json:"relus"`
			Accuracy *float64 `json:"accuracy"`
			Degree   int      `json:"degree"`
		}
		if err := json.Unmarshal(meta.Reduce, &rec); err != nil {
			return Point{}, 0, fmt.Errorf("reduction record: %w", err)
		}
		if rec.ReLUs == nil || rec.Accuracy == nil || rec.Method == "" {
			return Point{}, 0, errors.New("reduction record lacks method, relus or accuracy")
		}
		return Point{Method: rec.Method, ReLUs: *rec.ReLUs, Accuracy: *rec.Accuracy, Label: path}, rec.Degree, nil
	}
	acc, ok := RecordAccuracy(meta.Train)
	if !ok {
		return Point{}, 0, errors.New("no reduction record and no accuracy in the training record")
	}
	m, err := models.Load(path)
	if err != nil {
		return Point{}, 0, err
	}
	_, total := m.ReLUCount()
	full := 0
	for _, s := range m.Sites {
		full += s.Size()
	}
	if total < full { // e.g. a reduce checkpoint (OUT.ckpt.best): its accuracy is not recorded
		return Point{}, 0, fmt.Errorf("%d of %d ReLUs kept but no reduction record (a reduce checkpoint?): plot the reduce output instead", total, full)
	}
	return Point{Method: "baseline", ReLUs: total, Accuracy: acc, Label: path}, 0, nil
}

// RecordAccuracy finds a test accuracy (percent) in a JSON training record,
// trying the usual key names; fractions (≤ 1) are scaled to percent.
func RecordAccuracy(raw json.RawMessage) (float64, bool) {
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
