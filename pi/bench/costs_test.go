package bench

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/reduce"
	"github.com/autorep/autorep/reduce/sitecost"
)

// TestSiteCostsLeNet measures per-site ReLU costs on a random-weight LeNet
// in each suite and feeds the file to reduce's --cost reader.
func TestSiteCostsLeNet(t *testing.T) {
	for _, c := range []struct {
		name, suite, trunc string
		frac               uint
	}{
		{"dealer", pi.SuiteDealer, "", 16},
		{"twoparty-he", pi.SuiteTwoParty, "", 12}, // the suite's default form
		{"twoparty-narrow", pi.SuiteTwoParty, "exact", 16},
	} {
		t.Run(c.name, func(t *testing.T) {
			poly, tm, err := pi.SuiteForms(c.suite, c.trunc)
			if err != nil {
				t.Fatal(err)
			}
			siteCostsLeNet(t, c.suite, pi.Config{FracBits: c.frac, Poly: poly, Trunc: tm})
		})
	}
}

func siteCostsLeNet(t *testing.T, suite string, cfg pi.Config) {
	const n = 1
	m, set := lenetMNIST(t, n)
	if err := AllReLU(m); err != nil {
		t.Fatal(err)
	}
	plan, err := pi.Compile(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	base := &Report{Suite: suite, N: n}
	if err := Measure(plan, m, set, n, Options{Transport: "pipe"}, base); err != nil {
		t.Fatal(err)
	}
	cf, err := SiteCosts(m, cfg, set, n, Options{Transport: "pipe"}, base)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := models.New("lenet", 10, [3]int{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	costs := cf.Sites
	if len(costs) != len(fresh.Sites) || cf.Suite != suite || len(cf.Runs) != 4 || cf.Runs[0].Name != "relu" || cf.Runs[2].Name != "poly2" || cf.Runs[3].Name != "relu-repeat" {
		t.Fatalf("%d costs for %d sites; file %+v", len(costs), len(fresh.Sites), cf)
	}
	steps := map[string]Layer{}
	for _, l := range base.Layers {
		steps[l.Name] = l
	}
	var positions int
	for _, s := range fresh.Sites {
		positions += s.Size()
	}
	for i, c := range costs {
		if c.Site != fresh.Sites[i].Name || c.ReLUs != fresh.Sites[i].Size() || len(c.Degrees) != 2 {
			t.Fatalf("cost %d: %+v, site %s of %d", i, c, fresh.Sites[i].Name, fresh.Sites[i].Size())
		}
		// The ReLU traffic is the all-ReLU run's step, offline part included.
		if l := steps[c.Site]; c.ReLUBytes != l.Bytes+l.OfflineBytes || c.ReLUBytes <= 0 || c.ReLUMs <= 0 {
			t.Errorf("site %s: relu bytes %d, step %+v", c.Site, c.ReLUBytes, l)
		}
		for k, d := range c.Degrees {
			// CPU saved is the runs' difference spread over all positions,
			// from the mean of the two all-ReLU runs.
			wantCPU := ((cf.Runs[0].CPU+cf.Runs[3].CPU)/2 - cf.Runs[k+1].CPU) * 1e6 / float64(positions)
			if d.Degree != k+1 || d.PolyBytes <= 0 || math.Abs(d.CPUUs-wantCPU) > 1e-6*math.Abs(wantCPU)+1e-9 ||
				math.Abs(d.BytesUs-d.BytesSaved/(Networks[0].Gbps*1e9/8)*1e6) > 1e-9 || !(d.Cost > 0) ||
				(d.CPUUs+d.BytesUs > 0 && d.Cost < d.CPUUs+d.BytesUs-1e-9) {
				t.Errorf("site %s degree %d: implausible %+v (want cpu %g)", c.Site, d.Degree, d, wantCPU)
			}
		}
		if c.Cost != c.Degrees[1].Cost {
			t.Errorf("site %s: cost %g, degree 2's %g", c.Site, c.Cost, c.Degrees[1].Cost)
		}
		if suite == pi.SuiteTwoParty && c.Degrees[0].PolyBytes >= c.Degrees[1].PolyBytes {
			// The twoparty suite skips the square at degree 1 (both forms).
			t.Errorf("site %s: degree 1 %d B, degree 2 %d B", c.Site, c.Degrees[0].PolyBytes, c.Degrees[1].PolyBytes)
		}
		if suite == pi.SuiteDealer && !(c.Degrees[1].BytesSaved > 0) {
			// A ReLU needs a DCF key, a polynomial position a few ring elements.
			t.Errorf("site %s: a polynomial saves %g B", c.Site, c.Degrees[1].BytesSaved)
		}
	}
	path := filepath.Join(t.TempDir(), "cost.json")
	if err := sitecost.Write(path, cf); err != nil {
		t.Fatal(err)
	}
	f, err := sitecost.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(fresh.Sites))
	for i, s := range fresh.Sites {
		names[i] = s.Name
	}
	// Each degree's weights are its own measured savings.
	for deg := 1; deg <= 2; deg++ {
		w, err := f.Weights(names, deg)
		if err != nil || f.Suite != suite {
			t.Fatalf("weights %v, %v; suite %q", w, err, f.Suite)
		}
		for i := range w {
			if w[i] != costs[i].Degrees[deg-1].Cost {
				t.Errorf("degree %d weight %d = %v, want %v", deg, i, w[i], costs[i].Degrees[deg-1].Cost)
			}
		}
	}
	// The model is all ReLU again.
	if err := AllReLU(m); err != nil {
		t.Error(err)
	}
	if suite == pi.SuiteTwoParty {
		checkSavings(t, m, cfg, set, n, base, cf)
	}
}

// checkSavings runs the polynomial twins of m again (their bytes are
// deterministic) and checks that each site's saving per position is the
// difference of its step's total (online + offline) traffic in the
// all-ReLU and the twin run, per position, plus the even share of the
// rest of the traffic's difference.
func checkSavings(t *testing.T, m *models.Model, cfg pi.Config, set *data.Set, n int, base *Report, cf sitecost.File) {
	t.Helper()
	defer keepActs(m.Sites)()
	// total is a run's traffic without the setup; act its activation
	// steps' totals by site.
	totals := func(r *Report) (total int64, act map[string]int64) {
		act = map[string]int64{}
		for _, l := range r.Layers {
			if l.Op == string(pi.OpAct) {
				act[l.Name] = l.Bytes + l.OfflineBytes
			}
		}
		return r.OfflineBytes + r.OnlineBytes, act
	}
	reluTotal, reluAct := totals(base)
	var positions int
	for _, s := range m.Sites {
		positions += s.Size()
	}
	for k, d := range CostDegrees {
		if err := reduce.PolyTwinDegree(m.Sites, d); err != nil {
			t.Fatal(err)
		}
		plan, err := pi.Compile(m, cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := &Report{Suite: base.Suite, N: n}
		if err := Measure(plan, m, set, n, Options{Transport: "pipe"}, r); err != nil {
			t.Fatal(err)
		}
		polyTotal, polyAct := totals(r)
		if r.OfflineInlineBytes != 0 || cf.Runs[k+1].Bytes != polyTotal {
			t.Errorf("degree %d: run of %d B (cost file %d), %d B inline", d, polyTotal, cf.Runs[k+1].Bytes, r.OfflineInlineBytes)
		}
		var rest int64 = reluTotal - polyTotal
		for _, s := range m.Sites {
			rest -= reluAct[s.Name] - polyAct[s.Name]
		}
		for _, c := range cf.Sites {
			p := c.Degrees[k]
			want := float64(reluAct[c.Site]-polyAct[c.Site])/float64(c.ReLUs) + float64(rest)/float64(positions)
			if c.ReLUBytes != reluAct[c.Site] || p.PolyBytes != polyAct[c.Site] || math.Abs(p.BytesSaved-want) > 1e-9*math.Abs(want) {
				t.Errorf("site %s degree %d: relu %d B, poly %d B, saved %g B per position; the runs' steps %d, %d B, rest %d B: want %g",
					c.Site, d, c.ReLUBytes, p.PolyBytes, p.BytesSaved, reluAct[c.Site], polyAct[c.Site], rest, want)
			}
		}
		t.Logf("degree %d: per-site savings are the steps' differences; rest of the model %d B", d, rest)
	}
}

// TestSiteCostsFloor checks that noise cannot make a weight non-positive.
func TestSiteCostsFloor(t *testing.T) {
	m, err := models.New("lenet", 10, [3]int{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	relu, poly := &Report{OfflineBytes: 1 << 20, CPUPerImage: 0.5}, &Report{CPUPerImage: 0.6}
	for i, s := range m.Sites {
		b := int64(i + 1)
		if i == 0 {
			b = 0 // the polynomial was dearer here
		}
		relu.Layers = append(relu.Layers, Layer{Name: s.Name, Op: string(pi.OpAct), Ms: 1, Bytes: b << 20})
		poly.Layers = append(poly.Layers, Layer{Name: s.Name, Op: string(pi.OpAct), Ms: 0.5, OfflineBytes: 1 << 20})
	}
	relu.OnlineBytes = 10 << 20
	poly.OnlineBytes = 4 << 20
	costs, err := siteCosts(relu, map[int]*Report{2: poly}, m.Sites)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range costs {
		if !(c.Cost > 0) {
			t.Errorf("site %s: cost %v", c.Site, c.Cost)
		}
	}
	if _, err := siteCosts(relu, map[int]*Report{2: {}}, m.Sites); err == nil {
		t.Error("a twin without activation steps was accepted")
	}
}
