package nn

import (
	"math"
	"sync"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/kernel"
	"github.com/autorep/autorep/tensor"
)

// Blocked activations inside Graph.Run
//
// oneDNN's convolutions work on activations in the nChw16c ("Blocked")
// layout; fed NCHW tensors they reorder every input, output and gradient
// (about a fifth of a ResNet-20 training step). Graph.Run therefore keeps
// the activations of conv → batch norm → plain ReLU → residual add chains
// in kernel.Blocked order. Layouts are planned per run over classes of
// tensors that must share a layout: an element-wise node (batch norm,
// plain ReLU or LayoutActivation site, Add) has the layout of its inputs; a convolution may
// convert; GlobalAvgPool reads either (its [N,C,1,1] output is the same in
// both). A class is blocked only when every member has a channel count
// that is a multiple of 16, every member is produced by one of those ops
// and every reader of a member is one of them. Everything else (the graph
// input and output, sites with another activation, pools, Linear,
// ...) sees plain NCHW tensors exactly as before. Gradients have the
// layout of their values.

// planLayouts returns, for each node, whether its output is stored in the
// Blocked layout. It returns nil when nothing is blocked.
func (g *Graph) planLayouts() []bool {
	n := len(g.Nodes)
	if g.NoFusion || n == 0 {
		return nil
	}
	// Union-find over node outputs; index n is the graph input.
	parent := make([]int, n+1)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	id := func(in int) int {
		if in < 0 {
			return n
		}
		return in
	}
	union := func(a, b int) { parent[find(a)] = find(b) }
	for i, node := range g.Nodes {
		if elementwiseOp(node.Op) {
			for _, in := range g.inputs(i, node) {
				union(i, id(in))
			}
		}
	}
	bad := make([]bool, n+1)     // by class root
	channels := make([]int, n+1) // by class root; 0 unknown
	mark := func(i int) { bad[find(i)] = true }
	mark(n)     // graph input
	mark(n - 1) // graph output
	for i, node := range g.Nodes {
		ins := g.inputs(i, node)
		ch := 0
		switch op := node.Op.(type) {
		case *Conv2d:
			if op.Groups != 1 {
				mark(i)
				for _, in := range ins {
					mark(id(in))
				}
			}
			ch = op.OutC
		case *BatchNorm2d:
			ch = op.C
		case GlobalAvgPool, *GlobalAvgPool:
			mark(i) // output [N,C,1,1] leaves the chain
		default:
			if !elementwiseOp(node.Op) {
				mark(i)
				for _, in := range ins {
					mark(id(in))
				}
			}
		}
		if ch > 0 {
			r := find(i)
			if ch%16 != 0 || (channels[r] != 0 && channels[r] != ch) {
				bad[r] = true
			}
			channels[r] = ch
		}
	}
	out := make([]bool, n)
	any := false
	for i := range out {
		r := find(i)
		out[i] = !bad[r] && channels[r] > 0
		any = any || out[i]
	}
	if !any {
		return nil
	}
	return out
}

// elementwiseOp reports whether op is computed element by element (or per
// channel) so that its output shares its inputs' layout: batch norm, a
// plain ReLU or LayoutActivation site, Add.
func elementwiseOp(op Module) bool {
	switch o := op.(type) {
	case *BatchNorm2d, *Add, Add:
		return true
	case *Site:
		return o.keepsLayout()
	}
	return false
}

// layoutOf returns the kernel layout for a blocked flag.
func layoutOf(blocked bool) kernel.Layout {
	if blocked {
		return kernel.Blocked
	}
	return kernel.NCHW
}

// convert returns x [N,C,H,W] (stored blocked if from is true) stored
// blocked if to is true: x itself when the orders agree (always for C not
// a multiple of 16), else a converted copy whose gradient is converted
// back.
func convert(x *autograd.Var, from, to bool) *autograd.Var {
	n, c, h, w := need4D("layout", x)
	if from == to || c%16 != 0 {
		return x
	}
	out := tensor.New(x.Value.Shape...)
	move(from, to, n, c, h*w, x.Value.Data, out.Data)
	return autograd.Result(out, func(g *tensor.Tensor) {
		dx := tensor.New(x.Value.Shape...)
		move(to, from, n, c, h*w, g.Data, dx.Data)
		x.AccumGrad(dx)
	}, x)
}

// move copies src stored in order from to dst stored in order to.
func move(from, to bool, n, c, hw int, src, dst []float32) {
	switch {
	case from == to:
		copy(dst, src)
	case to:
		kernel.ToLayout(kernel.Blocked, n, c, hw, src, dst)
	default:
		kernel.FromLayout(kernel.Blocked, n, c, hw, src, dst)
	}
}

// forwardLayout is Forward with x stored blocked if xb and the output
// stored blocked if yb; buffers come from sb (nil: fresh ones).
func (c *Conv2d) forwardLayout(x *autograd.Var, xb, yb bool, sb *stepBufs) *autograd.Var {
	n, ch, h, w := need4D("conv2d", x)
	if ch != c.InC {
		shapePanic("conv2d", "input has %d channels, layer expects %d", ch, c.InC)
	}
	p := c.Params(n, h, w)
	checkConvParams(p)
	x = convert(x, xb, yb)
	return convOp(x, c.Weight, c.Bias, c.kernelForLayout(n, h, w, false, false, layoutOf(yb)), p, sb)
}

