package nn

import (
	"math"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

// BatchNorm2d normalises each channel of [N,C,H,W] inputs, like
// torch.nn.BatchNorm2d: in training mode with the batch statistics (and
// updates the running statistics with Momentum, using the unbiased batch
// variance), in evaluation mode with the running statistics.
type BatchNorm2d struct {
	C           int
	Eps         float32
	Momentum    float32
	Training    bool
	Weight      *autograd.Var  // gamma [C], init 1
	Bias        *autograd.Var  // beta [C], init 0
	RunningMean *tensor.Tensor // [C], init 0
	RunningVar  *tensor.Tensor // [C], init 1
}

// NewBatchNorm2d returns a batch norm over c channels in training mode
// (eps 1e-5, momentum 0.1, weight 1, bias 0).
func NewBatchNorm2d(c int) *BatchNorm2d {
	return &BatchNorm2d{
		C: c, Eps: 1e-5, Momentum: 0.1, Training: true,
		Weight:      autograd.Param(tensor.Full(1, c)),
		Bias:        autograd.Param(tensor.New(c)),
		RunningMean: tensor.New(c),
		RunningVar:  tensor.Full(1, c),
	}
}

// Forward normalises x.
func (b *BatchNorm2d) Forward(x *autograd.Var) *autograd.Var {
	_, c, _, _ := need4D("batchnorm", x)
	if c != b.C {
		shapePanic("batchnorm", "input has %d channels, layer expects %d", c, b.C)
	}
	if b.Training {
		return BatchNormTrainOp(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar, b.Momentum, b.Eps)
	}
	return BatchNormEvalOp(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar, b.Eps)
}

// ForwardReLU is relu(b.Forward(x)) computed in one pass (Graph uses it
// when a batch norm feeds a plain ReLU site and nothing else).
func (b *BatchNorm2d) ForwardReLU(x *autograd.Var) *autograd.Var {
	_, c, _, _ := need4D("batchnorm", x)
	if c != b.C {
		shapePanic("batchnorm", "input has %d channels, layer expects %d", c, b.C)
	}
	if b.Training {
		return BatchNormReLUTrainOp(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar, b.Momentum, b.Eps)
	}
	return BatchNormReLUEvalOp(x, b.Weight, b.Bias, b.RunningMean, b.RunningVar, b.Eps)
}

// SetTraining switches between batch and running statistics.
func (b *BatchNorm2d) SetTraining(t bool) { b.Training = t }

// Parameters returns weight and bias.
func (b *BatchNorm2d) Parameters() []Named {
	return []Named{{"weight", b.Weight}, {"bias", b.Bias}}
}

// Buffers returns running_mean and running_var.
func (b *BatchNorm2d) Buffers() []NamedTensor {
	return []NamedTensor{{Name: "running_mean", Tensor: b.RunningMean}, {Name: "running_var", Tensor: b.RunningVar}}
}

// bnCheck validates the per-channel tensors against x.
func bnCheck(x, gamma, beta *autograd.Var, rm, rv *tensor.Tensor) (n, c, hw int) {
	n, c, h, w := need4D("batchnorm", x)
	if gamma.Value.Len() != c || beta.Value.Len() != c || (rm != nil && rm.Len() != c) || (rv != nil && rv.Len() != c) {
		shapePanic("batchnorm", "per-channel tensors do not have %d elements", c)
	}
	return n, c, h * w
}

// BatchNormTrainOp normalises x [N,C,H,W] with its batch statistics,
// scales by gamma and shifts by beta, and (if runMean/runVar are not nil)
// updates the running statistics: r ← (1−momentum)·r + momentum·batch,
// with the unbiased variance for runVar.
func BatchNormTrainOp(x, gamma, beta *autograd.Var, runMean, runVar *tensor.Tensor, momentum, eps float32) *autograd.Var {
	return bnTrain(x, gamma, beta, runMean, runVar, momentum, eps, false)
}

// BatchNormReLUTrainOp is relu(BatchNormTrainOp(...)) in one pass.
func BatchNormReLUTrainOp(x, gamma, beta *autograd.Var, runMean, runVar *tensor.Tensor, momentum, eps float32) *autograd.Var {
	return bnTrain(x, gamma, beta, runMean, runVar, momentum, eps, true)
}

// bnTrain is the training-mode batch norm, optionally followed by a ReLU.
func bnTrain(x, gamma, beta *autograd.Var, runMean, runVar *tensor.Tensor, momentum, eps float32, relu bool) *autograd.Var {
	n, c, hw := bnCheck(x, gamma, beta, runMean, runVar)
	m := n * hw
	xd := x.Value.Data
	gd, bd := gamma.Value.Data, beta.Value.Data
	out := tensor.New(x.Value.Shape...)
	od := out.Data
	mean := make([]float32, c)
	invStd := make([]float32, c)
	parallelFor(c, m, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s, ss float64
			for i := 0; i < n; i++ {
				base := (i*c + ch) * hw
				ls, lss := sumAndSquares(xd[base : base+hw])
				s += float64(ls)
				ss += float64(lss)
			}
			mu := s / float64(m)
			variance := math.Max(ss/float64(m)-mu*mu, 0)
			// Refine the variance with a second, centred pass when the
			// one-pass formula may have lost precision.
			if mu*mu > 1e3*variance {
				var cs float64
				fm := float32(mu)
				for i := 0; i < n; i++ {
					base := (i*c + ch) * hw
					var l float32
					for _, v := range xd[base : base+hw] {
						d := v - fm
						l += d * d
					}
					cs += float64(l)
				}
				variance = cs / float64(m)
			}
			is := float32(1 / math.Sqrt(variance+float64(eps)))
			mean[ch], invStd[ch] = float32(mu), is
			scale := gd[ch] * is
			shift := bd[ch] - float32(mu)*scale
			for i := 0; i < n; i++ {
				base := (i*c + ch) * hw
				affine(od[base:base+hw], xd[base:base+hw], scale, shift, relu)
			}
			if runMean != nil {
				runMean.Data[ch] = (1-momentum)*runMean.Data[ch] + momentum*float32(mu)
			}
			if runVar != nil {
				unbiased := variance
				if m > 1 {
					unbiased = variance * float64(m) / float64(m-1)
				}
				runVar.Data[ch] = (1-momentum)*runVar.Data[ch] + momentum*float32(unbiased)
			}
		}
	})
	return autograd.Result(out, func(g *tensor.Tensor) {
		bnBackward(x, gamma, beta, g, reluOut(relu, od), mean, invStd, n, c, hw, true)
	}, x, gamma, beta)
}

