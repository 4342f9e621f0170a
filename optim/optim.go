// Package optim implements the optimisers used for training (SGD with
// momentum / Nesterov / weight decay and Adam, both with PyTorch's update
// rules), parameter groups, learning-rate schedules (cosine with linear
// warm-up), and export/import of optimiser state so an interrupted run
// resumes exactly.
package optim

import (
	"fmt"
	"strings"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
)

// Param is a named trainable variable.
type Param struct {
	Name string
	Var  *autograd.Var
}

// Group is a set of parameters sharing hyper-parameters, like a PyTorch
// param group.
type Group struct {
	Params []Param
	// WeightDecay is the L2 penalty coefficient for this group.
	WeightDecay float64
	// LRScale multiplies the optimiser's learning rate for this group;
	// 0 means 1.
	LRScale float64
}

func (g *Group) scale() float32 {
	if g.LRScale == 0 {
		return 1
	}
	return float32(g.LRScale)
}

// SplitDecay returns two groups: parameters with at most one dimension
// (biases, batch-norm scales and shifts) without weight decay, the rest
// with wd — the usual "no decay on BN and bias" recipe. Empty groups are
// omitted.
func SplitDecay(params []Param, wd float64) []Group {
	var decay, noDecay []Param
	for _, p := range params {
		if len(p.Var.Value.Shape) <= 1 {
			noDecay = append(noDecay, p)
		} else {
			decay = append(decay, p)
		}
	}
	var gs []Group
	if len(decay) > 0 {
		gs = append(gs, Group{Params: decay, WeightDecay: wd})
	}
	if len(noDecay) > 0 {
		gs = append(gs, Group{Params: noDecay})
	}
	return gs
}

// Optimizer updates parameters from their gradients.
type Optimizer interface {
	// Step applies one update to every parameter that has a gradient.
	// Parameters whose Grad is nil are skipped (their state untouched).
	Step()
	// ZeroGrad drops all parameter gradients.
	ZeroGrad()
	// LR returns the current base learning rate.
	LR() float64
	// SetLR sets the base learning rate (schedules call it every step).
	SetLR(lr float64)
	// Groups returns the parameter groups.
	Groups() []Group
	// State exports the optimiser's internal state (buffers, step counts).
	State() State
	// LoadState restores state exported by State from an optimiser built
	// over the same parameters.
	LoadState(s State) error
}

// State is an optimiser's resumable state: its kind, the base learning
// rate, per-parameter step counts and per-parameter buffers named
// "<param>.<buffer>" (momentum_buffer; exp_avg, exp_avg_sq).
type State struct {
	Kind    string                    `json:"kind"`
	LR      float64                   `json:"lr"`
	Steps   map[string]int64          `json:"steps,omitempty"`
	Tensors map[string]*tensor.Tensor `json:"-"`
}

// checkNames verifies that parameter names are unique and non-empty.
func checkNames(groups []Group) error {
	seen := map[string]bool{}
	for _, g := range groups {
		for _, p := range g.Params {
			if p.Name == "" || p.Var == nil {
				return fmt.Errorf("optim: parameter with empty name or nil Var")
			}
			if seen[p.Name] {
				return fmt.Errorf("optim: duplicate parameter name %q", p.Name)
			}
			seen[p.Name] = true
		}
	}
	return nil
}

func zeroGrad(groups []Group) {
	for _, g := range groups {
		for _, p := range g.Params {
			p.Var.ZeroGrad()
		}
	}
}

// loadBuffers copies named buffers from s into dst (a map from buffer name
// to destination tensor, allocated as needed) after checking shapes.
func loadBuffers(s State, kind string, groups []Group, suffixes []string) (map[string]*tensor.Tensor, error) {
	if s.Kind != kind {
		return nil, fmt.Errorf("optim: state is for %q, optimiser is %q", s.Kind, kind)
	}
	params := map[string]*autograd.Var{}
	for _, g := range groups {
		for _, p := range g.Params {
			params[p.Name] = p.Var
		}
	}
	out := map[string]*tensor.Tensor{}
	for name, t := range s.Tensors {
		var pname string
		for _, suf := range suffixes {
			if strings.HasSuffix(name, "."+suf) {
				pname = strings.TrimSuffix(name, "."+suf)
				break
			}
		}
		if pname == "" {
			return nil, fmt.Errorf("optim: unexpected state tensor %q", name)
		}
		v, ok := params[pname]
		if !ok {
			return nil, fmt.Errorf("optim: state tensor %q is for an unknown parameter", name)
		}
		if t == nil || !tensor.SameShape(t, v.Value) || len(t.Data) != len(v.Value.Data) {
			return nil, fmt.Errorf("optim: state tensor %q has shape %v, parameter has %v", name, shapeOf(t), v.Value.Shape)
		}
		out[name] = t.Clone()
	}
	for name := range s.Steps {
		if _, ok := params[name]; !ok {
			return nil, fmt.Errorf("optim: step count for unknown parameter %q", name)
		}
	}
	return out, nil
}

func shapeOf(t *tensor.Tensor) []int {
	if t == nil {
		return nil
	}
	return t.Shape
}

func cloneTensors(m map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	out := make(map[string]*tensor.Tensor, len(m))
	for k, v := range m {
		out[k] = v.Clone()
	}
	return out
}

func cloneSteps(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ParamsOf returns the trainable parameters of m (nn.NamedParameters
// order) as optimiser Params, skipping frozen ones (RequiresGrad false).
func ParamsOf(m nn.Module) []Param {
	var out []Param
	for _, p := range nn.NamedParameters(m) {
		if p.Var.RequiresGrad() {
			out = append(out, Param{Name: p.Name, Var: p.Var})
		}
	}
	return out
}
