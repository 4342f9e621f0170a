package sitecost

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Floor is the smallest cost Derive gives a site, relative to the mean
// cost of the degree: timing noise, or a polynomial that costs as much as
// a ReLU, must never give a site a zero or negative weight.
const Floor = 0.01

// Run is what Derive needs of one measured private-inference run of a
// model, per image.
type Run struct {
	// ActMs maps a site name to the mean wall time (ms) of its
	// activation step.
	ActMs map[string]float64
	// ActBytes maps a site name to its activation step's traffic (both
	// directions, online and offline: the step's share of the request's
	// offline phase, such as its bit triples or PolyHE masks, and any made
	// while it ran; nil = not attributed, then all traffic is in Bytes'
	// remainder).
	ActBytes map[string]int64
	// Bytes is the run's whole traffic without the session setup (offline
	// and online, both parties, dealer material included).
	Bytes int64
	// CPU is the process CPU time (s) of the run's private inferences (all
	// parties; 0 = not measured).
	CPU float64
}

// SiteSize names a site and its number of positions (ReLUs per image).
type SiteSize struct {
	Name  string
	ReLUs int
}

// Derive computes the per-site costs from runs of the same images: relu
// with every site all ReLU, and poly[d] with every site all polynomial of
// degree d. A site's cost per ReLU position for degree d is the saving a
// replacement brings: the CPU time saved per position plus the bytes saved
// per position, counted as microseconds to ship them over a link of
// linkGbps Gbit/s. The bytes saved are the step's own difference plus the
// change of the rest of the model's traffic (the dealer suite's material,
// any traffic not attributed to a step) spread evenly over all positions
// (every position was replaced). The CPU saved is the whole run's
// difference spread evenly too: the parties run in one process, so CPU
// is not attributed to steps, and a position's gates cost the same at
// every site but for per-step overheads. The steps' wall-time differences
// are recorded (OnlineUs) but not counted: on a shared machine they measure
// the scheduler more than the protocol. Each degree's costs are floored at
// Floor times their mean. Site.Cost is the degree-2 cost if measured, else
// the lowest degree's.
func Derive(sites []SiteSize, relu Run, poly map[int]Run, linkGbps float64) ([]Site, error) {
	if !(linkGbps > 0) || math.IsInf(linkGbps, 0) {
		return nil, fmt.Errorf("link speed %g Gbit/s, want > 0", linkGbps)
	}
	if len(poly) == 0 {
		return nil, errors.New("no polynomial run")
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
	degrees := make([]int, 0, len(poly))
	for d := range poly {
		if d < 1 || d > MaxDegree {
			return nil, fmt.Errorf("polynomial run of degree %d", d)
		}
		degrees = append(degrees, d)
	}
	sort.Ints(degrees)
	out := make([]Site, len(sites))
	for i, s := range sites {
		rm, ok := relu.ActMs[s.Name]
		if !ok {
			return nil, fmt.Errorf("site %s has no activation step in the all-ReLU plan", s.Name)
		}
		out[i] = Site{Site: s.Name, ReLUs: s.ReLUs, ReLUMs: rm, ReLUBytes: relu.ActBytes[s.Name]}
	}
	linkBps := linkGbps * 1e9 / 8
	for _, d := range degrees {
		p := poly[d]
		rest := (relu.Bytes - sum(relu.ActBytes)) - (p.Bytes - sum(p.ActBytes))
		share := float64(rest) / float64(positions)
		cpuUs := (relu.CPU - p.CPU) * 1e6 / float64(positions)
		var mean float64
		for i, s := range sites {
			pm, ok := p.ActMs[s.Name]
			if !ok {
				return nil, fmt.Errorf("site %s has no activation step in the degree-%d plan", s.Name, d)
			}
			c := Poly{Degree: d, PolyMs: pm, PolyBytes: p.ActBytes[s.Name],
				OnlineUs:   (out[i].ReLUMs - pm) * 1e3 / float64(s.ReLUs),
				CPUUs:      cpuUs,
				BytesSaved: float64(out[i].ReLUBytes-p.ActBytes[s.Name])/float64(s.ReLUs) + share}
			c.BytesUs = c.BytesSaved / linkBps * 1e6
			c.Cost = c.CPUUs + c.BytesUs
			mean += c.Cost / float64(len(sites))
			out[i].Degrees = append(out[i].Degrees, c)
		}
		floor := Floor * mean
		if !(floor > 0) {
			floor = 1e-9 // no site saves anything: equal weights
		}
		for i := range out {
			c := &out[i].Degrees[len(out[i].Degrees)-1]
			c.Cost = math.Max(c.Cost, floor)
		}
	}
	for i := range out {
		out[i].Cost = out[i].Degrees[0].Cost
		for _, c := range out[i].Degrees {
			if c.Degree == 2 {
				out[i].Cost = c.Cost
			}
		}
	}
	return out, nil
}

func sum(m map[string]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}