// bnBlocked is the batch norm (optionally followed by a ReLU) of x stored
// in the Blocked layout, through kernel.BatchNorm; the output comes from
// sb (nil: a new tensor).
func (b *BatchNorm2d) bnBlocked(x *autograd.Var, relu bool, sb *stepBufs) *autograd.Var {
	n, c, hw := bnCheck(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar)
	if c != b.C {
		shapePanic("batchnorm", "input has %d channels, layer expects %d", c, b.C)
	}
	k := kernel.NewBatchNorm(n, c, hw, b.Eps, kernel.Blocked)
	gamma, beta := b.Weight, b.Bias
	out := &tensor.Tensor{Shape: append([]int(nil), x.Value.Shape...), Data: sb.get(x.Value.Len())}
	od := out.Data
	mean, variance := make([]float32, c), make([]float32, c)
	if b.Training {
		if relu {
			k.TrainForwardReLU(x.Value.Data, gamma.Value.Data, beta.Value.Data, od, mean, variance)
		} else {
			k.TrainForward(x.Value.Data, gamma.Value.Data, beta.Value.Data, od, mean, variance)
		}
		b.updateRunning(mean, variance, n*hw)
	} else {
		copy(mean, b.RunningMean.Data)
		copy(variance, b.RunningVar.Data)
		k.InferForward(x.Value.Data, gamma.Value.Data, beta.Value.Data, mean, variance, od)
	}
	if relu && !b.Training {
		parallelFor(len(od), 1, func(lo, hi int) { reluSlice(od[lo:hi], od[lo:hi]) })
	}
	training := b.Training
	eps := b.Eps
	return autograd.Result(out, func(g *tensor.Tensor) {
		gd := g.Data
		dgamma, dbeta := tensor.New(c), tensor.New(c)
		switch {
		case training && relu:
			// dx overwrites g element by element.
			k.BackwardReLU(x.Value.Data, od, gd, gamma.Value.Data, mean, variance, gd, dgamma.Data, dbeta.Data)
		case training:
			k.Backward(x.Value.Data, gd, gamma.Value.Data, mean, variance, gd, dgamma.Data, dbeta.Data)
		default:
			if relu {
				parallelFor(len(gd), 1, func(lo, hi int) { reluMaskSlice(gd[lo:hi], od[lo:hi]) })
			}
			bnEvalBackwardBlocked(x.Value.Data, gd, gamma.Value.Data, mean, variance, eps, n, c, hw,
				dgamma.Data, dbeta.Data)
		}
		gamma.AccumGrad(dgamma)
		beta.AccumGrad(dbeta)
		if x.RequiresGrad() {
			x.AccumGrad(g)
		}
	}, x, gamma, beta)
}

// updateRunning folds batch statistics over m values (biased variance)
// into the running statistics.
func (b *BatchNorm2d) updateRunning(mean, variance []float32, m int) {
	for ch := range mean {
		unbiased := variance[ch]
		if m > 1 {
			unbiased = float32(float64(variance[ch]) * float64(m) / float64(m-1))
		}
		b.RunningMean.Data[ch] = (1-b.Momentum)*b.RunningMean.Data[ch] + b.Momentum*mean[ch]
		b.RunningVar.Data[ch] = (1-b.Momentum)*b.RunningVar.Data[ch] + b.Momentum*unbiased
	}
}

// bnAddReLUOp is relu(bn(x) + res) for a training-mode batch norm on
// blocked x and res, in one kernel pass; buffers come from sb (nil: new
// tensors).
func (b *BatchNorm2d) bnAddReLUOp(x, res *autograd.Var, sb *stepBufs) *autograd.Var {
	n, c, hw := bnCheck(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar)
	if c != b.C {
		shapePanic("batchnorm", "input has %d channels, layer expects %d", c, b.C)
	}
	if !tensor.SameShape(x.Value, res.Value) {
		shapePanic("add", "shapes %v and %v differ", x.Value.Shape, res.Value.Shape)
	}
	k := kernel.NewBatchNorm(n, c, hw, b.Eps, kernel.Blocked)
	gamma, beta := b.Weight, b.Bias
	out := &tensor.Tensor{Shape: append([]int(nil), x.Value.Shape...), Data: sb.get(x.Value.Len())}
	od := out.Data
	mean, variance := make([]float32, c), make([]float32, c)
	k.TrainForwardAddReLU(x.Value.Data, res.Value.Data, gamma.Value.Data, beta.Value.Data, od, mean, variance)
	b.updateRunning(mean, variance, n*hw)
	return autograd.Result(out, func(g *tensor.Tensor) {
		gd := g.Data
		dgamma, dbeta := tensor.New(c), tensor.New(c)
		if res.RequiresGrad() {
			// ∂L/∂res is g where the output is positive; the batch
			// norm's input gradient overwrites g in the same pass.
			dres := &tensor.Tensor{Shape: append([]int(nil), x.Value.Shape...), Data: sb.grad(res, x.Value.Len())}
			k.BackwardAddReLU(x.Value.Data, od, gd, gamma.Value.Data, mean, variance, gd, dres.Data,
				dgamma.Data, dbeta.Data)
			res.AccumGrad(dres)
		} else {
			k.BackwardReLU(x.Value.Data, od, gd, gamma.Value.Data, mean, variance, gd, dgamma.Data, dbeta.Data)
		}
		gamma.AccumGrad(dgamma)
		beta.AccumGrad(dbeta)
		if x.RequiresGrad() {
			x.AccumGrad(g)
		}
	}, x, gamma, beta, res)
}

