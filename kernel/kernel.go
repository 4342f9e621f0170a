// Package kernel holds the fast float32 kernels of autorep: convolution,
// batch normalisation and pooling through oneDNN 2.x and GEMM through
// OpenBLAS, on NCHW row-major slices. Package kernel/ref has the same
// exported API in plain Go and is the reference the tests compare against.
//
// Slices of the wrong length and invalid shapes are programming errors and
// panic with a message naming the argument.
package kernel

import "github.com/autorep/autorep/kernel/ref"

// ConvParams describes a 2-D convolution; see ref.ConvParams.
type ConvParams = ref.ConvParams

// PoolParams describes 2-D pooling; see ref.PoolParams.
type PoolParams = ref.PoolParams
