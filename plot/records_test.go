package plot

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestModelPoint reads the committed LeNet-5 files: a reduced model's
// point comes from its reduction record (method, ReLUs, accuracy,
// degree), the all-ReLU model's from its training record (fraction →
// percent) and its ReLU count; a file that is not a model is an error.
func TestModelPoint(t *testing.T) {
	dir := filepath.Join("..", "models")
	for _, c := range []struct {
		file   string
		want   Point
		degree int
	}{
		{"lenet-mnist-autorep10.safetensors", Point{Method: "autorep", ReLUs: 610, Accuracy: 99.26}, 2},
		{"lenet-mnist-snl10.safetensors", Point{Method: "snl", ReLUs: 651, Accuracy: 98.91}, 1},
		{"lenet-mnist.safetensors", Point{Method: "baseline", ReLUs: 6508, Accuracy: 99.1}, 0},
	} {
		path := filepath.Join(dir, c.file)
		p, degree, err := ModelPoint(path)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		c.want.Label = path
		if p.Method != c.want.Method || p.ReLUs != c.want.ReLUs || p.Label != path || degree != c.degree ||
			p.Accuracy < c.want.Accuracy-1e-9 || p.Accuracy > c.want.Accuracy+1e-9 {
			t.Errorf("%s: %+v degree %d, want %+v degree %d", c.file, p, degree, c.want, c.degree)
		}
	}
	junk := filepath.Join(t.TempDir(), "junk.safetensors")
	if err := os.WriteFile(junk, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ModelPoint(junk); err == nil {
		t.Error("a file that is not a model gave a point")
	}
}

func TestRecordAccuracy(t *testing.T) {
	for raw, want := range map[string]float64{
		`{"test_acc": 0.9872}`: 98.72, `{"accuracy": 97.5}`: 97.5, `{"Test_Accuracy": 0.5}`: 50,
	} {
		got, ok := RecordAccuracy(json.RawMessage(raw))
		if !ok || got < want-1e-9 || got > want+1e-9 {
			t.Errorf("RecordAccuracy(%s) = %v, %v; want %v", raw, got, ok, want)
		}
	}
	for _, raw := range []string{``, `{}`, `{"epochs": 2}`, `not json`, `{"accuracy": "high"}`} {
		if _, ok := RecordAccuracy(json.RawMessage(raw)); ok {
			t.Errorf("RecordAccuracy(%q) found an accuracy", raw)
		}
	}
}

// TestExpandPaths: files stay in place, a directory becomes its entries
// matching the pattern in name order, a missing path is an error.
func TestExpandPaths(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.json", "a.json", "c.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ExpandPaths([]string{filepath.Join(dir, "c.txt"), dir}, "*.json")
	want := []string{filepath.Join(dir, "c.txt"), filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	if _, err := ExpandPaths([]string{filepath.Join(dir, "none")}, "*.json"); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("missing path: %v", err)
	}
}

func TestSuiteGroup(t *testing.T) {
	for _, c := range []struct {
		suite, method string
		degree        int
		want          string
	}{
		{"dealer", "", 0, "dealer"}, {"twoparty", "snl", 1, "twoparty\x00snl"}, {"dealer", "autorep", 2, "dealer\x00autorep d2"},
	} {
		if got := SuiteGroup(c.suite, c.method, c.degree); got != c.want {
			t.Errorf("SuiteGroup(%q, %q, %d) = %q, want %q", c.suite, c.method, c.degree, got, c.want)
		}
	}
}

// TestSplitBySuite checks the series of cost points from several suites
// and reduction methods: suite prefixes only when suites mix, method lines
// only when methods mix, and the all-ReLU point starting each method line.
func TestSplitBySuite(t *testing.T) {
	v := func(relus int) Value { return Value{Series: "total", ReLUs: relus, Value: 1} }
	series := func(vals []Value) []string {
		var s []string
		for _, x := range vals {
			s = append(s, fmt.Sprintf("%s@%d", x.Series, x.ReLUs))
		}
		return s
	}
	for _, c := range []struct {
		groups []string
		want   []string
	}{
		{[]string{"dealer", "dealer\x00snl"}, []string{"total@1", "total@2"}},
		{[]string{"dealer", "twoparty\x00snl"}, []string{"dealer: total@1", "twoparty: total@2"}},
		{[]string{"twoparty", "twoparty\x00autorep d2", "twoparty\x00snl", "dealer\x00snl"},
			[]string{"twoparty: autorep d2: total@1", "twoparty: snl: total@1", "twoparty: autorep d2: total@2",
				"twoparty: snl: total@3", "dealer: snl: total@4"}},
		{[]string{"dealer", "twoparty\x00autorep d2", "twoparty\x00snl"},
			[]string{"dealer: all-ReLU: total@1", "twoparty: autorep d2: total@2", "twoparty: snl: total@3"}},
	} {
		vals := make([]Value, len(c.groups))
		for i := range vals {
			vals[i] = v(i + 1)
		}
		if got := series(SplitBySuite(vals, c.groups)); !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.groups, got, c.want)
		}
	}
}

func TestSplitByDegree(t *testing.T) {
	pts := []Point{{Method: "autorep"}, {Method: "snl"}, {Method: "autorep"}, {Method: "baseline"}}
	SplitByDegree(pts, []int{2, 1, 2, 0})
	for i, want := range []string{"autorep", "snl", "autorep", "baseline"} {
		if pts[i].Method != want {
			t.Errorf("one degree: point %d labelled %q, want %q", i, pts[i].Method, want)
		}
	}
	pts = append(pts, Point{Method: "autorep"})
	SplitByDegree(pts, []int{2, 1, 2, 0, 1})
	for i, want := range []string{"autorep (degree 2)", "snl", "autorep (degree 2)", "baseline", "autorep (degree 1)"} {
		if pts[i].Method != want {
			t.Errorf("two degrees: point %d labelled %q, want %q", i, pts[i].Method, want)
		}
	}
}
