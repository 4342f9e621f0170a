package kernel

/*
#include "ak.h"
*/
import "C"

import (
	"fmt"
	"sync"

	"github.com/autorep/autorep/kernel/ref"
)

// BatchNorm is batch normalisation of fixed shape [N,C,HW], epsilon and
// layout (implemented in bn.c, parallel over images).
type BatchNorm struct {
	n, c, hw int
	eps      float32
	l        Layout
}

// NewBatchNorm returns batch normalisation of x [N,C,HW] in layout l. It
// panics if a size is not positive.
func NewBatchNorm(n, c, hw int, eps float32, l Layout) *BatchNorm {
	if n <= 0 || c <= 0 || hw <= 0 {
		panic(fmt.Sprintf("kernel.NewBatchNorm: sizes n=%d c=%d hw=%d must be positive", n, c, hw))
	}
	return &BatchNorm{n: n, c: c, hw: hw, eps: eps, l: l}
}

// checkData and checkPer panic unless s has N·C·HW resp. C elements.
func (b *BatchNorm) checkData(op, name string, s []float32) { checkLen(op, name, s, b.n*b.c*b.hw) }
func (b *BatchNorm) checkPer(op, name string, s []float32)  { checkLen(op, name, s, b.c) }

// checkInput checks the arguments every pass, forward or backward, shares:
// the input x, the scale gamma and the statistics mean and variance.
func (b *BatchNorm) checkInput(op string, x, gamma, mean, variance []float32) {
	b.checkData(op, "x", x)
	b.checkPer(op, "gamma", gamma)
	b.checkPer(op, "mean", mean)
	b.checkPer(op, "variance", variance)
}

// checkForward checks the arguments every forward pass shares.
func (b *BatchNorm) checkForward(op string, x, y, gamma, beta, mean, variance []float32) {
	b.checkInput(op, x, gamma, mean, variance)
	b.checkData(op, "y", y)
	b.checkPer(op, "beta", beta)
}

// TrainForward normalises x with its batch statistics,
// y = gamma·(x − mean)/sqrt(variance + eps) + beta, and writes the batch
// mean and biased variance.
func (b *BatchNorm) TrainForward(x, gamma, beta, y, mean, variance []float32) {
	b.trainForward("BatchNorm.TrainForward", false, x, nil, gamma, beta, y, mean, variance)
}

// TrainForwardReLU is TrainForward followed by y = max(y, 0), in one pass.
func (b *BatchNorm) TrainForwardReLU(x, gamma, beta, y, mean, variance []float32) {
	b.trainForward("BatchNorm.TrainForwardReLU", true, x, nil, gamma, beta, y, mean, variance)
}

// TrainForwardAddReLU is TrainForward followed by y = max(y + res, 0) (a
// residual add and ReLU after the batch norm), in one pass. Its backward
// pass is BackwardReLU with this y (then ∂L/∂res is dy where y > 0).
func (b *BatchNorm) TrainForwardAddReLU(x, res, gamma, beta, y, mean, variance []float32) {
	const op = "BatchNorm.TrainForwardAddReLU"
	b.checkData(op, "res", res)
	b.trainForward(op, true, x, res, gamma, beta, y, mean, variance)
}

// trainForward checks the arguments of the training forward passes and
// runs bn.c's: y = bn(x) (+ res when res is not nil), then max(y, 0) with
// relu. The caller checks res.
func (b *BatchNorm) trainForward(op string, relu bool, x, res, gamma, beta, y, mean, variance []float32) {
	b.checkForward(op, x, y, gamma, beta, mean, variance)
	r := C.int(0)
	if relu {
		r = 1
	}
	mu.Lock()
	defer mu.Unlock()
	check(op, C.ak_bn2_train_relu(C.int64_t(b.n), C.int64_t(b.c), C.int64_t(b.hw), layoutC(b.l), C.float(b.eps),
		fptr(x), fptr(gamma), fptr(beta), fptr(y), fptr(mean), fptr(variance), r, fptr(res)))
}

// InferForward normalises x with given (running) statistics.
func (b *BatchNorm) InferForward(x, gamma, beta, mean, variance, y []float32) {
	const op = "BatchNorm.InferForward"
	b.checkForward(op, x, y, gamma, beta, mean, variance)
	mu.Lock()
	defer mu.Unlock()
	check(op, C.ak_bn2_infer(C.int64_t(b.n), C.int64_t(b.c), C.int64_t(b.hw), layoutC(b.l), C.float(b.eps),
		fptr(x), fptr(gamma), fptr(beta), fptr(mean), fptr(variance), fptr(y)))
}

