package sitecost

import (
	"errors"
	"fmt"
	"math"
)

// Floor is the smallest cost Derive gives a site, relative to the mean
// cost: timing noise must never give a site a zero or negative weight.
const Floor = 0.01

// Run is what Derive needs of one measured private-inference run of a
// model: per image, each site's activation step time and the offline
// material of the whole model.
type Run struct {
	// ActMs maps a site name to the mean online time (ms) of its
	// activation step.
	ActMs map[string]float64
	// Material is the offline material (bytes, both parties together).
	Material int64
}

// SiteSize names a site and its number of positions (ReLUs per image).
type SiteSize struct {
	Name  string
	ReLUs int
}

// Derive computes the per-site costs from two runs of the same images: relu
// with every site all ReLU, poly with every site all polynomial. A site's
// cost per ReLU position is its online time difference per position plus
// the material difference, which is spread evenly over all positions (every
// ReLU gate became a polynomial; max-pool comparisons are in both runs) and
// counted as microseconds to ship it over a link of linkGbps Gbit/s. Costs
// are floored at Floor times the mean.
func Derive(sites []SiteSize, relu, poly Run, linkGbps float64) ([]Site, error) {
	if !(linkGbps > 0) || math.IsInf(linkGbps, 0) {
		return nil, fmt.Errorf("link speed %g Gbit/s, want > 0", linkGbps)
	}
	var positions int
	for _, s := range sites {
		if s.ReLUs <= 0 {
			return nil, fmt.Errorf("site %s has %d positions", s.Name, s.ReLUs)
		}
		positions += s.ReLUs
	}
	if positions == 0 {
		return nil, errors.New("the model has no activation sites")
	}
	extra := float64(relu.Material-poly.Material) / float64(positions)
	linkBps := linkGbps * 1e9 / 8
	out := make([]Site, 0, len(sites))
	var sum float64
	for _, s := range sites {
		rm, ok := relu.ActMs[s.Name]
		pm, ok2 := poly.ActMs[s.Name]
		if !ok || !ok2 {
			return nil, fmt.Errorf("site %s has no activation step in the plan", s.Name)
		}
		c := Site{Site: s.Name, ReLUs: s.ReLUs, ReLUMs: rm, PolyMs: pm,
			OnlineUs:   (rm - pm) * 1e3 / float64(s.ReLUs),
			MaterialUs: extra / linkBps * 1e6}
		c.Cost = c.OnlineUs + c.MaterialUs
		sum += c.Cost
		out = append(out, c)
	}
	floor := Floor * sum / float64(len(out))
	if !(floor > 0) {
		floor = 1e-9
	}
	for i := range out {
		out[i].Cost = math.Max(out[i].Cost, floor)
	}
	return out, nil
}
