package nn

import (
	"sync"

	"github.com/autorep/autorep/autograd"
)

// Reused training buffers
//
// A ResNet-20 training step allocates ≈ 360 MB of activations and
// gradients. Left to the garbage collector, the heap shrinks back to the
// weights after every step, the runtime returns the freed pages to the
// OS, and the next step faults them in again and zeroes them: about a
// tenth of the step's CPU time, all of it on the calling goroutine while
// the kernel threads wait. A training loop that knows when a step's Vars
// are dead calls Graph.ReleaseBuffers then; from that call on, the large
// buffers of the graph's blocked conv/batch-norm chains (outputs and
// input gradients) come from a pool and go back to it at the next
// ReleaseBuffers. Graphs whose owner never calls it allocate as before.

// maxTracked bounds the buffers tracked between two ReleaseBuffers calls;
// beyond it tracking stops and the garbage collector reclaims them.
const maxTracked = 1 << 14

// stepBufs hands out buffers for one Graph's training runs and records
// them until ReleaseBuffers. A nil *stepBufs allocates fresh zeroed
// buffers.
type stepBufs struct {
	mu   sync.Mutex
	used [][]float32
}

// get returns a buffer of n elements with arbitrary contents (the caller
// overwrites all of it).
func (s *stepBufs) get(n int) []float32 {
	if s == nil || n == 0 {
		return make([]float32, n)
	}
	b := pooled(n)
	if b == nil {
		b = make([]float32, n)
	}
	s.mu.Lock()
	if len(s.used) < maxTracked {
		s.used = append(s.used, b)
	}
	s.mu.Unlock()
	return b
}

// grad returns a buffer for the gradient of v: a pooled one when v is an
// op result whose own backward step is still to run (Backward drops its
// gradient after that step), else a fresh one (a leaf keeps its gradient).
func (s *stepBufs) grad(v *autograd.Var, n int) []float32 {
	if !v.Pending() {
		return make([]float32, n)
	}
	return s.get(n)
}

// ReleaseBuffers returns the buffers handed out by training Runs of g
// since the previous call to a pool the next Runs draw from, and turns
// that reuse on for g (before the first call, g allocates as usual). Call
// it only when no Var produced by those Runs (nor their gradients) is in
// use any more and no Backward through them is pending — in a training
// loop, after the optimiser step.
func (g *Graph) ReleaseBuffers() {
	g.bufsMu.Lock()
	s := g.bufs
	if s == nil {
		g.bufs = &stepBufs{}
	}
	g.bufsMu.Unlock()
	if s == nil {
		return
	}
	s.mu.Lock()
	used := s.used
	s.used = nil
	s.mu.Unlock()
	seen := make(map[*float32]bool, len(used))
	for _, b := range used {
		if len(b) == 0 || seen[&b[0]] {
			continue
		}
		seen[&b[0]] = true
		putPooled(b)
	}
}

// pooled takes a buffer of n elements (arbitrary contents) from the pool
// shared by inference and training runs, or returns nil.
func pooled(n int) []float32 {
	if p, ok := bufPools.Load(n); ok {
		if b, ok := p.(*sync.Pool).Get().(*[]float32); ok {
			return *b
		}
	}
	return nil
}

// putPooled gives b to the pool.
func putPooled(b []float32) {
	p, _ := bufPools.LoadOrStore(len(b), &sync.Pool{})
	p.(*sync.Pool).Put(&b)
}

// stepBuffers returns the buffer source for a training Run of g on x: nil
// (fresh allocations) until ReleaseBuffers has been called, without
// gradient recording, with fusion off, and when x itself needs a gradient
// (a pooled gradient could otherwise end up as the gradient of a leaf).
func (g *Graph) stepBuffers(x *autograd.Var) *stepBufs {
	if g.NoFusion || !autograd.GradEnabled() || x.RequiresGrad() {
		return nil
	}
	g.bufsMu.Lock()
	defer g.bufsMu.Unlock()
	return g.bufs
}