// Backward is the training-mode backward pass: from x, dy, gamma and the
// batch mean and variance it writes dx, dgamma and dbeta.
func (b *BatchNorm) Backward(x, dy, gamma, mean, variance, dx, dgamma, dbeta []float32) {
	b.backward("BatchNorm.Backward", x, nil, dy, gamma, mean, variance, dx, nil, dgamma, dbeta)
}

// BackwardReLU is Backward for y = relu(TrainForward(x)) (the output of
// TrainForwardReLU): dy counts only where y > 0. dx may be dy.
func (b *BatchNorm) BackwardReLU(x, y, dy, gamma, mean, variance, dx, dgamma, dbeta []float32) {
	const op = "BatchNorm.BackwardReLU"
	b.checkData(op, "y", y)
	b.backward(op, x, y, dy, gamma, mean, variance, dx, nil, dgamma, dbeta)
}

// BackwardAddReLU is the backward pass of TrainForwardAddReLU with its
// output y: like BackwardReLU, and it also writes the residual's gradient
// dres = dy where y > 0, else 0, in the same pass. dx may be dy; dres must
// not overlap dy.
func (b *BatchNorm) BackwardAddReLU(x, y, dy, gamma, mean, variance, dx, dres, dgamma, dbeta []float32) {
	const op = "BatchNorm.BackwardAddReLU"
	b.checkData(op, "y", y)
	b.checkData(op, "dy", dy)
	b.checkData(op, "dres", dres)
	if &dres[0] == &dy[0] {
		panic("kernel: " + op + ": dres is dy")
	}
	b.backward(op, x, y, dy, gamma, mean, variance, dx, dres, dgamma, dbeta)
}

// backward checks the arguments every backward pass shares and runs bn.c's
// backward pass: y nil means no ReLU, dres nil no residual gradient. The
// caller checks y and dres.
func (b *BatchNorm) backward(op string, x, y, dy, gamma, mean, variance, dx, dres, dgamma, dbeta []float32) {
	b.checkInput(op, x, gamma, mean, variance)
	b.checkData(op, "dy", dy)
	b.checkData(op, "dx", dx)
	b.checkPer(op, "dgamma", dgamma)
	b.checkPer(op, "dbeta", dbeta)
	mu.Lock()
	defer mu.Unlock()
	check(op, C.ak_bn2_backward_relu(C.int64_t(b.n), C.int64_t(b.c), C.int64_t(b.hw), layoutC(b.l), C.float(b.eps),
		fptr(x), fptr(dy), fptr(y), fptr(gamma), fptr(mean), fptr(variance), fptr(dx), fptr(dres), fptr(dgamma),
		fptr(dbeta)))
}

type bnKey struct {
	n, c, hw int
	eps      float32
}

var (
	bnCacheMu sync.Mutex
	bnCache   = map[bnKey]*BatchNorm{}
)

// cachedBN returns the NCHW BatchNorm for a shape, creating it once.
func cachedBN(n, c, hw int, eps float32) *BatchNorm {
	k := bnKey{n, c, hw, eps}
	bnCacheMu.Lock()
	defer bnCacheMu.Unlock()
	b := bnCache[k]
	if b == nil {
		b = NewBatchNorm(n, c, hw, eps, NCHW)
		bnCache[k] = b
	}
	return b
}

// BatchNormTrainForward normalises x [N,C,HW] (NCHW) with its batch
// statistics: y = gamma·(x − mean)/sqrt(variance + eps) + beta per channel,
// writing the batch mean and the biased batch variance to mean and
// variance.
func BatchNormTrainForward(n, c, hw int, x, gamma, beta, y, mean, variance []float32, eps float32) {
	cachedBN(n, c, hw, eps).TrainForward(x, gamma, beta, y, mean, variance)
}

// BatchNormInferForward normalises x [N,C,HW] (NCHW) with given (running)
// statistics.
func BatchNormInferForward(n, c, hw int, x, gamma, beta, mean, variance, y []float32, eps float32) {
	cachedBN(n, c, hw, eps).InferForward(x, gamma, beta, mean, variance, y)
}

// BatchNormBackward is the training-mode backward pass of
// BatchNormTrainForward; it overwrites dx, dgamma and dbeta.
func BatchNormBackward(n, c, hw int, x, dy, gamma, mean, variance, dx, dgamma, dbeta []float32, eps float32) {
	cachedBN(n, c, hw, eps).Backward(x, dy, gamma, mean, variance, dx, dgamma, dbeta)
}

// FoldBatchNorm folds inference batch normalisation into the preceding
// convolution or linear layer; see ref.FoldBatchNorm.
func FoldBatchNorm(w, bias, gamma, beta, mean, variance []float32, eps float32) []float32 {
	return ref.FoldBatchNorm(w, bias, gamma, beta, mean, variance, eps)
}