// bnEvalBackwardBlocked is the backward pass of an evaluation-mode batch
// norm on blocked data: dgamma = Σ g·(x − mean)/σ, dbeta = Σ g, and g is
// overwritten with dx = g·gamma/σ.
func bnEvalBackwardBlocked(x, g, gamma, mean, variance []float32, eps float32, n, c, hw int, dgamma, dbeta []float32) {
	inv := make([]float32, c)
	for ch := range inv {
		inv[ch] = float32(1 / math.Sqrt(float64(variance[ch])+float64(eps)))
	}
	sdy := make([]float64, c)
	sdx := make([]float64, c)
	for i := 0; i < n; i++ {
		for cb := 0; cb < c/16; cb++ {
			base := (i*c + cb*16) * hw
			for s := 0; s < hw; s++ {
				o := base + s*16
				for l := 0; l < 16; l++ {
					ch := cb*16 + l
					sdy[ch] += float64(g[o+l])
					sdx[ch] += float64(g[o+l] * (x[o+l] - mean[ch]))
					g[o+l] *= gamma[ch] * inv[ch]
				}
			}
		}
	}
	for ch := 0; ch < c; ch++ {
		dbeta[ch] = float32(sdy[ch])
		dgamma[ch] = float32(sdx[ch]) * inv[ch]
	}
}

// globalAvgPoolBlocked is GlobalAvgPoolOp for x stored in the Blocked
// layout (C a multiple of 16); the [N,C,1,1] output is plain. The input
// gradient comes from sb (nil: a new tensor).
func globalAvgPoolBlocked(x *autograd.Var, sb *stepBufs) *autograd.Var {
	n, c, h, w := need4D("globalavgpool", x)
	hw := h * w
	out := tensor.New(n, c, 1, 1)
	inv := 1 / float32(hw)
	xd := x.Value.Data
	for i := 0; i < n; i++ {
		for cb := 0; cb < c/16; cb++ {
			var acc [16]float32
			base := (i*c + cb*16) * hw
			for s := 0; s < hw; s++ {
				v := xd[base+s*16 : base+s*16+16]
				for l := range acc {
					acc[l] += v[l]
				}
			}
			for l := range acc {
				out.Data[i*c+cb*16+l] = acc[l] * inv
			}
		}
	}
	return autograd.Result(out, func(g *tensor.Tensor) {
		dx := &tensor.Tensor{Shape: append([]int(nil), x.Value.Shape...), Data: sb.grad(x, x.Value.Len())}
		for i := 0; i < n; i++ {
			for cb := 0; cb < c/16; cb++ {
				var v [16]float32
				for l := range v {
					v[l] = g.Data[i*c+cb*16+l] * inv
				}
				base := (i*c + cb*16) * hw
				for s := 0; s < hw; s++ {
					copy(dx.Data[base+s*16:base+s*16+16], v[:])
				}
			}
		}
		x.AccumGrad(dx)
	}, x)
}

// recycler hands out activation buffers during a Run without gradient
// recording: buffers it produced go back to a pool (shared across runs)
// when no later node reads them. A nil *recycler allocates fresh zeroed
// buffers and recycles nothing.
type recycler struct {
	owned map[*float32]bool
}

// bufPools holds a *sync.Pool of []float32 per length.
var bufPools sync.Map

// get returns a buffer of n elements with arbitrary contents.
func (r *recycler) get(n int) []float32 {
	if r == nil || n == 0 {
		return make([]float32, n)
	}
	if b := pooled(n); b != nil {
		return b
	}
	return make([]float32, n)
}

// own records that b is a buffer this run may recycle.
func (r *recycler) own(b []float32) {
	if r != nil && len(b) > 0 {
		r.owned[&b[0]] = true
	}
}

// owns reports whether b was recorded by own.
func (r *recycler) owns(b []float32) bool {
	return r != nil && len(b) > 0 && r.owned[&b[0]]
}

// put returns an owned buffer to the pool.
func (r *recycler) put(b []float32) {
	delete(r.owned, &b[0])
	putPooled(b)
}

// sameData reports whether a and b start at the same element.
func sameData(a, b []float32) bool {
	return len(a) > 0 && len(b) > 0 && &a[0] == &b[0]
}

// aliased reports whether a live output other than outs[skip] holds data.
func aliased(outs []*autograd.Var, skip int, data []float32) bool {
	for k, o := range outs {
		if k != skip && o != nil && sameData(o.Value.Data, data) {
			return true
		}
	}
	return false
}
