package optim

import (
	"fmt"

	"github.com/autorep/autorep/tensor"
)

// SGDConfig holds SGD hyper-parameters (PyTorch's torch.optim.SGD).
type SGDConfig struct {
	LR        float64
	Momentum  float64
	Dampening float64
	Nesterov  bool
}

// SGD is stochastic gradient descent with PyTorch semantics:
//
//	g = grad + wd·p
//	b = g (first step), else b = μ·b + (1−dampening)·g
//	g = g + μ·b (Nesterov) or g = b
//	p = p − lr·g
type SGD struct {
	cfg    SGDConfig
	groups []Group
	bufs   map[string]*tensor.Tensor // "<param>.momentum_buffer"
}

// NewSGD returns an SGD optimiser over groups.
func NewSGD(groups []Group, cfg SGDConfig) (*SGD, error) {
	if err := checkNames(groups); err != nil {
		return nil, err
	}
	if cfg.LR < 0 || cfg.Momentum < 0 || cfg.Dampening < 0 {
		return nil, fmt.Errorf("optim: SGD lr, momentum and dampening must be non-negative")
	}
	if cfg.Nesterov && (cfg.Momentum <= 0 || cfg.Dampening != 0) {
		return nil, fmt.Errorf("optim: Nesterov momentum requires momentum > 0 and zero dampening")
	}
	for _, g := range groups {
		if g.WeightDecay < 0 || g.LRScale < 0 {
			return nil, fmt.Errorf("optim: negative weight decay or LR scale")
		}
	}
	return &SGD{cfg: cfg, groups: groups, bufs: map[string]*tensor.Tensor{}}, nil
}

// Step implements Optimizer.
func (o *SGD) Step() {
	mu := float32(o.cfg.Momentum)
	damp := 1 - float32(o.cfg.Dampening)
	for gi := range o.groups {
		g := &o.groups[gi]
		lr := float32(o.cfg.LR) * g.scale()
		wd := float32(g.WeightDecay)
		for _, p := range g.Params {
			if p.Var.Grad == nil {
				continue
			}
			w, grad := p.Var.Value.Data, p.Var.Grad.Data
			if mu == 0 {
				for i := range w {
					w[i] -= lr * (grad[i] + wd*w[i])
				}
				continue
			}
			key := p.Name + ".momentum_buffer"
			buf, ok := o.bufs[key]
			if !ok {
				buf = tensor.New(p.Var.Value.Shape...)
				o.bufs[key] = buf
			}
			b := buf.Data
			for i := range w {
				d := grad[i] + wd*w[i]
				if ok {
					b[i] = mu*b[i] + damp*d
				} else {
					b[i] = d
				}
				if o.cfg.Nesterov {
					d += mu * b[i]
				} else {
					d = b[i]
				}
				w[i] -= lr * d
			}
		}
	}
}

// ZeroGrad implements Optimizer.
func (o *SGD) ZeroGrad() { zeroGrad(o.groups) }

// LR implements Optimizer.
func (o *SGD) LR() float64 { return o.cfg.LR }

// SetLR implements Optimizer.
func (o *SGD) SetLR(lr float64) { o.cfg.LR = lr }

// Groups implements Optimizer.
func (o *SGD) Groups() []Group { return o.groups }

// State implements Optimizer.
func (o *SGD) State() State {
	return State{Kind: "sgd", LR: o.cfg.LR, Tensors: cloneTensors(o.bufs)}
}

// LoadState implements Optimizer.
func (o *SGD) LoadState(s State) error {
	bufs, err := loadBuffers(s, "sgd", o.groups, []string{"momentum_buffer"})
	if err != nil {
		return err
	}
	o.bufs = bufs
	o.cfg.LR = s.LR
	return nil
}
