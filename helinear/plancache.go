package helinear

import "github.com/autorep/autorep/ring"

// A plan depends only on the layer's shape and the session's parameters,
// and planning searches every tile shape, channel block and packing
// (about 9% of the server's CPU per ResNet-20 image when every call
// planned afresh), so each Params keeps the plans it has made. Plans are
// read-only once built; both parties' calls share them.

// planKey identifies a plan: a convolution's shape, or a fully connected
// layer's in and out (fc); force is the test-only stride decomposition.
type planKey struct {
	conv    ring.ConvParams
	fc      bool
	in, out int
	force   int
}

// planConv returns the plan of convolution p (newPlanConv), made once
// per Params.
func planConv(p ring.ConvParams, pr *Params) (*plan, error) {
	return pr.cachedPlan(planKey{conv: p, force: forceFactor}, func() (*plan, error) { return newPlanConv(p, pr) })
}

// planFC returns the plan of a fully connected layer in → out
// (newPlanFC), made once per Params.
func planFC(in, out int, pr *Params) (*plan, error) {
	return pr.cachedPlan(planKey{fc: true, in: in, out: out}, func() (*plan, error) { return newPlanFC(in, out, pr) })
}

// cachedPlan returns the plan stored under key, or builds and stores it
// (a failed plan is not stored: the error is the caller's every time).
func (p *Params) cachedPlan(key planKey, build func() (*plan, error)) (*plan, error) {
	p.planMu.Lock()
	pl, ok := p.plans[key]
	p.planMu.Unlock()
	if ok {
		return pl, nil
	}
	pl, err := build()
	if err != nil {
		return nil, err
	}
	p.planMu.Lock()
	defer p.planMu.Unlock()
	if old, ok := p.plans[key]; ok {
		return old, nil // built meanwhile by the other party's goroutine
	}
	if p.plans == nil {
		p.plans = map[planKey]*plan{}
	}
	p.plans[key] = pl
	return pl, nil
}
