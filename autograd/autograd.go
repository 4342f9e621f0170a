// Package autograd records operations on Vars and runs reverse-mode
// differentiation over them, in the spirit of PyTorch's autograd.
//
// An op computes its output tensor eagerly and, when any input requires a
// gradient and gradient recording is enabled, attaches a backward closure
// that receives the output's gradient and accumulates into its inputs'
// gradients with AccumGrad. Ops themselves live with the code that owns
// their kernels (package nn); this package only knows the graph.
package autograd

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/autorep/autorep/tensor"
)

// Var is a tensor in the computation graph.
type Var struct {
	Value *tensor.Tensor
	// Grad is the accumulated gradient of the loss with respect to Value,
	// allocated on first accumulation; nil if none has flowed here.
	Grad *tensor.Tensor

	requiresGrad bool
	parents      []*Var
	backward     func(grad *tensor.Tensor)
}

var gradDisabled atomic.Int32

// NoGrad runs f with gradient recording off (like torch.no_grad): ops
// inside return Vars with no graph attached.
func NoGrad(f func()) {
	gradDisabled.Add(1)
	defer gradDisabled.Add(-1)
	f()
}

// GradEnabled reports whether ops currently record the graph.
func GradEnabled() bool { return gradDisabled.Load() == 0 }

// Param wraps t as a leaf that requires a gradient (a trainable parameter).
func Param(t *tensor.Tensor) *Var { return &Var{Value: t, requiresGrad: true} }

// Const wraps t as a leaf that needs no gradient (an input or a buffer).
func Const(t *tensor.Tensor) *Var { return &Var{Value: t} }

// RequiresGrad reports whether gradients flow into v.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad marks a leaf as trainable or frozen.
func (v *Var) SetRequiresGrad(b bool) { v.requiresGrad = b }

// Shape is v.Value.Shape.
func (v *Var) Shape() []int { return v.Value.Shape }

// Result builds an op's output. backward receives the output gradient and
// must call AccumGrad on those parents that RequiresGrad. If no parent
// requires a gradient, or recording is off, the result is a constant and
// backward is dropped.
func Result(value *tensor.Tensor, backward func(grad *tensor.Tensor), parents ...*Var) *Var {
	out := &Var{Value: value}
	if !GradEnabled() || backward == nil {
		return out
	}
	for _, p := range parents {
		if p != nil && p.requiresGrad {
			out.requiresGrad = true
			break
		}
	}
	if out.requiresGrad {
		out.parents = parents
		out.backward = backward
	}
	return out
}

// AccumGrad adds g into v.Grad (allocating it), if v requires a gradient.
// g is not retained unless it becomes v.Grad; callers may pass a fresh
// tensor and must not reuse it afterwards.
func (v *Var) AccumGrad(g *tensor.Tensor) {
	if v == nil || !v.requiresGrad {
		return
	}
	if v.Grad == nil {
		v.Grad = g
		return
	}
	addInPlace(v.Grad, g)
}

// parallelAddMin is the gradient size from which AccumGrad's sum is split
// over GOMAXPROCS goroutines (the residual gradients of a ResNet are
// millions of elements; summing them on one goroutine idles the other
// cores).
const parallelAddMin = 1 << 16

// addInPlace is t.AddInPlace(o), in parallel for large tensors.
func addInPlace(t, o *tensor.Tensor) {
	n := len(o.Data)
	workers := runtime.GOMAXPROCS(0)
	if n < parallelAddMin || workers < 2 || len(t.Data) < n {
		t.AddInPlace(o)
		return
	}
	chunk := (n + workers - 1) / workers
	chunk = (chunk + 15) &^ 15
	var wg sync.WaitGroup
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			(&tensor.Tensor{Data: t.Data[lo:hi]}).AddInPlace(&tensor.Tensor{Data: o.Data[lo:hi]})
		}()
	}
	(&tensor.Tensor{Data: t.Data[:min(chunk, n)]}).AddInPlace(&tensor.Tensor{Data: o.Data[:min(chunk, n)]})
	wg.Wait()
}

// Pending reports whether v is an op result whose backward step has not
// run yet. Backward drops such a Var's gradient once that step has run,
// so a buffer that only becomes its gradient may be reused afterwards;
// a leaf (Param, Const, Detach) keeps its gradient.
func (v *Var) Pending() bool { return v.backward != nil }

// ZeroGrad drops the accumulated gradient.
func (v *Var) ZeroGrad() { v.Grad = nil }

// Detach returns a constant Var sharing v's value.
func (v *Var) Detach() *Var { return &Var{Value: v.Value} }

// Backward runs reverse-mode differentiation from v. v must be a scalar
// (one element) unless seed is given; seed defaults to 1. Intermediate
// gradients are freed as soon as they are consumed; leaf gradients stay.
func (v *Var) Backward(seed ...*tensor.Tensor) {
	if !v.requiresGrad {
		return
	}
	order := topo(v)
	if len(seed) > 0 && seed[0] != nil {
		v.Grad = seed[0]
	} else {
		v.Grad = tensor.Full(1, v.Value.Shape...)
	}
	for i := len(order) - 1; i >= 0; i-- {
		n := order[i]
		if n.backward == nil || n.Grad == nil {
			continue
		}
		n.backward(n.Grad)
		// Interior nodes: release the gradient and the graph links so
		// memory is reclaimed during the pass.
		n.Grad = nil
		n.backward = nil
		n.parents = nil
	}
}

// topo returns the nodes reachable from v in topological order (parents
// before children), iteratively to survive deep graphs.
func topo(root *Var) []*Var {
	var order []*Var
	seen := map[*Var]bool{root: true}
	type frame struct {
		v *Var
		i int
	}
	stack := []frame{{root, 0}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.i < len(f.v.parents) {
			p := f.v.parents[f.i]
			f.i++
			if p != nil && p.requiresGrad && !seen[p] {
				seen[p] = true
				stack = append(stack, frame{p, 0})
			}
			continue
		}
		order = append(order, f.v)
		stack = stack[:len(stack)-1]
	}
	return order
}
