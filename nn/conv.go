package nn

import (
	"math"
	"math/rand"
	"sync"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/kernel"
	"github.com/autorep/autorep/tensor"
)

// Conv2d is a 2-D convolution with a square kernel, like torch.nn.Conv2d.
// Weight is [OutC, InC/Groups, Kernel, Kernel]; Bias is [OutC] or nil.
// The kernel.Conv primitive is created once per input shape and cached.
type Conv2d struct {
	InC, OutC, Kernel, Stride, Pad, Groups int
	Weight                                 *autograd.Var
	Bias                                   *autograd.Var

	mu    sync.Mutex
	cache map[convKey]*kernel.Conv
}

// NewConv2d returns a convolution initialised like torchvision's ResNets:
// weight ~ N(0, 2/fan_out) with fan_out = OutC·Kernel² (Kaiming normal,
// mode fan_out, ReLU gain), bias ~ U(±1/√fan_in) when bias is true.
// It panics on non-positive sizes or channels not divisible by groups
// (programming errors in model definitions).
func NewConv2d(rng *rand.Rand, inC, outC, kernelSize, stride, pad, groups int, bias bool) *Conv2d {
	if inC <= 0 || outC <= 0 || kernelSize <= 0 || stride <= 0 || pad < 0 || groups <= 0 ||
		inC%groups != 0 || outC%groups != 0 {
		panic("nn: NewConv2d: bad configuration")
	}
	c := &Conv2d{InC: inC, OutC: outC, Kernel: kernelSize, Stride: stride, Pad: pad, Groups: groups}
	w := tensor.New(outC, inC/groups, kernelSize, kernelSize)
	std := math.Sqrt(2 / float64(outC*kernelSize*kernelSize))
	for i := range w.Data {
		w.Data[i] = float32(rng.NormFloat64() * std)
	}
	c.Weight = autograd.Param(w)
	if bias {
		bound := 1 / math.Sqrt(float64(inC/groups*kernelSize*kernelSize))
		c.Bias = autograd.Param(uniform(rng, bound, outC))
	}
	return c
}

// uniform returns a tensor of the given shape with values ~ U(−bound, bound).
func uniform(rng *rand.Rand, bound float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32((2*rng.Float64() - 1) * bound)
	}
	return t
}

// Params returns the kernel parameters for an input of the given size.
func (c *Conv2d) Params(n, h, w int) kernel.ConvParams {
	return kernel.ConvParams{N: n, C: c.InC, H: h, W: w, K: c.OutC, R: c.Kernel, S: c.Kernel,
		StrideH: c.Stride, StrideW: c.Stride, PadH: c.Pad, PadW: c.Pad, Groups: c.Groups}
}

// Forward convolves x [N, InC, H, W].
func (c *Conv2d) Forward(x *autograd.Var) *autograd.Var {
	n, ch, h, w := need4D("conv2d", x)
	if ch != c.InC {
		shapePanic("conv2d", "input has %d channels, layer expects %d", ch, c.InC)
	}
	p := c.Params(n, h, w)
	checkConvParams(p)
	return ConvOp(x, c.Weight, c.Bias, c.kernelFor(n, h, w, false, false), p)
}

// Parameters returns weight (and bias when present).
func (c *Conv2d) Parameters() []Named {
	ps := []Named{{"weight", c.Weight}}
	if c.Bias != nil {
		ps = append(ps, Named{"bias", c.Bias})
	}
	return ps
}

// checkConvParams panics with a ShapeError when the output would be empty.
func checkConvParams(p kernel.ConvParams) {
	if p.H+2*p.PadH < p.R || p.W+2*p.PadW < p.S {
		shapePanic("conv2d", "input %dx%d (pad %d) smaller than kernel %dx%d", p.H, p.W, p.PadH, p.R, p.S)
	}
}

// Conv2dFn convolves x [N,C,H,W] with w [K, C/groups, R, S] and optional
// bias b [K], creating a fresh kernel primitive (use Conv2d in models).
func Conv2dFn(x, w, b *autograd.Var, stride, pad, groups int) *autograd.Var {
	n, ch, h, wd := need4D("conv2d", x)
	ws := w.Value.Shape
	if len(ws) != 4 || groups <= 0 || stride <= 0 || pad < 0 || ch%groups != 0 || ws[0]%groups != 0 || ws[1]*groups != ch {
		shapePanic("conv2d", "weight %v does not fit input %v with groups %d", ws, x.Value.Shape, groups)
	}
	p := kernel.ConvParams{N: n, C: ch, H: h, W: wd, K: ws[0], R: ws[2], S: ws[3],
		StrideH: stride, StrideW: stride, PadH: pad, PadW: pad, Groups: groups}
	checkConvParams(p)
	return ConvOp(x, w, b, kernel.NewConv(p), p)
}

// ConvOp runs the convolution k (built for p) on x with weight w and
// optional bias b, recording the backward pass (data and weight gradients
// only for the inputs that need them).
func ConvOp(x, w, b *autograd.Var, k *kernel.Conv, p kernel.ConvParams) *autograd.Var {
	return convOp(x, w, b, k, p, nil)
}

