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
	return File{Suite: "twoparty", LinkGbps: 3, Runs: []RunInfo{{Name: "relu", Images: 3, CPU: 0.4, Bytes: 8279963, LatencyMs: 830}},
		Sites: []Site{
			{Site: "relu1", ReLUs: 4704, ReLUMs: 1.5, ReLUBytes: 2805632, Cost: 2.39, Degrees: []Poly{
				{Degree: 1, PolyMs: 0.5, PolyBytes: 2187836, OnlineUs: 0.2, CPUUs: 3, BytesSaved: 131.3, BytesUs: 0.35, Cost: 3.35},
				{Degree: 2, PolyMs: 0.25, PolyBytes: 1000000, OnlineUs: 0.265, CPUUs: 2, BytesSaved: 146.3, BytesUs: 0.39, Cost: 2.39}}},
			{Site: "relu2", ReLUs: 800, ReLUMs: 0.5, Cost: 2.125, Degrees: []Poly{{Degree: 1, Cost: 0.5}, {Degree: 2, Cost: 2.125}}},
			{Site: "fc.relu", ReLUs: 120, Cost: 1e-9, Degrees: []Poly{{Degree: 1, Cost: 7}, {Degree: 2, Cost: 1e-9}}},
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
	for _, field := range []string{`"format": "autorep-site-costs"`, `"version": 2`, `"unit": "us_per_relu"`, `"suite": "twoparty"`,
		`"cost_us_per_relu": 2.39`, `"link_gbit_s": 3`, `"cpu_s_per_image": 0.4`, `"degree": 1`, `"cpu_us_per_relu": 3`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("file lacks %s:\n%s", field, b)
		}
	}
	// Each degree weighs the sites by its own saving; degree 0 takes Cost.
	names := []string{"fc.relu", "relu1", "relu2"}
	for deg, want := range map[int][]float64{1: {7, 3.35, 0.5}, 2: {1e-9, 2.39, 2.125}, 0: {1e-9, 2.39, 2.125}} {
		w, err := got.Weights(names, deg)
		if err != nil || !reflect.DeepEqual(w, want) {
			t.Errorf("Weights(degree %d) = %v, %v; want %v", deg, w, err, want)
		}
	}
	if _, err := got.Weights(names, 3); err == nil || !strings.Contains(err.Error(), "no cost for degree 3 (measured: [1 2])") {
		t.Errorf("an unmeasured degree: %v", err)
	}
}

