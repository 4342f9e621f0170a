package nn

import (
	"math/rand"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/kernel"
	"github.com/autorep/autorep/tensor"
)

// chanLeaky is a LayoutActivation for tests: y = relu(x) + k_c·min(x, 0)
// with a slope k_c per channel, so a wrong layout gives wrong values. On
// blocked input it converts to NCHW and back. It records the layouts it
// was applied with.
type chanLeaky struct {
	slope []float32
	seen  map[kernel.Layout]int
}

func (a *chanLeaky) Apply(x *autograd.Var) *autograd.Var { return a.ApplyLayout(x, kernel.NCHW) }

func (a *chanLeaky) ApplyLayout(x *autograd.Var, l kernel.Layout) *autograd.Var {
	a.seen[l]++
	n, c, h, w := need4D("chanLeaky", x)
	hw := h * w
	in := make([]float32, x.Value.Len())
	kernel.FromLayout(l, n, c, hw, x.Value.Data, in)
	d := make([]float32, len(in)) // dy/dx in NCHW order
	y := make([]float32, len(in))
	for i, v := range in {
		k := a.slope[(i/hw)%c]
		if v > 0 {
			y[i], d[i] = v, 1
		} else {
			y[i], d[i] = k*v, k
		}
	}
	out := tensor.New(x.Value.Shape...)
	kernel.ToLayout(l, n, c, hw, y, out.Data)
	return autograd.Result(out, func(g *tensor.Tensor) {
		gn := make([]float32, len(in))
		kernel.FromLayout(l, n, c, hw, g.Data, gn)
		for i := range gn {
			gn[i] *= d[i]
		}
		dx := tensor.New(x.Value.Shape...)
		kernel.ToLayout(l, n, c, hw, gn, dx.Data)
		x.AccumGrad(dx)
	}, x)
}

// layoutActGraph is conv → BN → site → conv → BN → add → site → pool with
// 16 channels; both sites hold a chanLeaky.
func layoutActGraph(act *chanLeaky) *Graph {
	rng := rand.New(rand.NewSource(21))
	g := &Graph{}
	g.Add("conv0", NewConv2d(rng, 3, 16, 3, 1, 1, 1, false)) // 0
	g.Add("bn0", NewBatchNorm2d(16))                         // 1
	g.Add("act0", &Site{Name: "act0", Act: act})             // 2
	g.Add("conv1", NewConv2d(rng, 16, 16, 3, 1, 1, 1, false))
	g.Add("bn1", NewBatchNorm2d(16))
	g.Add("add", &Add{}, 4, 2)
	g.Add("act1", &Site{Name: "act1", Act: act}) // 6
	g.Add("pool", &GlobalAvgPool{})
	g.Add("flat", Flatten{})
	return g
}

// TestLayoutActivationKeepsBlocked checks that sites holding a
// LayoutActivation are planned blocked and run with kernel.Blocked, and
// that outputs and gradients equal the plain (NoFusion, NCHW) execution.
func TestLayoutActivationKeepsBlocked(t *testing.T) {
	rng := rand.New(rand.NewSource(22))
	slope := make([]float32, 16)
	for i := range slope {
		slope[i] = float32(i) / 16
	}
	x := randTensor(rng, 4, 3, 6, 6)
	seed := randTensor(rng, 4, 16)
	actA := &chanLeaky{slope: slope, seen: map[kernel.Layout]int{}}
	actB := &chanLeaky{slope: slope, seen: map[kernel.Layout]int{}}
	a, b := layoutActGraph(actA), layoutActGraph(actB)
	b.NoFusion = true
	plan := a.planLayouts()
	if plan == nil || !plan[2] || !plan[6] {
		t.Fatalf("LayoutActivation sites not planned blocked: %v", plan)
	}
	ya, err := a.Run(autograd.Const(x))
	if err != nil {
		t.Fatal(err)
	}
	yb, err := b.Run(autograd.Const(x))
	if err != nil {
		t.Fatal(err)
	}
	if actA.seen[kernel.Blocked] != 2 || actB.seen[kernel.NCHW] != 2 || actB.seen[kernel.Blocked] != 0 {
		t.Fatalf("layouts seen: fused %v, plain %v", actA.seen, actB.seen)
	}
	if d := relDiff(ya.Value, yb.Value); d > 1e-4 {
		t.Errorf("output differs by %g", d)
	}
	ya.Backward(seed.Clone())
	yb.Backward(seed.Clone())
	pa, pb := NamedParameters(a), NamedParameters(b)
	for i := range pa {
		if pa[i].Var.Grad == nil || pb[i].Var.Grad == nil {
			t.Fatalf("no gradient for %s", pa[i].Name)
		}
		if d := relDiff(pa[i].Var.Grad, pb[i].Var.Grad); d > 1e-3 {
			t.Errorf("gradient of %s differs by %g", pa[i].Name, d)
		}
	}
	// An activation without ApplyLayout still forces NCHW around its site.
	c := blockedGraph()
	if p := c.planLayouts(); p[12] {
		t.Error("PolyMask site planned blocked")
	}
}
