package bench

import (
	"fmt"
	"runtime"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/reduce"
	"github.com/autorep/autorep/reduce/sitecost"
)

// CostDegrees are the polynomial degrees SiteCosts measures: the ones
// private inference evaluates (a suite may run degree 1 cheaper).
var CostDegrees = []int{1, 2}

// AllReLU reports whether every site of m evaluates a ReLU at every
// position (no activation, or an all-ones PolyMask): site costs are
// measured on such a model.
func AllReLU(m *models.Model) error {
	for _, s := range m.Sites {
		if s.ReLUCount() != s.Size() {
			return fmt.Errorf("site %s keeps %d of its %d ReLUs; --cost-out needs an all-ReLU model", s.Name, s.ReLUCount(), s.Size())
		}
	}
	return nil
}

// SiteCosts runs the same n images through m with every site a polynomial
// of each degree of CostDegrees, then all ReLU again, in the suite and
// configuration of base (the all-ReLU report, measured by the caller on
// the unmodified m with Measure), and derives each site's saving per
// replaced position (sitecost.Derive, bytes counted on Networks[0]), with
// the mean CPU time of the two all-ReLU runs (the first run of a process
// pays warm-up costs the later ones do not). It returns the file to write.
// m's activations are restored at the end.
func SiteCosts(m *models.Model, cfg pi.Config, set *data.Set, n int, o Options, base *Report) (sitecost.File, error) {
	f := sitecost.File{Suite: base.Suite, LinkGbps: Networks[0].Gbps, Runs: []sitecost.RunInfo{runInfo("relu", base)}}
	restore := keepActs(m.Sites)
	defer restore()
	run := func(name string) (*Report, error) {
		plan, err := pi.Compile(m, cfg)
		if err != nil {
			return nil, fmt.Errorf("%s run: %w", name, err)
		}
		r := &Report{Suite: base.Suite, N: n}
		// Collect the previous run's garbage now, so that its cost does
		// not land in this run's CPU time.
		runtime.GC()
		if err := Measure(plan, m, set, n, o, r); err != nil {
			return nil, fmt.Errorf("%s run: %w", name, err)
		}
		f.Runs = append(f.Runs, runInfo(name, r))
		return r, nil
	}
	twins := map[int]*Report{}
	for _, d := range CostDegrees {
		if err := reduce.PolyTwinDegree(m.Sites, d); err != nil {
			return f, err
		}
		r, err := run(fmt.Sprintf("poly%d", d))
		if err != nil {
			return f, err
		}
		twins[d] = r
	}
	restore()
	again, err := run("relu-repeat")
	if err != nil {
		return f, err
	}
	relu := *base
	relu.CPUPerImage = (base.CPUPerImage + again.CPUPerImage) / 2
	f.Sites, err = siteCosts(&relu, twins, m.Sites)
	return f, err
}

// keepActs records the sites' activations and returns the function that
// puts them back.
func keepActs(sites []*nn.Site) (restore func()) {
	acts := make([]nn.Activation, len(sites))
	for i, s := range sites {
		acts[i] = s.Act
	}
	return func() {
		for i, s := range sites {
			s.Act = acts[i]
		}
	}
}

// runInfo is the cost file's record of a run.
func runInfo(name string, r *Report) sitecost.RunInfo {
	return sitecost.RunInfo{Name: name, Images: r.N, CPU: r.CPUPerImage, Bytes: r.OfflineBytes + r.OnlineBytes, LatencyMs: r.P50}
}

// siteCosts derives the per-site costs from an all-ReLU report and the
// all-polynomial reports of each degree, of the same plan shape, bytes
// counted on the LAN link of the cost model.
func siteCosts(relu *Report, poly map[int]*Report, sites []*nn.Site) ([]sitecost.Site, error) {
	sizes := make([]sitecost.SiteSize, len(sites))
	for i, s := range sites {
		sizes[i] = sitecost.SiteSize{Name: s.Name, ReLUs: s.Size()}
	}
	runs := make(map[int]sitecost.Run, len(poly))
	for d, r := range poly {
		runs[d] = costRun(r)
	}
	return sitecost.Derive(sizes, costRun(relu), runs, Networks[0].Gbps)
}

// costRun is what sitecost.Derive needs of a report: per image, each
// activation step's wall time and traffic (online and offline: the
// step's share of the request's offline phase, such as its bit triples
// or PolyHE masks, and any made while it ran), all traffic but the
// session setup, and the process CPU time.
func costRun(r *Report) sitecost.Run {
	run := sitecost.Run{ActMs: map[string]float64{}, ActBytes: map[string]int64{}, Bytes: r.OfflineBytes + r.OnlineBytes, CPU: r.CPUPerImage}
	for _, l := range r.Layers {
		if l.Op == string(pi.OpAct) {
			run.ActMs[l.Name] = l.Ms
			run.ActBytes[l.Name] = l.Bytes + l.OfflineBytes
		}
	}
	return run
}
