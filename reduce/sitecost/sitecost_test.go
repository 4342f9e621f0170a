package sitecost

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sample() File {
	return File{Suite: "dealer", Sites: []Site{
		{Site: "relu1", ReLUs: 4704, ReLUMs: 1.5, PolyMs: 0.25, OnlineUs: 0.265, MaterialUs: 2.125, Cost: 2.39},
		{Site: "relu2", ReLUs: 800, ReLUMs: 0.5, PolyMs: 0.5, MaterialUs: 2.125, Cost: 2.125},
		{Site: "fc.relu", ReLUs: 120, Cost: 1e-9},
	}}
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cost.json")
	want := sample()
	if err := Write(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	b, _ := os.ReadFile(path)
	for _, field := range []string{`"format": "autorep-site-costs"`, `"version": 1`, `"unit": "us_per_relu"`, `"suite": "dealer"`, `"cost_us_per_relu": 2.39`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("file lacks %s:\n%s", field, b)
		}
	}
	w, err := got.Weights([]string{"fc.relu", "relu1", "relu2"})
	if err != nil || !reflect.DeepEqual(w, []float64{1e-9, 2.39, 2.125}) {
		t.Errorf("Weights = %v, %v", w, err)
	}
}

// TestVersion0 reads the unversioned files written before the format had a
// version, including the one committed under docs/costs.
func TestVersion0(t *testing.T) {
	f, err := Decode([]byte(`{"relu2": 2.5, "relu1": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	want := File{Sites: []Site{{Site: "relu2", Cost: 2.5}, {Site: "relu1", Cost: 1}}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("got %+v, want %+v", f, want)
	}
	committed, err := Read(filepath.Join("..", "..", "docs", "costs", "lenet-mnist-cost.json"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := committed.Weights([]string{"relu1", "relu2", "relu3", "relu4"})
	if err != nil || w[0] != 24.062999372436444 || w[3] != 36.20435400679018 {
		t.Errorf("docs/costs/lenet-mnist-cost.json: %v, %v", w, err)
	}
}

func TestCorrupt(t *testing.T) {
	v1 := func(sites string) string {
		return `{"format": "autorep-site-costs", "version": 1, "unit": "us_per_relu", "sites": [` + sites + `]}`
	}
	for name, body := range map[string]string{
		"empty":          ``,
		"truncated":      v1(`{"site": "relu1", "cost_us_per_relu": 1}`)[:40],
		"array":          `[1, 2]`,
		"number":         `3`,
		"v0 string cost": `{"relu1": "1"}`,
		"v0 zero":        `{"relu1": 0, "relu2": 2}`,
		"v0 negative":    `{"relu1": -1}`,
		"v0 repeated":    `{"relu1": 1, "relu1": 2}`,
		"v0 empty":       `{}`,
		"v0 huge":        `{"relu1": 1e999}`,
		"other format":   `{"format": "something-else", "version": 1, "unit": "us_per_relu", "sites": []}`,
		"version 2":      strings.Replace(v1(`{"site": "relu1", "cost_us_per_relu": 1}`), `"version": 1`, `"version": 2`, 1),
		"no version":     strings.Replace(v1(`{"site": "relu1", "cost_us_per_relu": 1}`), `"version": 1,`, ``, 1),
		"other unit":     strings.Replace(v1(`{"site": "relu1", "cost_us_per_relu": 1}`), `us_per_relu"`, `ms_per_relu"`, 1),
		"no sites":       v1(``),
		"unnamed site":   v1(`{"cost_us_per_relu": 1}`),
		"no cost":        v1(`{"site": "relu1"}`),
		"zero cost":      v1(`{"site": "relu1", "cost_us_per_relu": 0}`),
		"repeated site":  v1(`{"site": "relu1", "cost_us_per_relu": 1}, {"site": "relu1", "cost_us_per_relu": 2}`),
		"misspelt field": v1(`{"site": "relu1", "cost_per_relu": 1}`),
		"string cost":    v1(`{"site": "relu1", "cost_us_per_relu": "1"}`),
		"trailing data":  v1(`{"site": "relu1", "cost_us_per_relu": 1}`) + `{}`,
	} {
		if f, err := Decode([]byte(body)); err == nil {
			t.Errorf("%s: accepted as %+v", name, f)
		}
	}
	if _, err := Read(filepath.Join(t.TempDir(), "absent.json")); err == nil {
		t.Error("an absent file was read")
	}
	// What Decode refuses, Encode refuses to write.
	for name, f := range map[string]File{
		"none":     {},
		"NaN":      {Sites: []Site{{Site: "a", Cost: math.NaN()}}},
		"infinite": {Sites: []Site{{Site: "a", Cost: math.Inf(1)}}},
		"negative": {Sites: []Site{{Site: "a", Cost: -1}}},
		"repeated": {Sites: []Site{{Site: "a", Cost: 1}, {Site: "a", Cost: 1}}},
	} {
		if _, err := Encode(f); err == nil {
			t.Errorf("Encode accepted %s", name)
		}
	}
}

func TestWeightsMismatch(t *testing.T) {
	f := File{Sites: []Site{{Site: "relu1", Cost: 1}, {Site: "relu2", Cost: 2}}}
	if _, err := f.Weights([]string{"relu1"}); err == nil || !strings.Contains(err.Error(), `unknown site "relu2"`) {
		t.Errorf("a site the model lacks: %v", err)
	}
	if _, err := f.Weights([]string{"relu1", "relu2", "relu3"}); err == nil || !strings.Contains(err.Error(), `no cost for site "relu3"`) {
		t.Errorf("a site the file lacks: %v", err)
	}
}

func TestDerive(t *testing.T) {
	sites := []SiteSize{{"a", 1000}, {"b", 500}}
	// 1.5 MB more material over 1500 positions: 1000 B per position, at
	// 8 Gbit/s (1e9 B/s) 1 µs each.
	relu := Run{ActMs: map[string]float64{"a": 3, "b": 1}, Material: 2_500_000}
	poly := Run{ActMs: map[string]float64{"a": 1, "b": 1.5}, Material: 1_000_000}
	got, err := Derive(sites, relu, poly, 8)
	if err != nil {
		t.Fatal(err)
	}
	// a: (3−1) ms / 1000 = 2 µs online + 1 µs material = 3 µs.
	// b: (1−1.5) ms / 500 = −1 µs + 1 µs = 0, floored at 1% of the mean 1.5.
	want := []Site{
		{Site: "a", ReLUs: 1000, ReLUMs: 3, PolyMs: 1, OnlineUs: 2, MaterialUs: 1, Cost: 3},
		{Site: "b", ReLUs: 500, ReLUMs: 1, PolyMs: 1.5, OnlineUs: -1, MaterialUs: 1, Cost: 0.015},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Site != w.Site || g.ReLUs != w.ReLUs || g.ReLUMs != w.ReLUMs || g.PolyMs != w.PolyMs ||
			math.Abs(g.OnlineUs-w.OnlineUs) > 1e-12 || math.Abs(g.MaterialUs-w.MaterialUs) > 1e-12 || math.Abs(g.Cost-w.Cost) > 1e-12 {
			t.Errorf("site %d: got %+v, want %+v", i, g, w)
		}
	}
	// Every cost non-positive: the floor still gives a positive weight.
	neg, err := Derive(sites, Run{ActMs: map[string]float64{"a": 0, "b": 0}}, Run{ActMs: map[string]float64{"a": 1, "b": 1}}, 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range neg {
		if !(c.Cost > 0) {
			t.Errorf("site %s: cost %g", c.Site, c.Cost)
		}
	}
	if _, err := Encode(File{Sites: neg}); err != nil {
		t.Errorf("floored costs do not encode: %v", err)
	}
	for name, c := range map[string]struct {
		sites      []SiteSize
		relu, poly Run
		gbps       float64
	}{
		"no sites":       {nil, relu, poly, 8},
		"empty site":     {[]SiteSize{{"a", 0}}, relu, poly, 8},
		"missing step":   {sites, relu, Run{ActMs: map[string]float64{"a": 1}}, 8},
		"zero link":      {sites, relu, poly, 0},
		"NaN link":       {sites, relu, poly, math.NaN()},
		"unmeasured run": {sites, Run{}, poly, 8},
	} {
		if _, err := Derive(c.sites, c.relu, c.poly, c.gbps); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
