package ref

import (
	"fmt"
	"math"
)

func checkBN(op string, n, c, hw int, x []float32, per ...[]float32) {
	checkLen(op, "x", x, n*c*hw)
	for _, s := range per {
		checkLen(op, "per-channel slice", s, c)
	}
}

// BatchNormTrainForward normalises x [N,C,HW] with its batch statistics:
// y = gamma·(x − mean)/sqrt(variance + eps) + beta per channel. It writes
// the batch mean and the biased batch variance (divided by N·HW) to mean
// and variance; the caller updates its running statistics (PyTorch uses the
// unbiased variance there: multiply by N·HW/(N·HW−1)).
func BatchNormTrainForward(n, c, hw int, x, gamma, beta, y, mean, variance []float32, eps float32) {
	checkBN("BatchNormTrainForward", n, c, hw, x, gamma, beta, mean, variance)
	checkLen("BatchNormTrainForward", "y", y, len(x))
	m := float64(n * hw)
	for ch := 0; ch < c; ch++ {
		var s float64
		for i := 0; i < n; i++ {
			for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				s += float64(v)
			}
		}
		mu := s / m
		var q float64
		for i := 0; i < n; i++ {
			for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				d := float64(v) - mu
				q += d * d
			}
		}
		mean[ch] = float32(mu)
		variance[ch] = float32(q / m)
	}
	BatchNormInferForward(n, c, hw, x, gamma, beta, mean, variance, y, eps)
}

// BatchNormInferForward normalises x [N,C,HW] with given (running)
// statistics: y = gamma·(x − mean)/sqrt(variance + eps) + beta.
func BatchNormInferForward(n, c, hw int, x, gamma, beta, mean, variance, y []float32, eps float32) {
	checkBN("BatchNormInferForward", n, c, hw, x, gamma, beta, mean, variance)
	checkLen("BatchNormInferForward", "y", y, len(x))
	for ch := 0; ch < c; ch++ {
		inv := 1 / math.Sqrt(float64(variance[ch])+float64(eps))
		a := float64(gamma[ch]) * inv
		b := float64(beta[ch]) - float64(mean[ch])*a
		for i := 0; i < n; i++ {
			o := (i*c + ch) * hw
			for j, v := range x[o : o+hw] {
				y[o+j] = float32(float64(v)*a + b)
			}
		}
	}
}

// BatchNormBackward is the training-mode backward pass of
// BatchNormTrainForward: given x, dy, gamma and the batch mean and variance
// it writes dx, dgamma = Σ dy·x̂ and dbeta = Σ dy (x̂ the normalised input),
// overwriting them.
func BatchNormBackward(n, c, hw int, x, dy, gamma, mean, variance, dx, dgamma, dbeta []float32, eps float32) {
	checkBN("BatchNormBackward", n, c, hw, x, gamma, mean, variance, dgamma, dbeta)
	checkLen("BatchNormBackward", "dy", dy, len(x))
	checkLen("BatchNormBackward", "dx", dx, len(x))
	m := float64(n * hw)
	for ch := 0; ch < c; ch++ {
		inv := 1 / math.Sqrt(float64(variance[ch])+float64(eps))
		mu := float64(mean[ch])
		var sdy, sdyx float64
		for i := 0; i < n; i++ {
			o := (i*c + ch) * hw
			for j, d := range dy[o : o+hw] {
				sdy += float64(d)
				sdyx += float64(d) * (float64(x[o+j]) - mu) * inv
			}
		}
		dbeta[ch] = float32(sdy)
		dgamma[ch] = float32(sdyx)
		g := float64(gamma[ch]) * inv
		for i := 0; i < n; i++ {
			o := (i*c + ch) * hw
			for j, d := range dy[o : o+hw] {
				xh := (float64(x[o+j]) - mu) * inv
				dx[o+j] = float32(g * (float64(d) - sdy/m - xh*sdyx/m))
			}
		}
	}
}

// BatchNorm is batch normalisation of fixed shape [N,C,HW] and layout; the
// methods are those of the BatchNorm* functions, which use NCHW.
type BatchNorm struct {
	n, c, hw int
	eps      float32
	l        Layout
}

// NewBatchNorm returns batch normalisation of x [N,C,HW] in layout l. It
// panics if a size is not positive.
func NewBatchNorm(n, c, hw int, eps float32, l Layout) *BatchNorm {
	if n <= 0 || c <= 0 || hw <= 0 {
		panic("ref.NewBatchNorm: sizes must be positive")
	}
	return &BatchNorm{n: n, c: c, hw: hw, eps: eps, l: l}
}

// TrainForward is BatchNormTrainForward in b's layout.
func (b *BatchNorm) TrainForward(x, gamma, beta, y, mean, variance []float32) {
	checkLen("BatchNorm.TrainForward", "y", y, b.n*b.c*b.hw)
	yp, store := plainOut(b.l, b.n, b.c, b.hw, y)
	BatchNormTrainForward(b.n, b.c, b.hw, toPlain(b.l, b.n, b.c, b.hw, x), gamma, beta, yp, mean, variance, b.eps)
	store()
}

