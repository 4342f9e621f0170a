package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/reduce"
)

// siteCost is one activation site's measured private-inference cost: the
// difference between the site evaluated as ReLUs and as polynomials, per
// ReLU position. It is what keeping one ReLU at that site costs, which is
// what `autorep reduce --cost` weighs the budget loss with.
type siteCost struct {
	Site  string `json:"site"`
	ReLUs int    `json:"relus"`
	// ReLUMs and PolyMs are the site's mean online time per image with
	// every position a ReLU, and with every position a polynomial.
	ReLUMs float64 `json:"relu_ms"`
	PolyMs float64 `json:"poly_ms"`
	// OnlineUs is (ReLUMs − PolyMs) per position, in microseconds.
	OnlineUs float64 `json:"online_us_per_relu"`
	// MaterialUs is the extra dealer material of a ReLU position over a
	// polynomial one, as microseconds to ship it over the LAN link.
	MaterialUs float64 `json:"material_us_per_relu"`
	// Cost is OnlineUs + MaterialUs, floored at a hundredth of the mean so
	// that timing noise never gives a site a zero or negative weight.
	Cost float64 `json:"cost_us_per_relu"`
}

// costFloor is the smallest cost weight, relative to the mean weight.
const costFloor = 0.01

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

// polyTwin replaces every site's activation by a degree-2 polynomial (DaPa
// for a standard normal input: the weights' scale does not matter for cost).
func polyTwin(m *models.Model) error {
	coef, err := reduce.DaPa(0, 1, 2)
	if err != nil {
		return err
	}
	for _, s := range m.Sites {
		p := nn.NewPolyMask(s.Shape, 2)
		for i := range p.Mask {
			p.Mask[i] = 0
		}
		for _, row := range p.Coef {
			for d := range row {
				row[d] = float32(coef[d])
			}
		}
		s.Act = p
	}
	return nil
}

// measureSiteCosts runs the same n images through m with every site a
// polynomial and compares each activation step with the all-ReLU report
// base (measured by the caller on the unmodified m). m is modified.
func measureSiteCosts(m *models.Model, cfg pi.Config, set *data.Set, n int, trans string, lazy bool, base *piReport) ([]siteCost, error) {
	if err := polyTwin(m); err != nil {
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
// all-polynomial run of the same plan shape.
func siteCosts(relu, poly *piReport, sites []*nn.Site) ([]siteCost, error) {
	polyMs := map[string]float64{}
	for _, l := range poly.Layers {
		if l.Op == string(pi.OpAct) {
			polyMs[l.Name] = l.Ms
		}
	}
	var positions int
	for _, s := range sites {
		positions += s.Size()
	}
	if positions == 0 {
		return nil, fmt.Errorf("the model has no activation sites")
	}
	// Every ReLU gate of the all-ReLU run became a polynomial in the twin
	// (max-pool comparisons are in both), so the material difference is
	// spread evenly over the positions.
	extra := float64(relu.ServerMaterial+relu.ClientMaterial-poly.ServerMaterial-poly.ClientMaterial) / float64(positions)
	lanBps := costNets[0].Gbps * 1e9 / 8
	byName := map[string]piLayer{}
	for _, l := range relu.Layers {
		if l.Op == string(pi.OpAct) {
			byName[l.Name] = l
		}
	}
	out := make([]siteCost, 0, len(sites))
	var sum float64
	for _, s := range sites {
		l, ok := byName[s.Name]
		pm, ok2 := polyMs[s.Name]
		if !ok || !ok2 {
			return nil, fmt.Errorf("site %s has no activation step in the plan", s.Name)
		}
		c := siteCost{Site: s.Name, ReLUs: s.Size(), ReLUMs: l.Ms, PolyMs: pm,
			OnlineUs:   (l.Ms - pm) * 1e3 / float64(s.Size()),
			MaterialUs: extra / lanBps * 1e6}
		c.Cost = c.OnlineUs + c.MaterialUs
		sum += c.Cost
		out = append(out, c)
	}
	floor := costFloor * sum / float64(len(out))
	if !(floor > 0) {
		floor = 1e-9
	}
	for i := range out {
		out[i].Cost = math.Max(out[i].Cost, floor)
	}
	return out, nil
}

// writeCostFile writes the costs as `autorep reduce --cost` reads them:
// a JSON object from site name to cost per ReLU.
func writeCostFile(path string, costs []siteCost) error {
	obj := make(map[string]float64, len(costs))
	for _, c := range costs {
		obj[c.Site] = c.Cost
	}
	b, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--cost-out: %w", err)
	}
	return nil
}
