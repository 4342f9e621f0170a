package nn

import (
	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/kernel"
)

// LayoutActivation is an Activation that also works on activations stored
// in kernel.Blocked order. Graph.Run then plans a site holding one like a
// plain ReLU site (an element-wise node), so the convolutions and batch
// norms around it keep oneDNN's blocked layout instead of converting to
// NCHW and back. Package reduce's trainable activations implement it.
type LayoutActivation interface {
	Activation
	// ApplyLayout is Apply for x [N, C, H, W] stored in layout l
	// (kernel.NCHW or kernel.Blocked; Blocked only when C is a multiple of
	// 16). The output and gradients are stored in the same layout.
	ApplyLayout(x *autograd.Var, l kernel.Layout) *autograd.Var
}

// PooledLayoutActivation is a LayoutActivation that can write its output
// into a buffer the graph hands it: in training runs after
// Graph.ReleaseBuffers one from the step-buffer pool (arena.go), as the
// conv/batch-norm chains' outputs are, so the output is not a fresh
// allocation that every step faults in and zeroes again.
type PooledLayoutActivation interface {
	LayoutActivation
	// ApplyLayoutInto is ApplyLayout storing its output in y (x's length,
	// arbitrary contents on entry, every element overwritten).
	ApplyLayoutInto(x *autograd.Var, l kernel.Layout, y []float32) *autograd.Var
}

// keepsLayout reports whether the site runs on either layout: a plain ReLU
// or a LayoutActivation.
func (s *Site) keepsLayout() bool {
	if s.Act == nil {
		return true
	}
	_, ok := s.Act.(LayoutActivation)
	return ok
}

// blockedForward returns how to run the site on an input stored blocked
// (if blocked) when its activation is a LayoutActivation, or nil (a plain
// ReLU, which is the same in both layouts, or another activation). A
// PooledLayoutActivation's output comes from sb (nil: it allocates).
func (s *Site) blockedForward(blocked bool, sb *stepBufs) func(*autograd.Var) *autograd.Var {
	la, ok := s.Act.(LayoutActivation)
	if !ok || !blocked {
		return nil
	}
	return func(x *autograd.Var) *autograd.Var {
		if len(x.Value.Shape) < 2 {
			shapePanic("site "+s.Name, "want a batched input, got shape %v", x.Value.Shape)
		}
		if s.Shape == nil {
			s.Shape = append([]int(nil), x.Value.Shape[1:]...)
		}
		if pa, ok := la.(PooledLayoutActivation); ok && sb != nil {
			return pa.ApplyLayoutInto(x, kernel.Blocked, sb.get(x.Value.Len()))
		}
		return la.ApplyLayout(x, kernel.Blocked)
	}
}
