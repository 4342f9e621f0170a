package reduce

import (
	"fmt"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

// Penalty is AutoReP's budget loss λ·max(0, density − B/total), with an
// optional cost weight per site.
//
// Without weights, density = Σ m / total (the fraction of ReLUs kept) and
// total is the number of ReLUs of the all-ReLU network. With weights w_s,
// density = Σ_s w_s·count_s / Σ_s w_s·n_s, compared with the same
// B/total; weights all equal reduce to the unweighted loss.
//
// What the weights should be: a mask's private-inference cost is
// C(m) = C_poly + Σ_s w_s·count_s, where C_poly is the cost of the network
// with every position a polynomial and w_s = cost(ReLU) − cost(polynomial)
// is the saving one replaced position of site s brings (package sitecost,
// measured per degree: in the two-party suite a polynomial position is
// not free, and a degree-1 one costs less than a degree-2 one). So the
// weighted density is (C(m) − C_poly)/(C_relu − C_poly), the fraction of
// the cost the search can remove that is still spent: the loss pushes on
// the sites where a replacement saves the most, and a site where it saves
// nothing (w_s floored near 0) keeps its ReLUs for free. The weights must
// be those of the degree the search replaces with (Config.Degree for
// AutoReP, 1 for SNL's identity; Config.replacementDegree).
type Penalty struct {
	// Lambda is the penalty weight λ.
	Lambda float64
	// Budget is B, a number of ReLUs.
	Budget float64
	// Weights holds one cost weight per site (same order as the sites);
	// nil means 1 for every site.
	Weights []float64
}

// weight returns site i's cost weight.
func (p *Penalty) weight(i int) float64 {
	if p.Weights == nil {
		return 1
	}
	return p.Weights[i]
}

// check validates the weights against the sites.
func (p *Penalty) check(sites []*Masked) error {
	if p.Weights != nil && len(p.Weights) != len(sites) {
		return fmt.Errorf("reduce: %d cost weights for %d sites", len(p.Weights), len(sites))
	}
	for i := range sites {
		if w := p.weight(i); !(w > 0) {
			return fmt.Errorf("reduce: cost weight of site %q is %g, want > 0", sites[i].Name, w)
		}
	}
	return nil
}

// Density returns the (weighted) density of kept ReLUs and the limit
// B/total it is compared with.
func (p *Penalty) Density(sites []*Masked) (density, limit float64) {
	var kept, all float64
	total := 0
	for i, s := range sites {
		w := p.weight(i)
		kept += w * float64(s.Count())
		all += w * float64(s.Numel())
		total += s.Numel()
	}
	if all == 0 || total == 0 {
		return 0, 0
	}
	return kept / all, p.Budget / float64(total)
}

// Loss returns the penalty as a scalar Var whose gradient reaches every
// site's score through the straight-through estimator:
// ∂/∂a_i = λ·w_s/Σ w·n · softplus(a_i) while density > limit, 0 otherwise.
// Sites with a frozen mask or no score contribute to the density but
// receive no gradient.
func (p *Penalty) Loss(sites []*Masked) (*autograd.Var, error) {
	if err := p.check(sites); err != nil {
		return nil, err
	}
	density, limit := p.Density(sites)
	over := density - limit
	val := 0.0
	if over > 0 {
		val = p.Lambda * over
	}
	var all float64
	for i, s := range sites {
		all += p.weight(i) * float64(s.Numel())
	}
	parents := make([]*autograd.Var, 0, len(sites))
	for _, s := range sites {
		if !s.Frozen && s.Score != nil {
			parents = append(parents, s.Score)
		}
	}
	out := autograd.Result(tensor.Full(float32(val), 1), func(g *tensor.Tensor) {
		if over <= 0 {
			return
		}
		for i, s := range sites {
			if s.Frozen || s.Score == nil || !s.Score.RequiresGrad() {
				continue
			}
			k := float32(float64(g.Data[0]) * p.Lambda * p.weight(i) / all)
			ga := tensor.New(s.Score.Value.Shape...)
			for j, a := range s.Score.Value.Data {
				ga.Data[j] = k * softplus(a)
			}
			s.Score.AccumGrad(ga)
		}
	}, parents...)
	return out, nil
}

// replacementDegree is the polynomial degree a search replaces ReLUs with:
// AutoReP's Degree (DefaultDegree when unset), 1 for SNL (identity).
func (c *Config) replacementDegree() int {
	switch {
	case c.Method == MethodSNL:
		return 1
	case c.Degree == 0:
		return DefaultDegree
	}
	return c.Degree
}