// convOp is ConvOp with the output and input gradient from sb (nil: new
// tensors).
func convOp(x, w, b *autograd.Var, k *kernel.Conv, p kernel.ConvParams, sb *stepBufs) *autograd.Var {
	if x.Value.Len() != p.N*p.C*p.H*p.W || w.Value.Len() != p.K*(p.C/p.Groups)*p.R*p.S ||
		(b != nil && b.Value.Len() != p.K) {
		shapePanic("conv2d", "tensors %v, %v do not match parameters %+v", x.Value.Shape, w.Value.Shape, p)
	}
	shape := []int{p.N, p.K, p.OutH(), p.OutW()}
	out := &tensor.Tensor{Shape: shape, Data: sb.get(tensor.Numel(shape))}
	var bias []float32
	if b != nil {
		bias = b.Value.Data
	}
	k.Forward(x.Value.Data, w.Value.Data, bias, out.Data)
	return autograd.Result(out, func(g *tensor.Tensor) {
		// Both passes in one kernel call (dy is converted to oneDNN's
		// layout once); nil outputs skip a pass.
		var dx, dw, db *tensor.Tensor
		var dxd, dwd, dbd []float32
		if x.RequiresGrad() {
			dx = &tensor.Tensor{Shape: append([]int(nil), x.Value.Shape...), Data: sb.grad(x, x.Value.Len())}
			dxd = dx.Data
		}
		wantB := b != nil && b.RequiresGrad()
		if w.RequiresGrad() || wantB {
			dw = tensor.New(w.Value.Shape...)
			dwd = dw.Data
			if b != nil {
				db = tensor.New(p.K)
				dbd = db.Data
			}
		}
		if dxd == nil && dwd == nil {
			return
		}
		k.Backward(x.Value.Data, g.Data, w.Value.Data, dxd, dwd, dbd)
		if dx != nil {
			x.AccumGrad(dx)
		}
		if dw != nil {
			w.AccumGrad(dw)
			if wantB {
				b.AccumGrad(db)
			}
		}
	}, x, w, b)
}

// convKey identifies a cached kernel primitive.
type convKey struct {
	n, h, w   int
	sum, relu bool
	layout    kernel.Layout
}

// kernelFor returns the cached NCHW primitive for an input size and options.
func (c *Conv2d) kernelFor(n, h, w int, sum, relu bool) *kernel.Conv {
	return c.kernelForLayout(n, h, w, sum, relu, kernel.NCHW)
}

// kernelForLayout returns the cached primitive for an input size, options
// and activation layout.
func (c *Conv2d) kernelForLayout(n, h, w int, sum, relu bool, l kernel.Layout) *kernel.Conv {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache == nil {
		c.cache = map[convKey]*kernel.Conv{}
	}
	key := convKey{n, h, w, sum, relu, l}
	k := c.cache[key]
	if k == nil {
		k = kernel.NewConvOpts(c.Params(n, h, w), kernel.ConvOpts{Layout: l, Sum: sum, ReLU: relu})
		c.cache[key] = k
	}
	return k
}

// forwardFolded computes, without recording gradients, bn(conv(x)) with
// bn (in evaluation mode) folded into the weights and bias, plus residual
// if not nil, then relu if asked, in one oneDNN call. x is stored blocked
// if xb; the output (and residual) are stored blocked if yb.
//
// The output goes to into when it is not nil (it may be residual's data:
// then the residual is summed in place), else to a buffer from rec (nil
// rec: a new tensor).
func (c *Conv2d) forwardFolded(x *autograd.Var, bn *BatchNorm2d, residual *autograd.Var, relu, xb, yb bool,
	into []float32, rec *recycler) *autograd.Var {
	n, ch, h, w := need4D("conv2d", x)
	if ch != c.InC {
		shapePanic("conv2d", "input has %d channels, layer expects %d", ch, c.InC)
	}
	if bn.C != c.OutC {
		shapePanic("batchnorm", "layer has %d channels, convolution gives %d", bn.C, c.OutC)
	}
	p := c.Params(n, h, w)
	checkConvParams(p)
	shape := []int{n, c.OutC, p.OutH(), p.OutW()}
	size := tensor.Numel(shape)
	if residual != nil && !tensor.SameShape(residual.Value, &tensor.Tensor{Shape: shape}) {
		shapePanic("add", "shapes %v and %v differ", shape, residual.Value.Shape)
	}
	if len(into) != size {
		into = rec.get(size)
	}
	out := &tensor.Tensor{Shape: shape, Data: into}
	if residual != nil && !sameData(residual.Value.Data, into) {
		copy(out.Data, residual.Value.Data)
	}
	wf := append([]float32(nil), c.Weight.Value.Data...)
	var bias []float32
	if c.Bias != nil {
		bias = c.Bias.Value.Data
	}
	bf := kernel.FoldBatchNorm(wf, bias, bn.Weight.Value.Data, bn.Bias.Value.Data,
		bn.RunningMean.Data, bn.RunningVar.Data, bn.Eps)
	x = convert(x, xb, yb)
	c.kernelForLayout(n, h, w, residual != nil, relu, layoutOf(yb)).Forward(x.Value.Data, wf, bf, out.Data)
	return autograd.Const(out)
}