// InferForward is BatchNormInferForward in b's layout.
func (b *BatchNorm) InferForward(x, gamma, beta, mean, variance, y []float32) {
	checkLen("BatchNorm.InferForward", "y", y, b.n*b.c*b.hw)
	yp, store := plainOut(b.l, b.n, b.c, b.hw, y)
	BatchNormInferForward(b.n, b.c, b.hw, toPlain(b.l, b.n, b.c, b.hw, x), gamma, beta, mean, variance, yp, b.eps)
	store()
}

// Backward is BatchNormBackward in b's layout.
func (b *BatchNorm) Backward(x, dy, gamma, mean, variance, dx, dgamma, dbeta []float32) {
	checkLen("BatchNorm.Backward", "dx", dx, b.n*b.c*b.hw)
	dxp, store := plainOut(b.l, b.n, b.c, b.hw, dx)
	BatchNormBackward(b.n, b.c, b.hw, toPlain(b.l, b.n, b.c, b.hw, x), toPlain(b.l, b.n, b.c, b.hw, dy),
		gamma, mean, variance, dxp, dgamma, dbeta, b.eps)
	store()
}

// FoldBatchNorm folds inference batch normalisation into the preceding
// convolution or linear layer with k output channels: it scales each output
// channel's weights in w (k·m values, m = len(w)/k) by
// gamma/sqrt(variance+eps) in place and returns the folded bias
// beta + (bias − mean)·gamma/sqrt(variance+eps); bias may be nil (zero).
func FoldBatchNorm(w, bias, gamma, beta, mean, variance []float32, eps float32) []float32 {
	k := len(gamma)
	if k == 0 || len(w)%k != 0 {
		panic(fmt.Sprintf("FoldBatchNorm: %d weights for %d channels", len(w), k))
	}
	checkLen("FoldBatchNorm", "beta", beta, k)
	checkLen("FoldBatchNorm", "mean", mean, k)
	checkLen("FoldBatchNorm", "variance", variance, k)
	if bias != nil {
		checkLen("FoldBatchNorm", "bias", bias, k)
	}
	m := len(w) / k
	out := make([]float32, k)
	for ch := 0; ch < k; ch++ {
		s := float64(gamma[ch]) / math.Sqrt(float64(variance[ch])+float64(eps))
		for i := range w[ch*m : (ch+1)*m] {
			w[ch*m+i] = float32(float64(w[ch*m+i]) * s)
		}
		var b float64
		if bias != nil {
			b = float64(bias[ch])
		}
		out[ch] = float32(float64(beta[ch]) + (b-float64(mean[ch]))*s)
	}
	return out
}

// TrainForwardReLU is TrainForward followed by y = max(y, 0).
func (b *BatchNorm) TrainForwardReLU(x, gamma, beta, y, mean, variance []float32) {
	b.TrainForward(x, gamma, beta, y, mean, variance)
	for i, v := range y {
		if !(v > 0) {
			y[i] = 0
		}
	}
}

// BackwardReLU is Backward for y = relu(TrainForward(x)): dy counts only
// where y > 0. dx may be dy.
func (b *BatchNorm) BackwardReLU(x, y, dy, gamma, mean, variance, dx, dgamma, dbeta []float32) {
	checkLen("BatchNorm.BackwardReLU", "y", y, b.n*b.c*b.hw)
	checkLen("BatchNorm.BackwardReLU", "dy", dy, b.n*b.c*b.hw)
	g := make([]float32, len(dy))
	for i, v := range dy {
		if y[i] > 0 {
			g[i] = v
		}
	}
	b.Backward(x, g, gamma, mean, variance, dx, dgamma, dbeta)
}

// BackwardAddReLU is the backward pass of TrainForwardAddReLU with its
// output y: BackwardReLU, plus the residual's gradient dres = dy where
// y > 0, else 0. dx may be dy; dres must not overlap dy.
func (b *BatchNorm) BackwardAddReLU(x, y, dy, gamma, mean, variance, dx, dres, dgamma, dbeta []float32) {
	checkLen("BatchNorm.BackwardAddReLU", "y", y, b.n*b.c*b.hw)
	checkLen("BatchNorm.BackwardAddReLU", "dy", dy, b.n*b.c*b.hw)
	checkLen("BatchNorm.BackwardAddReLU", "dres", dres, b.n*b.c*b.hw)
	for i, v := range dy {
		dres[i] = 0
		if y[i] > 0 {
			dres[i] = v
		}
	}
	b.Backward(x, dres, gamma, mean, variance, dx, dgamma, dbeta)
}

// TrainForwardAddReLU is TrainForward followed by y = max(y + res, 0).
func (b *BatchNorm) TrainForwardAddReLU(x, res, gamma, beta, y, mean, variance []float32) {
	checkLen("BatchNorm.TrainForwardAddReLU", "res", res, b.n*b.c*b.hw)
	b.TrainForward(x, gamma, beta, y, mean, variance)
	for i, v := range y {
		v += res[i]
		if !(v > 0) {
			v = 0
		}
		y[i] = v
	}
}
