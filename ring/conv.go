package ring

import (
	"fmt"
	"sync"
)

// ConvParams describes a 2-D convolution on NCHW input x [N,C,H,W] with
// weights [K, C/Groups, R, S] and output y [N,K,OutH,OutW]. Zero StrideH,
// StrideW or Groups mean 1. The fields match kernel.ConvParams, so one
// converts to the other with ring.ConvParams(p).
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

// MulAdds is the number of multiply-adds of the convolution.
func (p ConvParams) MulAdds() float64 {
	p = p.Norm()
	return float64(p.N) * float64(p.K) * float64(p.OutH()*p.OutW()) * float64(p.C/p.Groups*p.R*p.S)
}

// Validate reports whether p describes a valid convolution of sane size.
func (p ConvParams) Validate() error {
	q := p.Norm()
	switch {
	case q.N <= 0 || q.C <= 0 || q.H <= 0 || q.W <= 0 || q.K <= 0 || q.R <= 0 || q.S <= 0:
		return fmt.Errorf("ring: conv %+v: sizes must be positive", p)
	case q.StrideH < 0 || q.StrideW < 0 || q.PadH < 0 || q.PadW < 0 || q.Groups < 0:
		return fmt.Errorf("ring: conv %+v: negative stride, padding or groups", p)
	case q.C%q.Groups != 0 || q.K%q.Groups != 0:
		return fmt.Errorf("ring: conv %+v: channels %d and %d not divisible by groups %d", p, q.C, q.K, q.Groups)
	case q.H+2*q.PadH < q.R || q.W+2*q.PadW < q.S:
		return fmt.Errorf("ring: conv %+v: kernel larger than padded input", p)
	}
	oh, ow := q.OutH(), q.OutW()
	for _, s := range [][]int{{q.N, q.C, q.H, q.W}, {q.N, q.K, oh, ow}, {q.C, q.R, q.S, oh, ow}, {q.K, q.C, q.R, q.S}} {
		if checkShape(s) != nil {
			return fmt.Errorf("ring: conv %+v: too large", p)
		}
	}
	return nil
}

// Conv2d sets y = conv(x, w) mod 2^64 (no bias) for NCHW x [N,C,H,W],
// weights [K,C/G,R,S] and y [N,K,OutH,OutW]. It runs a direct convolution
// kernel (see conv_direct.go; an unpadded 1×1 stride-1 convolution is a
// plain GEMM). Work is spread over all cores: across images and groups when
// there are enough, else across output tiles.
func Conv2d(p ConvParams, x, w, y []uint64) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if len(x) != p.XLen() || len(w) != p.WLen() || len(y) != p.YLen() {
		return fmt.Errorf("ring: conv %+v: have x %d, w %d, y %d elements, want %d, %d, %d",
			p, len(x), len(w), len(y), p.XLen(), p.WLen(), p.YLen())
	}
	conv2d(p.Norm(), x, w, y, Workers(), currentKernel())
	return nil
}

func conv2d(p ConvParams, x, w, y []uint64, workers int, kern microKernel) {
	tasks := p.N * p.Groups
	if !useDirect(p) {
		// Unpadded 1×1 stride-1: y_g = W_g · x_g, a plain GEMM per image
		// and group.
		cg, kg, hw := p.C/p.Groups, p.K/p.Groups, p.H*p.W
		for t := range tasks {
			n, g := t/p.Groups, t%p.Groups
			gemm(gemmArgs{m: kg, n: hw, k: cg,
				a: w[g*kg*cg:][:kg*cg],
				b: x[(n*p.C+g*cg)*hw:][:cg*hw],
				c: y[(n*p.K+g*kg)*hw:][:kg*hw]}, workers, kern)
		}
		return
	}
	if workers <= 1 || tasks < workers || p.MulAdds() < parallelMin {
		for t := range tasks {
			convDirect(p, x, w, y, t/p.Groups, t%p.Groups, workers)
		}
		return
	}
	var wg sync.WaitGroup
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := wk; t < tasks; t += workers {
				convDirect(p, x, w, y, t/p.Groups, t%p.Groups, 1)
			}
		}()
	}
	wg.Wait()
}

// ceilDiv is ⌈a/b⌉ for b > 0 and any sign of a.
func ceilDiv(a, b int) int {
	if a <= 0 {
		return -((-a) / b)
	}
	return (a + b - 1) / b
}

// convScalar is the reference convolution by direct summation; the tests
// compare Conv2d against it.
func convScalar(p ConvParams, x, w, y []uint64) {
	p = p.Norm()
	oh, ow := p.OutH(), p.OutW()
	cg, kg := p.C/p.Groups, p.K/p.Groups
	for n := range p.N {
		for k := range p.K {
			g := k / kg
			for oy := range oh {
				for ox := range ow {
					var sum uint64
					for c := range cg {
						for r := range p.R {
							iy := oy*p.StrideH - p.PadH + r
							if iy < 0 || iy >= p.H {
								continue
							}
							for s := range p.S {
								ix := ox*p.StrideW - p.PadW + s
								if ix < 0 || ix >= p.W {
									continue
								}
								sum += x[((n*p.C+g*cg+c)*p.H+iy)*p.W+ix] * w[((k*cg+c)*p.R+r)*p.S+s]
							}
						}
					}
					y[((n*p.K+k)*oh+oy)*ow+ox] = sum
				}
			}
		}
	}
}

// Conv2dTensor returns conv(x, w) for tensors x [N,C,H,W] and w [K,C/G,R,S]
// with the strides, padding and groups of p (p's sizes are taken from the
// tensors).
func Conv2dTensor(x, w *Tensor, p ConvParams) (*Tensor, error) {
	if len(x.Shape) != 4 || len(w.Shape) != 4 {
		return nil, fmt.Errorf("ring: conv of shapes %v and %v: want 4-D", x.Shape, w.Shape)
	}
	p.N, p.C, p.H, p.W = x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	p.K, p.R, p.S = w.Shape[0], w.Shape[2], w.Shape[3]
	q := p.Norm()
	if q.Groups > 0 && p.C%q.Groups == 0 && w.Shape[1] != p.C/q.Groups {
		return nil, fmt.Errorf("ring: conv weight %v for %d input channels in %d groups", w.Shape, p.C, q.Groups)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	y := New(p.N, p.K, p.OutH(), p.OutW())
	if err := Conv2d(p, x.Data, w.Data, y.Data); err != nil {
		return nil, err
	}
	return y, nil
}
