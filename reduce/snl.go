package reduce

import (
	"fmt"
	"math"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/kernel"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
)

// SNL reference settings (Selective Network Linearization, ICML 2022).
const (
	SNLThreshold  = 0.01 // α above this counts as a ReLU and is kept when binarising
	SNLEta0       = 1e-5 // initial L1 weight η
	SNLEtaGrowth  = 1.1  // η multiplier after an epoch without a new low
	SNLEtaFromEp  = 5    // the η schedule starts at this (1-based) epoch
	SNLFinetuneLR = 1e-3 // SGD learning rate of the finetune
)

// SNLAct is SNL's relaxed activation y = α ⊙ relu(x) + (1 − α) ⊙ x with a
// trainable real α per element (shape C×H×W, init 1). It implements
// nn.Activation.
type SNLAct struct {
	// Name is the site's dotted name.
	Name string
	// Shape is the per-image shape (C, H, W or C).
	Shape []int
	// Alpha is the trainable α.
	Alpha *autograd.Var
	// order caches the blocked storage order of the site.
	order []int32
}

// NewSNL returns an SNL activation with α = 1 (plain ReLU).
func NewSNL(name string, shape []int) (*SNLAct, error) {
	if len(shape) == 0 || tensor.Numel(shape) <= 0 {
		return nil, fmt.Errorf("reduce: site %q: bad shape %v", name, shape)
	}
	return &SNLAct{Name: name, Shape: append([]int(nil), shape...), Alpha: autograd.Param(tensor.Full(1, shape...))}, nil
}

// Count is the number of α above SNLThreshold (the ReLUs SNL would keep).
func (a *SNLAct) Count() int {
	n := 0
	for _, v := range a.Alpha.Value.Data {
		if v > SNLThreshold {
			n++
		}
	}
	return n
}

// Numel is the number of elements of the site.
func (a *SNLAct) Numel() int { return a.Alpha.Value.Len() }

// Parameters implements nn.ParamHolder ("alpha").
func (a *SNLAct) Parameters() []nn.Named { return []nn.Named{{Name: "alpha", Var: a.Alpha}} }

// ReLUCount implements nn.ReLUCounter (same as Count).
func (a *SNLAct) ReLUCount() int { return a.Count() }

// Apply computes α ⊙ relu(x) + (1 − α) ⊙ x for x of shape [N, Shape...].
func (a *SNLAct) Apply(x *autograd.Var) *autograd.Var { return a.ApplyLayout(x, kernel.NCHW) }

// ApplyLayout implements nn.LayoutActivation: Apply for x [N, C, H, W]
// stored in layout l (α is laid out to match).
func (a *SNLAct) ApplyLayout(x *autograd.Var, l kernel.Layout) *autograd.Var {
	return a.ApplyLayoutInto(x, l, nil)
}

// ApplyLayoutInto implements nn.PooledLayoutActivation: ApplyLayout with
// the output stored in y (nil: a new buffer).
func (a *SNLAct) ApplyLayoutInto(x *autograd.Var, l kernel.Layout, y []float32) *autograd.Var {
	numel := a.Alpha.Value.Len()
	if len(x.Value.Shape) < 2 || tensor.Numel(x.Value.Shape[1:]) != numel {
		panic(&nn.ShapeError{Op: "reduce site " + a.Name, Msg: fmt.Sprintf("input %v does not match site shape %v", x.Value.Shape, a.Shape)})
	}
	order := storageOrder(a.Shape, l, &a.order)
	al := stored(a.Alpha.Value.Data, order)
	out := outTensor(x.Value, y)
	snlForward(x.Value.Data, out.Data, al)
	return autograd.Result(out, func(g *tensor.Tensor) {
		// dx overwrites g, which belongs to this op's output.
		var dxd []float32
		if x.RequiresGrad() {
			dxd = g.Data
		}
		da := snlBackward(x.Value.Data, g.Data, dxd, al, order, a.Alpha.RequiresGrad())
		if dxd != nil {
			x.AccumGrad(g)
		}
		if da != nil {
			a.Alpha.AccumGrad(tensor.FromData(da, a.Alpha.Value.Shape...))
		}
	}, x, a.Alpha)
}

// Binarize returns the fixed mixed activation SNL ends with: mask = [α >
// SNLThreshold], the replaced elements become the identity (polynomial c0 =
// 0, c1 = 1), coefficients frozen.
func (a *SNLAct) Binarize() (*Masked, error) {
	mask := make([]float32, a.Numel())
	for i, v := range a.Alpha.Value.Data {
		if v > SNLThreshold {
			mask[i] = 1
		}
	}
	coef := make([][]float32, a.Shape[0])
	for i := range coef {
		coef[i] = []float32{0, 1}
	}
	m, err := NewFixed(a.Name, a.Shape, mask, coef)
	if err != nil {
		return nil, err
	}
	m.Coef.SetRequiresGrad(false)
	return m, nil
}

// L1 returns η·Σ|α| over the sites as a scalar Var (gradient η·sign(α)).
func L1(sites []*SNLAct, eta float64) *autograd.Var {
	var sum float64
	parents := make([]*autograd.Var, len(sites))
	for i, s := range sites {
		parents[i] = s.Alpha
		for _, v := range s.Alpha.Value.Data {
			sum += math.Abs(float64(v))
		}
	}
	return autograd.Result(tensor.Full(float32(eta*sum), 1), func(g *tensor.Tensor) {
		k := float32(float64(g.Data[0]) * eta)
		for _, s := range sites {
			if !s.Alpha.RequiresGrad() {
				continue
			}
			ga := tensor.New(s.Alpha.Value.Shape...)
			for j, v := range s.Alpha.Value.Data {
				switch {
				case v > 0:
					ga.Data[j] = k
				case v < 0:
					ga.Data[j] = -k
				}
			}
			s.Alpha.AccumGrad(ga)
		}
	}, parents...)
}

// EtaSchedule is SNL's L1-weight schedule: η starts at SNLEta0 and is
// multiplied by SNLEtaGrowth after every epoch (from epoch SNLEtaFromEp on)
// in which the ReLU count did not reach a new low.
type EtaSchedule struct {
	// Eta is the current weight.
	Eta float64
	// Best is the lowest count seen so far (−1 before the first epoch).
	Best int
}

// NewEtaSchedule returns the schedule at its start.
func NewEtaSchedule() *EtaSchedule { return &EtaSchedule{Eta: SNLEta0, Best: -1} }

// EndEpoch records the count at the end of (1-based) epoch and updates η.
func (e *EtaSchedule) EndEpoch(epoch, count int) {
	newLow := e.Best < 0 || count < e.Best
	if newLow {
		e.Best = count
	}
	if epoch >= SNLEtaFromEp && !newLow {
		e.Eta *= SNLEtaGrowth
	}
}