// BatchNormEvalOp normalises x with the given (running) statistics:
// y = gamma·(x − mean)/√(var + eps) + beta. It is differentiable with
// respect to x, gamma and beta; the statistics are constants.
func BatchNormEvalOp(x, gamma, beta *autograd.Var, mean, variance *tensor.Tensor, eps float32) *autograd.Var {
	return bnEval(x, gamma, beta, mean, variance, eps, false)
}

// BatchNormReLUEvalOp is relu(BatchNormEvalOp(...)) in one pass.
func BatchNormReLUEvalOp(x, gamma, beta *autograd.Var, mean, variance *tensor.Tensor, eps float32) *autograd.Var {
	return bnEval(x, gamma, beta, mean, variance, eps, true)
}

// bnEval is the evaluation-mode batch norm, optionally followed by a ReLU.
func bnEval(x, gamma, beta *autograd.Var, mean, variance *tensor.Tensor, eps float32, relu bool) *autograd.Var {
	n, c, hw := bnCheck(x, gamma, beta, mean, variance)
	if mean == nil || variance == nil {
		shapePanic("batchnorm", "evaluation needs running statistics")
	}
	xd := x.Value.Data
	out := tensor.New(x.Value.Shape...)
	od := out.Data
	mu := append([]float32(nil), mean.Data...)
	invStd := make([]float32, c)
	for ch := range invStd {
		invStd[ch] = float32(1 / math.Sqrt(float64(variance.Data[ch])+float64(eps)))
	}
	gd, bd := gamma.Value.Data, beta.Value.Data
	parallelFor(c, n*hw, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			scale := gd[ch] * invStd[ch]
			shift := bd[ch] - mu[ch]*scale
			for i := 0; i < n; i++ {
				base := (i*c + ch) * hw
				affine(od[base:base+hw], xd[base:base+hw], scale, shift, relu)
			}
		}
	})
	return autograd.Result(out, func(g *tensor.Tensor) {
		bnBackward(x, gamma, beta, g, reluOut(relu, od), mu, invStd, n, c, hw, false)
	}, x, gamma, beta)
}

// reluOut returns y when the op ended in a fused ReLU, else nil.
func reluOut(relu bool, y []float32) []float32 {
	if relu {
		return y
	}
	return nil
}

