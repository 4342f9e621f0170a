//go:build !goexperiment.simd || !amd64

package reduce

// Without Go's SIMD experiment on amd64 the scalar kernels run.

// simdKernels reports whether the AVX-512 kernels run.
const simdKernels = false

func polyForwardBinary(xs, ys, q []float32) { polyForwardScalar(xs, ys, q) }

func polyBackwardBinary(xs, gs, dx, q, acc []float32, wantM, wantC bool) {
	polyBackwardScalar(xs, gs, dx, q, acc, wantM, wantC)
}

func snlForwardRun(xs, ys, al []float32) { snlForwardScalar(xs, ys, al) }

func snlBackwardRun(xs, gs, dx, al, pa []float32) { snlBackwardScalar(xs, gs, dx, al, pa) }

func absMax16(acc *[16]uint32, blk []float32) { absMax16Scalar(acc, blk) }
