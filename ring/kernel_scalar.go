//go:build !goexperiment.simd || !amd64

package ring

// simdAvailable is false: this build has no SIMD kernel (build with
// GOEXPERIMENT=simd on amd64 for the AVX-512 one).
const simdAvailable = false

// simdKernel is never selected in this build; it is the scalar kernel so
// that the dispatch code is the same in every build.
var simdKernel microKernel = scalarKernel

// simdConvKernel and simdConvRowKernel are likewise the scalar
// direct-convolution kernels.
var (
	simdConvKernel    convKernel    = scalarConvKernel
	simdConvRowKernel convRowKernel = scalarConvRowKernel
)
