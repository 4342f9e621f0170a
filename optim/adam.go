package optim

import (
	"fmt"
	"math"

	"github.com/autorep/autorep/tensor"
)

// AdamConfig holds Adam hyper-parameters (PyTorch's torch.optim.Adam;
// zero Beta1/Beta2/Eps take PyTorch's defaults 0.9, 0.999, 1e-8).
type AdamConfig struct {
	LR           float64
	Beta1, Beta2 float64
	Eps          float64
	// Decoupled applies weight decay as in AdamW (p −= lr·wd·p) instead of
	// adding wd·p to the gradient.
	Decoupled bool
}

// Adam is the Adam optimiser with PyTorch semantics (amsgrad off):
//
//	t += 1; g = grad + wd·p
//	m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//	p = p − lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + ε)
type Adam struct {
	cfg    AdamConfig
	groups []Group
	bufs   map[string]*tensor.Tensor // "<param>.exp_avg", "<param>.exp_avg_sq"
	steps  map[string]int64
}

// NewAdam returns an Adam optimiser over groups.
func NewAdam(groups []Group, cfg AdamConfig) (*Adam, error) {
	if err := checkNames(groups); err != nil {
		return nil, err
	}
	if cfg.Beta1 == 0 {
		cfg.Beta1 = 0.9
	}
	if cfg.Beta2 == 0 {
		cfg.Beta2 = 0.999
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	if cfg.LR < 0 || cfg.Beta1 < 0 || cfg.Beta1 >= 1 || cfg.Beta2 < 0 || cfg.Beta2 >= 1 || cfg.Eps < 0 {
		return nil, fmt.Errorf("optim: invalid Adam hyper-parameters %+v", cfg)
	}
	for _, g := range groups {
		if g.WeightDecay < 0 || g.LRScale < 0 {
			return nil, fmt.Errorf("optim: negative weight decay or LR scale")
		}
	}
	return &Adam{cfg: cfg, groups: groups, bufs: map[string]*tensor.Tensor{}, steps: map[string]int64{}}, nil
}

// Step implements Optimizer.
func (o *Adam) Step() {
	b1, b2 := float32(o.cfg.Beta1), float32(o.cfg.Beta2)
	eps := float32(o.cfg.Eps)
	for gi := range o.groups {
		g := &o.groups[gi]
		lr := float32(o.cfg.LR) * g.scale()
		wd := float32(g.WeightDecay)
		for _, p := range g.Params {
			if p.Var.Grad == nil {
				continue
			}
			m, ok := o.bufs[p.Name+".exp_avg"]
			if !ok {
				m = tensor.New(p.Var.Value.Shape...)
				o.bufs[p.Name+".exp_avg"] = m
			}
			v, ok := o.bufs[p.Name+".exp_avg_sq"]
			if !ok {
				v = tensor.New(p.Var.Value.Shape...)
				o.bufs[p.Name+".exp_avg_sq"] = v
			}
			o.steps[p.Name]++
			t := float64(o.steps[p.Name])
			bc1 := float32(1 - math.Pow(o.cfg.Beta1, t))
			bc2sqrt := float32(math.Sqrt(1 - math.Pow(o.cfg.Beta2, t)))
			stepSize := lr / bc1
			w, grad, md, vd := p.Var.Value.Data, p.Var.Grad.Data, m.Data, v.Data
			for i := range w {
				d := grad[i]
				if wd != 0 {
					if o.cfg.Decoupled {
						w[i] -= lr * wd * w[i]
					} else {
						d += wd * w[i]
					}
				}
				md[i] = b1*md[i] + (1-b1)*d
				vd[i] = b2*vd[i] + (1-b2)*d*d
				denom := float32(math.Sqrt(float64(vd[i])))/bc2sqrt + eps
				w[i] -= stepSize * md[i] / denom
			}
		}
	}
}

// ZeroGrad implements Optimizer.
func (o *Adam) ZeroGrad() { zeroGrad(o.groups) }

// LR implements Optimizer.
func (o *Adam) LR() float64 { return o.cfg.LR }

// SetLR implements Optimizer.
func (o *Adam) SetLR(lr float64) { o.cfg.LR = lr }

// Groups implements Optimizer.
func (o *Adam) Groups() []Group { return o.groups }

// State implements Optimizer.
func (o *Adam) State() State {
	return State{Kind: "adam", LR: o.cfg.LR, Steps: cloneSteps(o.steps), Tensors: cloneTensors(o.bufs)}
}

// LoadState implements Optimizer.
func (o *Adam) LoadState(s State) error {
	bufs, err := loadBuffers(s, "adam", o.groups, []string{"exp_avg", "exp_avg_sq"})
	if err != nil {
		return err
	}
	for name, n := range s.Steps {
		if n < 0 {
			return fmt.Errorf("optim: negative step count for %q", name)
		}
		_, a := bufs[name+".exp_avg"]
		_, b := bufs[name+".exp_avg_sq"]
		if n > 0 && (!a || !b) {
			return fmt.Errorf("optim: parameter %q has a step count but no moment buffers", name)
		}
	}
	o.bufs = bufs
	o.steps = cloneSteps(s.Steps)
	o.cfg.LR = s.LR
	return nil
}