// TestVersion1 reads a file of the previous version: one cost per site,
// whatever the degree.
func TestVersion1(t *testing.T) {
	f, err := Decode([]byte(`{"format": "autorep-site-costs", "version": 1, "suite": "dealer", "unit": "us_per_relu", "sites": [
		{"site": "relu1", "relus": 4704, "relu_ms": 1.9, "poly_ms": 0.4, "online_us_per_relu": 0.3, "material_us_per_relu": 2.1, "cost_us_per_relu": 2.4},
		{"site": "relu2", "relus": 1600, "relu_ms": 1, "poly_ms": 1, "online_us_per_relu": 0, "material_us_per_relu": 2.1, "cost_us_per_relu": 2.1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := File{Suite: "dealer", Sites: []Site{
		{Site: "relu1", ReLUs: 4704, ReLUMs: 1.9, PolyMs: 0.4, OnlineUs: 0.3, MaterialUs: 2.1, Cost: 2.4},
		{Site: "relu2", ReLUs: 1600, ReLUMs: 1, PolyMs: 1, MaterialUs: 2.1, Cost: 2.1}}}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("got %+v, want %+v", f, want)
	}
	for _, deg := range []int{0, 1, 2} {
		if w, err := f.Weights([]string{"relu1", "relu2"}, deg); err != nil || !reflect.DeepEqual(w, []float64{2.4, 2.1}) {
			t.Errorf("degree %d: %v, %v", deg, w, err)
		}
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
	w, err := committed.Weights([]string{"relu1", "relu2", "relu3", "relu4"}, 2)
	if err != nil || w[0] != 24.062999372436444 || w[3] != 36.20435400679018 {
		t.Errorf("docs/costs/lenet-mnist-cost.json: %v, %v", w, err)
	}
}

// TestCommittedTwoParty reads the twoparty suite's LeNet-5 file under
// docs/costs (bench pi --suite twoparty --frac 12 --n 3 --cost-out, HE
// polynomials): each degree weighs by its own measured saving, and the
// large first site saves more per position than the small last one, whose
// step pays the polynomial's fixed per-step HE traffic over 84 positions.
func TestCommittedTwoParty(t *testing.T) {
	f, err := Read(filepath.Join("..", "..", "docs", "costs", "lenet-mnist-twoparty-cost.json"))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"relu1", "relu2", "relu3", "relu4"}
	if f.Suite != "twoparty" || f.LinkGbps != 3 || len(f.Runs) != 4 || len(f.Sites) != 4 {
		t.Fatalf("file: %+v", f)
	}
	for deg := 1; deg <= 2; deg++ {
		w, err := f.Weights(names, deg)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range f.Sites {
			d := s.Degrees[deg-1]
			if d.Degree != deg || w[i] != d.Cost || math.Abs(d.Cost-(d.CPUUs+d.BytesUs)) > 1e-9 {
				t.Errorf("%s degree %d: weight %g, %+v", s.Site, deg, w[i], d)
			}
		}
		first, last := f.Sites[0].Degrees[deg-1], f.Sites[3].Degrees[deg-1]
		if !(first.BytesSaved > 0) || !(first.BytesSaved > last.BytesSaved) || !(w[0] > w[3]) {
			t.Errorf("degree %d: relu1 saves %g B (weight %g), relu4 %g B (weight %g)", deg, first.BytesSaved, w[0], last.BytesSaved, w[3])
		}
	}
}

func TestCorrupt(t *testing.T) {
	v1 := func(sites string) string {
		return `{"format": "autorep-site-costs", "version": 1, "unit": "us_per_relu", "sites": [` + sites + `]}`
	}
	v2 := func(sites string) string { return strings.Replace(v1(sites), `"version": 1`, `"version": 2`, 1) }
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
		"version 3":      strings.Replace(v1(`{"site": "relu1", "cost_us_per_relu": 1}`), `"version": 1`, `"version": 3`, 1),
		"v1 degrees":     v1(`{"site": "relu1", "cost_us_per_relu": 1, "degrees": [{"degree": 1, "cost_us_per_relu": 1}]}`),
		"v1 runs":        strings.Replace(v1(`{"site": "relu1", "cost_us_per_relu": 1}`), `"sites"`, `"runs": [{"name": "relu"}], "sites"`, 1),
		"v2 zero degree": v2(`{"site": "relu1", "cost_us_per_relu": 1, "degrees": [{"degree": 0, "cost_us_per_relu": 1}]}`),
		"v2 degree 7":    v2(`{"site": "relu1", "cost_us_per_relu": 1, "degrees": [{"degree": 7, "cost_us_per_relu": 1}]}`),
		"v2 twice":       v2(`{"site": "relu1", "cost_us_per_relu": 1, "degrees": [{"degree": 1, "cost_us_per_relu": 1}, {"degree": 1, "cost_us_per_relu": 2}]}`),
		"v2 zero cost":   v2(`{"site": "relu1", "cost_us_per_relu": 1, "degrees": [{"degree": 1, "cost_us_per_relu": 0}]}`),
		"v2 no cost":     v2(`{"site": "relu1", "cost_us_per_relu": 1, "degrees": [{"degree": 1}]}`),
		"v2 misspelt":    v2(`{"site": "relu1", "cost_us_per_relu": 1, "degrees": [{"degree": 1, "cost": 1}]}`),
		"v2 bad link":    strings.Replace(v2(`{"site": "relu1", "cost_us_per_relu": 1}`), `"sites"`, `"link_gbit_s": -3, "sites"`, 1),
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
		"degree":   {Sites: []Site{{Site: "a", Cost: 1, Degrees: []Poly{{Degree: 2, Cost: -1}}}}},
	} {
		if _, err := Encode(f); err == nil {
			t.Errorf("Encode accepted %s", name)
		}
	}
}

func TestWeightsMismatch(t *testing.T) {
	f := File{Sites: []Site{{Site: "relu1", Cost: 1}, {Site: "relu2", Cost: 2}}}
	if _, err := f.Weights([]string{"relu1"}, 2); err == nil || !strings.Contains(err.Error(), `unknown site "relu2"`) {
		t.Errorf("a site the model lacks: %v", err)
	}
	if _, err := f.Weights([]string{"relu1", "relu2", "relu3"}, 2); err == nil || !strings.Contains(err.Error(), `no cost for site "relu3"`) {
		t.Errorf("a site the file lacks: %v", err)
	}
}

func TestDerive(t *testing.T) {
	sites := []SiteSize{{"a", 1000}, {"b", 500}}
	// Degree 2: 1.5 MB less traffic outside the steps over 1500 positions,
	// 1000 B per position; a saves 500 KB of its own (500 B per position),
	// b's step costs 250 KB more (−500 B per position). At 8 Gbit/s (1e9
	// B/s) 1000 B is 1 µs. CPU: 0.003 s saved over 1500 positions, 2 µs.
	relu := Run{ActMs: map[string]float64{"a": 3, "b": 1}, ActBytes: map[string]int64{"a": 1_000_000, "b": 250_000}, Bytes: 3_750_000, CPU: 0.01}
	poly2 := Run{ActMs: map[string]float64{"a": 1, "b": 1.5}, ActBytes: map[string]int64{"a": 500_000, "b": 500_000}, Bytes: 2_000_000, CPU: 0.007}
	// Degree 1: nothing attributed to steps (the dealer suite's material
	// only), 3 MB saved, 2000 B per position; CPU costs 0.0015 s more,
	// −1 µs per position.
	poly1 := Run{ActMs: map[string]float64{"a": 2, "b": 2}, Bytes: 750_000, CPU: 0.0115}
	relu1 := relu
	relu1.ActBytes = nil
	got, err := Derive(sites, relu, map[int]Run{2: poly2}, 8)
	if err != nil {
		t.Fatal(err)
	}
	// a: 2 µs CPU + (500 + 1000) B = 1.5 µs → 3.5; online (3−1)/1000 ms = 2 µs.
	// b: 2 µs CPU + (−500 + 1000) B = 0.5 µs → 2.5; online −1 µs.
	want := []Site{
		{Site: "a", ReLUs: 1000, ReLUMs: 3, ReLUBytes: 1_000_000, Cost: 3.5, Degrees: []Poly{
			{Degree: 2, PolyMs: 1, PolyBytes: 500_000, OnlineUs: 2, CPUUs: 2, BytesSaved: 1500, BytesUs: 1.5, Cost: 3.5}}},
		{Site: "b", ReLUs: 500, ReLUMs: 1, ReLUBytes: 250_000, Cost: 2.5, Degrees: []Poly{
			{Degree: 2, PolyMs: 1.5, PolyBytes: 500_000, OnlineUs: -1, CPUUs: 2, BytesSaved: 500, BytesUs: 0.5, Cost: 2.5}}},
	}
	if !approx(got, want) {
		t.Errorf("degree 2:\n got %+v\nwant %+v", got, want)
	}
	got, err = Derive(sites, relu1, map[int]Run{1: poly1, 2: {ActMs: poly2.ActMs, Bytes: 2_500_000, CPU: 0.007}}, 8)
	if err != nil {
		t.Fatal(err)
	}
	// Degree 1: −1 µs CPU + 2 µs bytes = 1 µs at both sites; degree 2 as
	// the whole-model part above (1.25 MB / 1500 positions, 2 µs CPU).
	for i, s := range got {
		if len(s.Degrees) != 2 || s.Degrees[0].Degree != 1 || s.Degrees[1].Degree != 2 ||
			math.Abs(s.Degrees[0].Cost-1) > 1e-9 || math.Abs(s.Degrees[1].Cost-(2+1250.0/1500/1000*1000)) > 1e-9 || s.Cost != s.Degrees[1].Cost {
			t.Errorf("site %d: %+v", i, s)
		}
	}
	// A polynomial dearer than a ReLU everywhere: the floor still gives
	// positive (equal) weights.
	neg, err := Derive(sites, Run{ActMs: map[string]float64{"a": 0, "b": 0}}, map[int]Run{1: {ActMs: map[string]float64{"a": 1, "b": 1}, Bytes: 100, CPU: 1}}, 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range neg {
		if !(c.Cost > 0) || c.Cost != neg[0].Cost {
			t.Errorf("site %s: cost %g", c.Site, c.Cost)
		}
	}
	if _, err := Encode(File{Sites: neg}); err != nil {
		t.Errorf("floored costs do not encode: %v", err)
	}
	// One site saving 100 µs per position, the other nothing: the floor
	// lifts the other to 1% of the mean, 0.5 µs.
	fl, err := Derive(sites, Run{ActMs: map[string]float64{"a": 0, "b": 0}, ActBytes: map[string]int64{"a": 100_000_000}, Bytes: 100_000_000},
		map[int]Run{2: {ActMs: map[string]float64{"a": 0, "b": 0}}}, 8)
	if err != nil || fl[0].Cost != 100 || fl[1].Cost != 0.5 {
		t.Errorf("floor: %+v, %v", fl, err)
	}
	for name, c := range map[string]struct {
		sites []SiteSize
		relu  Run
		poly  map[int]Run
		gbps  float64
	}{
		"no sites":       {nil, relu, map[int]Run{2: poly2}, 8},
		"empty site":     {[]SiteSize{{"a", 0}}, relu, map[int]Run{2: poly2}, 8},
		"missing step":   {sites, relu, map[int]Run{2: {ActMs: map[string]float64{"a": 1}}}, 8},
		"zero link":      {sites, relu, map[int]Run{2: poly2}, 0},
		"NaN link":       {sites, relu, map[int]Run{2: poly2}, math.NaN()},
		"unmeasured run": {sites, Run{}, map[int]Run{2: poly2}, 8},
		"no poly run":    {sites, relu, nil, 8},
		"degree 0":       {sites, relu, map[int]Run{0: poly2}, 8},
	} {
		if _, err := Derive(c.sites, c.relu, c.poly, c.gbps); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// approx compares derived sites to 1e-9.
func approx(got, want []Site) bool {
	if len(got) != len(want) {
		return false
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9 }
	for i := range want {
		g, w := got[i], want[i]
		if g.Site != w.Site || g.ReLUs != w.ReLUs || g.ReLUMs != w.ReLUMs || g.ReLUBytes != w.ReLUBytes || !near(g.Cost, w.Cost) || len(g.Degrees) != len(w.Degrees) {
			return false
		}
		for k := range w.Degrees {
			a, b := g.Degrees[k], w.Degrees[k]
			if a.Degree != b.Degree || a.PolyMs != b.PolyMs || a.PolyBytes != b.PolyBytes || !near(a.OnlineUs, b.OnlineUs) || !near(a.CPUUs, b.CPUUs) ||
				!near(a.BytesSaved, b.BytesSaved) || !near(a.BytesUs, b.BytesUs) || !near(a.Cost, b.Cost) {
				return false
			}
		}
	}
	return true
}
