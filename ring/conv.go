package ring

import (
	"fmt"
	"sync"

	"github.com/autorep/autorep/tensor"
)

// ConvParams describes a 2-D convolution on NCHW input x [N,C,H,W] with
// weights [K, C/Groups, R, S]; it is the same type as kernel.ConvParams.
type ConvParams = tensor.ConvParams

// validateConv checks p (tensor.ConvParams.Validate) and that every
// buffer the ring kernels allocate for it has a representable size.
func validateConv(p ConvParams) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("ring: %w", err)
	}
	q := p.Norm()
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
// kernel (see conv_direct.go), except on small output planes with large
// weights, which take GEMM over im2col (an unpadded 1×1 stride-1
// convolution is a plain GEMM). Work is spread over all cores: across
// images and groups when there are enough, else across output tiles.
func Conv2d(p ConvParams, x, w, y []uint64) error {
	if err := validateConv(p); err != nil {
		return err
	}
	if len(x) != p.XLen() || len(w) != p.WLen() || len(y) != p.YLen() {
		return fmt.Errorf("ring: conv %+v: have x %d, w %d, y %d elements, want %d, %d, %d",
			p, len(x), len(w), len(y), p.XLen(), p.WLen(), p.YLen())
	}
	conv2d(p.Norm(), x, w, y, Workers())
	return nil
}

// Convolution strategies, chosen per geometry by convPath.
const (
	pathGemm   = iota // unpadded 1×1 stride 1: y_g = W_g · x_g
	pathDirect        // direct kernel (conv_direct.go)
	pathIm2col        // im2col + GEMM
)

// The direct path is taken when the output plane (oh·ow) has at least
// directMinOutputs positions or the group's weights have at most
// directMaxWeights elements. On small planes the direct kernel wastes much
// of each 16-wide tile on padding columns (4×4 outputs: half) and re-reads
// the weights once per tile, which costs when they do not fit in L2; GEMM
// over im2col reads them once. Measured (G/cpu-s, direct vs im2col):
// ResNet-18 256→256 on 8×8 10 vs 12–14, 512→512 on 4×4 4 vs 9–10; ResNet-20
// 64→64 on 8×8 (weights 288 KiB) 8–12 vs 4–8; on 16×16 and larger planes
// direct is as fast or faster (32→32 on 16×16: 12–14 vs 8–13). Tests change
// the thresholds to cover both paths.
var (
	directMinOutputs = 100
	directMaxWeights = 64 << 10 // 512 KiB
)

// convPath picks the strategy for a normalised p.
func convPath(p ConvParams) int {
	kw := p.K / p.Groups * (p.C / p.Groups) * p.R * p.S
	switch {
	case p.R == 1 && p.S == 1 && p.StrideH == 1 && p.StrideW == 1 && p.PadH == 0 && p.PadW == 0:
		return pathGemm
	case p.OutH()*p.OutW() >= directMinOutputs || kw <= directMaxWeights:
		return pathDirect
	}
	return pathIm2col
}

func conv2d(p ConvParams, x, w, y []uint64, workers int) {
	cg, kg := p.C/p.Groups, p.K/p.Groups
	oh, ow := p.OutH(), p.OutW()
	kdim, ndim := cg*p.R*p.S, oh*ow
	path := convPath(p)
	if path == pathGemm && ndim == 1 && p.Groups == 1 {
		// A dense layer (1×1 over H = W = 1): y [N,K] = x [N,C] · wᵀ in one
		// GEMM over the batch instead of N matrix-vector products.
		gemm(gemmArgs{transB: true, m: p.N, n: p.K, k: p.C, a: x, b: w, c: y}, workers)
		return
	}
	// one computes image n, group g on up to gw goroutines.
	one := func(n, g, gw int) {
		args := gemmArgs{m: kg, n: ndim, k: kdim,
			a: w[g*kg*kdim:][:kg*kdim],
			b: x[(n*p.C+g*cg)*p.H*p.W:][:cg*p.H*p.W],
			c: y[(n*p.K+g*kg)*ndim:][:kg*ndim]}
		switch path {
		case pathDirect:
			convDirect(p, x, w, y, n, g, gw)
			return
		case pathIm2col:
			col := getCol(kdim * ndim)
			defer colPool.Put(col)
			im2col(p, args.b, cg, oh, ow, *col)
			args.b = *col
		}
		gemm(args, gw)
	}
	tasks := p.N * p.Groups
	if workers <= 1 || tasks < workers || p.MulAdds() < parallelMin {
		for t := range tasks {
			one(t/p.Groups, t%p.Groups, workers)
		}
		return
	}
	var wg sync.WaitGroup
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := wk; t < tasks; t += workers {
				one(t/p.Groups, t%p.Groups, 1)
			}
		}()
	}
	wg.Wait()
}

var colPool sync.Pool

func getCol(n int) *[]uint64 {
	if c, ok := colPool.Get().(*[]uint64); ok && cap(*c) >= n {
		*c = (*c)[:n]
		return c
	}
	c := make([]uint64, n)
	return &c
}

// im2col writes the patch matrix of one image's channel group x [cg,H,W] to
// col [cg·R·S, oh·ow]: col[(c·R+r)·S+s][oy·ow+ox] = x[c, oy·sh−ph+r,
// ox·sw−pw+s], 0 outside the image.
func im2col(p ConvParams, x []uint64, cg, oh, ow int, col []uint64) {
	row := 0
	for c := range cg {
		xc := x[c*p.H*p.W : (c+1)*p.H*p.W]
		for r := range p.R {
			for s := range p.S {
				dst := col[row*oh*ow : (row+1)*oh*ow]
				row++
				// Output columns whose input column is inside the image:
				// ox in [lo, hi).
				lo := min(ow, max(0, ceilDiv(p.PadW-s, p.StrideW)))
				hi := max(lo, min(ow, ceilDiv(p.W+p.PadW-s, p.StrideW)))
				for oy := range oh {
					d := dst[oy*ow : (oy+1)*ow]
					iy := oy*p.StrideH - p.PadH + r
					if iy < 0 || iy >= p.H {
						clear(d)
						continue
					}
					clear(d[:lo])
					clear(d[hi:])
					if lo == hi {
						continue
					}
					xr := xc[iy*p.W : (iy+1)*p.W]
					ix := lo*p.StrideW - p.PadW + s
					if p.StrideW == 1 {
						copy(d[lo:hi], xr[ix:])
						continue
					}
					for ox := lo; ox < hi; ox++ {
						d[ox] = xr[ix]
						ix += p.StrideW
					}
				}
			}
		}
	}
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
	if err := validateConv(p); err != nil {
		return nil, err
	}
	y := New(p.N, p.K, p.OutH(), p.OutW())
	if err := Conv2d(p, x.Data, w.Data, y.Data); err != nil {
		return nil, err
	}
	return y, nil
}
