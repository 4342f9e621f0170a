package main

import (
	"fmt"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/reduce"
	"github.com/autorep/autorep/reduce/sitecost"
)

// siteCost is one site's measured cost in bench pi's report (site_costs).
type siteCost = sitecost.Site

// allReLU reports whether every site of m evaluates a ReLU at every
// position (no activation, or an all-ones PolyMask).
func allReLU(m *models.Model) error {
	for _, s := range m.Sites {
		if s.ReLUCount() != s.Size() {
			return fmt.Errorf("site %s keeps %d of its %d ReLUs; --cost-out needs an all-ReLU model", s.Name, s.ReLUCount(), s.Size())
		}
	}
	return nil
}

// measureSiteCosts runs the same n images through m with every site a
// polynomial and compares each activation step with the all-ReLU report
// base (measured by the caller on the unmodified m). m is modified.
func measureSiteCosts(m *models.Model, cfg pi.Config, set *data.Set, n int, trans string, lazy bool, base *piReport) ([]siteCost, error) {
	if err := reduce.PolyTwin(m.Sites); err != nil {
		return nil, err
	}
	plan, err := pi.Compile(m, cfg)
	if err != nil {
		return nil, fmt.Errorf("all-polynomial twin: %w", err)
	}
	twin := &piReport{}
	if err := benchPI(plan, m, set, n, trans, lazy, twin); err != nil {
		return nil, fmt.Errorf("all-polynomial twin: %w", err)
	}
	return siteCosts(base, twin, m.Sites)
}

// siteCosts derives the per-site costs from an all-ReLU and an
// all-polynomial report of the same plan shape, material counted on the
// LAN link of the cost model.
func siteCosts(relu, poly *piReport, sites []*nn.Site) ([]siteCost, error) {
	sizes := make([]sitecost.SiteSize, len(sites))
	for i, s := range sites {
		sizes[i] = sitecost.SiteSize{Name: s.Name, ReLUs: s.Size()}
	}
	return sitecost.Derive(sizes, costRun(relu), costRun(poly), costNets[0].Gbps)
}

// costRun is what sitecost.Derive needs of a bench pi report.
func costRun(r *piReport) sitecost.Run {
	run := sitecost.Run{ActMs: map[string]float64{}, Material: r.ServerMaterial + r.ClientMaterial}
	for _, l := range r.Layers {
		if l.Op == string(pi.OpAct) {
			run.ActMs[l.Name] = l.Ms
		}
	}
	return run
}

// writeCostFile writes the costs measured with the dealer suite (the one
// benchPI runs) as `autorep reduce --cost` reads them.
func writeCostFile(path string, costs []siteCost) error {
	if err := sitecost.Write(path, sitecost.File{Suite: "dealer", Sites: costs}); err != nil {
		return fmt.Errorf("--cost-out: %w", err)
	}
	return nil
}