// bnBackward accumulates the gradients of a batch norm. With batchStats the
// mean and variance depend on x (training mode); otherwise they are
// constants. If y is not nil the op ended in a ReLU with output y, and g is
// first zeroed where y is 0. The output gradient g is overwritten with dx.
func bnBackward(x, gamma, beta *autograd.Var, g *tensor.Tensor, y []float32, mean, invStd []float32, n, c, hw int, batchStats bool) {
	xd, gdat := x.Value.Data, g.Data
	gam := gamma.Value.Data
	dgamma, dbeta := tensor.New(c), tensor.New(c)
	m := float32(n * hw)
	wantX := x.RequiresGrad()
	parallelFor(c, n*hw, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mu, is := mean[ch], invStd[ch]
			var sdy, sdyx float64
			for i := 0; i < n; i++ {
				base := (i*c + ch) * hw
				var a, b float32
				if y != nil {
					a, b = maskedSumAndDot(gdat[base:base+hw], y[base:base+hw], xd[base:base+hw], mu)
				} else {
					a, b = sumAndDot(gdat[base:base+hw], xd[base:base+hw], mu)
				}
				sdy += float64(a)
				sdyx += float64(b)
			}
			dbeta.Data[ch] = float32(sdy)
			dgamma.Data[ch] = float32(sdyx) * is
			if !wantX {
				continue
			}
			scale := gam[ch] * is
			if !batchStats {
				for i := 0; i < n; i++ {
					base := (i*c + ch) * hw
					dy := gdat[base : base+hw]
					for j := range dy {
						dy[j] *= scale
					}
				}
				continue
			}
			// dx = scale·(dy − mean(dy) − xhat·mean(dy·xhat)),
			// xhat = (x − mu)·is.
			// = scale·dy + bx·x + c0 with the constants below.
			mdy := float32(sdy) / m
			k := float32(sdyx) / m * is * is
			bx, c0 := -scale*k, scale*(k*mu-mdy)
			for i := 0; i < n; i++ {
				base := (i*c + ch) * hw
				dy := gdat[base : base+hw]
				for j, v := range xd[base : base+hw] {
					dy[j] = scale*dy[j] + bx*v + c0
				}
			}
		}
	})
	gamma.AccumGrad(dgamma)
	beta.AccumGrad(dbeta)
	if wantX {
		x.AccumGrad(g)
	}
}

// sumAndSquares returns Σx and Σx² with four independent accumulators
// each, so the loop is not bound by the latency of one addition chain.
func sumAndSquares(x []float32) (sum, sq float32) {
	var s0, s1, s2, s3, q0, q1, q2, q3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += v[0]
		s1 += v[1]
		s2 += v[2]
		s3 += v[3]
		q0 += v[0] * v[0]
		q1 += v[1] * v[1]
		q2 += v[2] * v[2]
		q3 += v[3] * v[3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
		q0 += x[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3), (q0 + q1) + (q2 + q3)
}

// sumAndDot returns Σdy and Σdy·(x − mu), four accumulators each.
func sumAndDot(dy, x []float32, mu float32) (sum, dot float32) {
	x = x[:len(dy)]
	var s0, s1, s2, s3, d0, d1, d2, d3 float32
	i := 0
	for ; i+4 <= len(dy); i += 4 {
		g := dy[i : i+4 : i+4]
		v := x[i : i+4 : i+4]
		s0 += g[0]
		s1 += g[1]
		s2 += g[2]
		s3 += g[3]
		d0 += g[0] * (v[0] - mu)
		d1 += g[1] * (v[1] - mu)
		d2 += g[2] * (v[2] - mu)
		d3 += g[3] * (v[3] - mu)
	}
	for ; i < len(dy); i++ {
		s0 += dy[i]
		d0 += dy[i] * (x[i] - mu)
	}
	return (s0 + s1) + (s2 + s3), (d0 + d1) + (d2 + d3)
}

// maskedSumAndDot first zeroes dy where the ReLU output y is 0 (in place),
// then returns Σdy and Σdy·(x − mu) summed exactly as sumAndDot does.
func maskedSumAndDot(dy, y, x []float32, mu float32) (sum, dot float32) {
	x = x[:len(dy)]
	y = y[:len(dy)]
	// keep returns g, or 0 where the ReLU output v is +0.
	keep := func(g, v float32) float32 {
		b := math.Float32bits(v)
		return math.Float32frombits(math.Float32bits(g) & uint32(int32(b|-b)>>31))
	}
	var s0, s1, s2, s3, d0, d1, d2, d3 float32
	i := 0
	for ; i+4 <= len(dy); i += 4 {
		g := dy[i : i+4 : i+4]
		yy := y[i : i+4 : i+4]
		v := x[i : i+4 : i+4]
		g0, g1, g2, g3 := keep(g[0], yy[0]), keep(g[1], yy[1]), keep(g[2], yy[2]), keep(g[3], yy[3])
		g[0], g[1], g[2], g[3] = g0, g1, g2, g3
		s0 += g0
		s1 += g1
		s2 += g2
		s3 += g3
		d0 += g0 * (v[0] - mu)
		d1 += g1 * (v[1] - mu)
		d2 += g2 * (v[2] - mu)
		d3 += g3 * (v[3] - mu)
	}
	for ; i < len(dy); i++ {
		g := keep(dy[i], y[i])
		dy[i] = g
		s0 += g
		d0 += g * (x[i] - mu)
	}
	return (s0 + s1) + (s2 + s3), (d0 + d1) + (d2 + d3)
}

// affine writes x·scale + shift, or relu of it, into o.
func affine(o, x []float32, scale, shift float32, relu bool) {
	o = o[:len(x)]
	if relu {
		for j, v := range x {
			b := math.Float32bits(v*scale + shift)
			o[j] = math.Float32frombits(b &^ uint32(int32(b)>>31))
		}
		return
	}
	for j, v := range x {
		o[j] = v*scale + shift
	}
}
