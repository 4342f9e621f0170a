package kernel

import "github.com/autorep/autorep/kernel/ref"

// BatchNormTrainForward normalises x [N,C,HW] with batch statistics and
// writes the batch mean and biased variance; see ref.BatchNormTrainForward.
func BatchNormTrainForward(n, c, hw int, x, gamma, beta, y, mean, variance []float32, eps float32) {
	ref.BatchNormTrainForward(n, c, hw, x, gamma, beta, y, mean, variance, eps)
}

// BatchNormInferForward normalises x with given statistics.
func BatchNormInferForward(n, c, hw int, x, gamma, beta, mean, variance, y []float32, eps float32) {
	ref.BatchNormInferForward(n, c, hw, x, gamma, beta, mean, variance, y, eps)
}

// BatchNormBackward is the training-mode backward of BatchNormTrainForward.
func BatchNormBackward(n, c, hw int, x, dy, gamma, mean, variance, dx, dgamma, dbeta []float32, eps float32) {
	ref.BatchNormBackward(n, c, hw, x, dy, gamma, mean, variance, dx, dgamma, dbeta, eps)
}

// MaxPool is max pooling of fixed shape.
type MaxPool struct{ r *ref.MaxPool }

// NewMaxPool returns max pooling for p; it panics if p is invalid.
func NewMaxPool(p PoolParams) *MaxPool { return &MaxPool{r: ref.NewMaxPool(p)} }

// Params returns the (normalised) parameters.
func (m *MaxPool) Params() PoolParams { return m.r.Params() }

// WorkspaceSize is the byte length of the workspace Forward fills for Backward.
func (m *MaxPool) WorkspaceSize() int { return m.r.WorkspaceSize() }

// Forward computes y = maxpool(x); ws (WorkspaceSize bytes) or nil for inference.
func (m *MaxPool) Forward(x, y []float32, ws []byte) { m.r.Forward(x, y, ws) }

// Backward computes dx from dy and the workspace of a training Forward.
func (m *MaxPool) Backward(dy []float32, ws []byte, dx []float32) { m.r.Backward(dy, ws, dx) }

// AvgPool is average pooling (count_include_pad=True, PyTorch default).
type AvgPool struct{ r *ref.AvgPool }

// NewAvgPool returns average pooling for p; it panics if p is invalid.
func NewAvgPool(p PoolParams) *AvgPool { return &AvgPool{r: ref.NewAvgPool(p)} }

// Params returns the (normalised) parameters.
func (a *AvgPool) Params() PoolParams { return a.r.Params() }

// Forward computes y = avgpool(x).
func (a *AvgPool) Forward(x, y []float32) { a.r.Forward(x, y) }

// Backward computes dx from dy.
func (a *AvgPool) Backward(dy, dx []float32) { a.r.Backward(dy, dx) }

// GlobalAvgPoolForward averages x [N,C,HW] over HW into y [N,C].
func GlobalAvgPoolForward(n, c, hw int, x, y []float32) { ref.GlobalAvgPoolForward(n, c, hw, x, y) }

// GlobalAvgPoolBackward spreads dy [N,C] evenly over dx [N,C,HW].
func GlobalAvgPoolBackward(n, c, hw int, dy, dx []float32) {
	ref.GlobalAvgPoolBackward(n, c, hw, dy, dx)
}

// Sgemm is row-major C = alpha·op(A)·op(B) + beta·C; see ref.Sgemm.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ref.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SetThreads sets the kernels' thread count (n < 1: runtime.NumCPU()).
func SetThreads(n int) { ref.SetThreads(n) }

// Threads returns the thread count.
func Threads() int { return ref.Threads() }
