package tensor

import "fmt"

// ConvParams describes a 2-D convolution on NCHW input x [N,C,H,W] with
// weights [K, C/Groups, R, S] and output [N,K,OutH,OutW]. Zero StrideH,
// StrideW or Groups mean 1. It is shared by the float kernels (package
// kernel) and the ring kernels (package ring).
type ConvParams struct {
	N, C, H, W       int // input batch, channels, height, width
	K, R, S          int // output channels, kernel height, kernel width
	StrideH, StrideW int
	PadH, PadW       int // symmetric zero padding
	Groups           int
}

// Norm returns p with zero strides and groups replaced by 1.
func (p ConvParams) Norm() ConvParams {
	if p.StrideH == 0 {
		p.StrideH = 1
	}
	if p.StrideW == 0 {
		p.StrideW = 1
	}
	if p.Groups == 0 {
		p.Groups = 1
	}
	return p
}

// OutH is the output height (H + 2·PadH − R)/StrideH + 1.
func (p ConvParams) OutH() int {
	p = p.Norm()
	return (p.H+2*p.PadH-p.R)/p.StrideH + 1
}

// OutW is the output width (W + 2·PadW − S)/StrideW + 1.
func (p ConvParams) OutW() int {
	p = p.Norm()
	return (p.W+2*p.PadW-p.S)/p.StrideW + 1
}

// XLen is the number of input elements N·C·H·W.
func (p ConvParams) XLen() int { return p.N * p.C * p.H * p.W }

// WLen is the number of weight elements K·(C/Groups)·R·S.
func (p ConvParams) WLen() int {
	p = p.Norm()
	return p.K * (p.C / p.Groups) * p.R * p.S
}

// YLen is the number of output elements N·K·OutH·OutW.
func (p ConvParams) YLen() int { return p.N * p.K * p.OutH() * p.OutW() }

// FLOPs is the number of floating-point operations (2 per multiply-add) of
// one forward pass; backward-data and backward-weights cost the same.
func (p ConvParams) FLOPs() float64 {
	p = p.Norm()
	return 2 * float64(p.N) * float64(p.K) * float64(p.OutH()*p.OutW()) * float64(p.C/p.Groups*p.R*p.S)
}

// MulAdds is the number of multiply-adds of one forward pass.
func (p ConvParams) MulAdds() float64 { return p.FLOPs() / 2 }

// Validate reports whether p describes a valid convolution.
func (p ConvParams) Validate() error {
	q := p.Norm()
	switch {
	case q.N <= 0 || q.C <= 0 || q.H <= 0 || q.W <= 0 || q.K <= 0 || q.R <= 0 || q.S <= 0:
		return fmt.Errorf("conv %+v: sizes must be positive", p)
	case q.StrideH < 0 || q.StrideW < 0 || q.PadH < 0 || q.PadW < 0 || q.Groups < 0:
		return fmt.Errorf("conv %+v: negative stride, padding or groups", p)
	case q.C%q.Groups != 0 || q.K%q.Groups != 0:
		return fmt.Errorf("conv %+v: channels %d and %d not divisible by groups %d", p, q.C, q.K, q.Groups)
	case q.H+2*q.PadH < q.R || q.W+2*q.PadW < q.S:
		return fmt.Errorf("conv %+v: kernel larger than padded input", p)
	}
	return nil
}
