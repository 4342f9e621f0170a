// Package ref holds plain-Go reference implementations of the float32
// kernels of package kernel: convolution, batch normalisation, pooling and
// GEMM on NCHW row-major slices. It has the same exported API as package
// kernel and serves as its test oracle and as a portable fallback; it is
// written for clarity, not speed.
//
// Slices of the wrong length are programming errors and panic with a message
// naming the argument; numerical results are otherwise always produced.
package ref

import (
	"fmt"

	"github.com/autorep/autorep/tensor"
)

// ConvParams describes a 2-D convolution; see tensor.ConvParams.
type ConvParams = tensor.ConvParams

// PoolParams describes 2-D pooling of x [N,C,H,W] into [N,C,OutH,OutW]
// with a KH×KW window. Zero strides mean 1.
type PoolParams struct {
	N, C, H, W       int
	KH, KW           int
	StrideH, StrideW int
	PadH, PadW       int
}

// Norm returns p with zero strides replaced by 1.
func (p PoolParams) Norm() PoolParams {
	if p.StrideH == 0 {
		p.StrideH = 1
	}
	if p.StrideW == 0 {
		p.StrideW = 1
	}
	return p
}

// OutH is the output height (H + 2·PadH − KH)/StrideH + 1 (floor mode).
func (p PoolParams) OutH() int {
	p = p.Norm()
	return (p.H+2*p.PadH-p.KH)/p.StrideH + 1
}

// OutW is the output width (W + 2·PadW − KW)/StrideW + 1 (floor mode).
func (p PoolParams) OutW() int {
	p = p.Norm()
	return (p.W+2*p.PadW-p.KW)/p.StrideW + 1
}

// XLen is the number of input elements N·C·H·W.
func (p PoolParams) XLen() int { return p.N * p.C * p.H * p.W }

// YLen is the number of output elements N·C·OutH·OutW.
func (p PoolParams) YLen() int { return p.N * p.C * p.OutH() * p.OutW() }

// Validate reports whether p describes valid pooling. As in PyTorch the
// padding may be at most half the window.
func (p PoolParams) Validate() error {
	q := p.Norm()
	switch {
	case q.N <= 0 || q.C <= 0 || q.H <= 0 || q.W <= 0 || q.KH <= 0 || q.KW <= 0:
		return fmt.Errorf("pool %+v: sizes must be positive", p)
	case q.StrideH < 0 || q.StrideW < 0 || q.PadH < 0 || q.PadW < 0:
		return fmt.Errorf("pool %+v: negative stride or padding", p)
	case 2*q.PadH > q.KH || 2*q.PadW > q.KW:
		return fmt.Errorf("pool %+v: padding must be at most half the window", p)
	case q.H+2*q.PadH < q.KH || q.W+2*q.PadW < q.KW:
		return fmt.Errorf("pool %+v: window larger than padded input", p)
	}
	return nil
}

// checkLen panics if a slice has the wrong length: a programming error.
func checkLen(op, name string, s []float32, want int) {
	if len(s) != want {
		panic(fmt.Sprintf("%s: %s has %d elements, want %d", op, name, len(s), want))
	}
}
