package ref

import "fmt"

// ConvOpts are the options of NewConvOpts.
type ConvOpts struct {
	// Layout of the activations x, y, dx and dy (weights are always plain
	// [K,C/G,R,S]).
	Layout Layout
	// Sum makes Forward accumulate, y += conv(x, w) + bias (a fused
	// residual addition); the backward passes are unaffected.
	Sum bool
	// ReLU fuses y = max(y, 0) into Forward (after Sum); such a Conv is
	// for inference only and its Backward methods panic.
	ReLU bool
	// Algo selects the convolution algorithm of package kernel (package
	// ref always computes directly in float64).
	Algo Algo
}

// Algo is a convolution algorithm.
type Algo int

// The algorithms. AlgoAuto uses Winograd F(4×4,3×3) for 3×3 stride-1
// ungrouped convolutions whose input and output channels are multiples of
// 16 (with oneDNN's avx512_core kernels 1.2–2.3× faster than direct on
// ResNet-20's layers; results differ from direct by rounding, ~1e-5
// relative) and direct otherwise — except that with fewer than 32 input
// or output channels only the backward-weights pass uses Winograd (see
// conv_alg in kernel/ak.c).
const (
	AlgoAuto Algo = iota
	AlgoDirect
	AlgoWinograd
)

// Conv is a 2-D convolution of fixed shape. In package ref it holds only the
// parameters; package kernel caches its oneDNN primitives in it.
type Conv struct {
	p ConvParams
	o ConvOpts
}

// NewConv returns a convolution for p on NCHW tensors. It panics if p is
// invalid (see ConvParams.Validate): shapes come from the program, not from
// data.
func NewConv(p ConvParams) *Conv { return NewConvOpts(p, ConvOpts{}) }

// NewConvOpts returns a convolution for p with options o.
func NewConvOpts(p ConvParams, o ConvOpts) *Conv {
	if err := p.Validate(); err != nil {
		panic("ref.NewConv: " + err.Error())
	}
	return &Conv{p: p.Norm(), o: o}
}

// Params returns the (normalised) parameters of c.
func (c *Conv) Params() ConvParams { return c.p }

// Opts returns the options of c.
func (c *Conv) Opts() ConvOpts { return c.o }

func (c *Conv) noReLU(op string) {
	if c.o.ReLU {
		panic("ref: " + op + " on a Conv with a fused ReLU (inference only)")
	}
}

// Forward computes y = conv(x, w) + bias (y += … with Opts().Sum, then
// max(·, 0) with Opts().ReLU). x is [N,C,H,W] and y [N,K,OutH,OutW] in c's
// layout, w [K,C/G,R,S], bias [K] or nil.
func (c *Conv) Forward(x, w, bias, y []float32) {
	c.check("Conv.Forward", x, w, y)
	p, l := c.p, c.o.Layout
	yp, store := plainOut(l, p.N, p.K, p.OutH()*p.OutW(), y)
	var old []float32
	if c.o.Sum {
		old = toPlain(l, p.N, p.K, p.OutH()*p.OutW(), y)
		if &old[0] == &yp[0] {
			old = append([]float32(nil), old...)
		}
	}
	c.forward(toPlain(l, p.N, p.C, p.H*p.W, x), w, bias, yp)
	for i := range old {
		yp[i] += old[i]
	}
	if c.o.ReLU {
		for i, v := range yp {
			if v < 0 {
				yp[i] = 0
			}
		}
	}
	store()
}

// BackwardData computes dx = ∂L/∂x from dy = ∂L/∂y and the weights w.
// dx is overwritten.
func (c *Conv) BackwardData(dy, w, dx []float32) {
	c.noReLU("Conv.BackwardData")
	c.check("Conv.BackwardData", dx, w, dy)
	p, l := c.p, c.o.Layout
	dxp, store := plainOut(l, p.N, p.C, p.H*p.W, dx)
	c.backwardData(toPlain(l, p.N, p.K, p.OutH()*p.OutW(), dy), w, dxp)
	store()
}

// BackwardWeights computes dw = ∂L/∂w and, if dbias is not nil,
// dbias = ∂L/∂bias from the input x and dy. Outputs are overwritten.
func (c *Conv) BackwardWeights(x, dy, dw, dbias []float32) {
	c.noReLU("Conv.BackwardWeights")
	c.check("Conv.BackwardWeights", x, dw, dy)
	p, l := c.p, c.o.Layout
	c.backwardWeights(toPlain(l, p.N, p.C, p.H*p.W, x), toPlain(l, p.N, p.K, p.OutH()*p.OutW(), dy), dw, dbias)
}

func (c *Conv) check(op string, x, w, y []float32) {
	p := c.p
	checkLen(op, "x", x, p.XLen())
	checkLen(op, "w", w, p.WLen())
	checkLen(op, "y", y, p.YLen())
}

func (c *Conv) forward(x, w, bias, y []float32) {
	if bias != nil {
		checkLen("Conv.Forward", "bias", bias, c.p.K)
	}
	p := c.p
	oh, ow := p.OutH(), p.OutW()
	cg, kg := p.C/p.Groups, p.K/p.Groups
	for n := 0; n < p.N; n++ {
		for k := 0; k < p.K; k++ {
			g := k / kg
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var acc float64
					for ci := 0; ci < cg; ci++ {
						xc := x[((n*p.C)+g*cg+ci)*p.H*p.W:]
						wk := w[(k*cg+ci)*p.R*p.S:]
						for r := 0; r < p.R; r++ {
							h := i*p.StrideH - p.PadH + r
							if h < 0 || h >= p.H {
								continue
							}
							for s := 0; s < p.S; s++ {
								v := j*p.StrideW - p.PadW + s
								if v < 0 || v >= p.W {
									continue
								}
								acc += float64(xc[h*p.W+v]) * float64(wk[r*p.S+s])
							}
						}
					}
					if bias != nil {
						acc += float64(bias[k])
					}
					y[((n*p.K+k)*oh+i)*ow+j] = float32(acc)
				}
			}
		}
	}
}

func (c *Conv) backwardData(dy, w, dx []float32) {
	p := c.p
	oh, ow := p.OutH(), p.OutW()
	cg, kg := p.C/p.Groups, p.K/p.Groups
	acc := make([]float64, len(dx))
	for n := 0; n < p.N; n++ {
		for k := 0; k < p.K; k++ {
			g := k / kg
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					d := float64(dy[((n*p.K+k)*oh+i)*ow+j])
					for ci := 0; ci < cg; ci++ {
						base := ((n * p.C) + g*cg + ci) * p.H * p.W
						wk := w[(k*cg+ci)*p.R*p.S:]
						for r := 0; r < p.R; r++ {
							h := i*p.StrideH - p.PadH + r
							if h < 0 || h >= p.H {
								continue
							}
							for s := 0; s < p.S; s++ {
								v := j*p.StrideW - p.PadW + s
								if v < 0 || v >= p.W {
									continue
								}
								acc[base+h*p.W+v] += d * float64(wk[r*p.S+s])
							}
						}
					}
				}
			}
		}
	}
	for i, v := range acc {
		dx[i] = float32(v)
	}
}

func (c *Conv) backwardWeights(x, dy, dw, dbias []float32) {
	p := c.p
	if dbias != nil {
		checkLen("Conv.BackwardWeights", "dbias", dbias, p.K)
	}
	oh, ow := p.OutH(), p.OutW()
	cg, kg := p.C/p.Groups, p.K/p.Groups
	for k := 0; k < p.K; k++ {
		g := k / kg
		for ci := 0; ci < cg; ci++ {
			for r := 0; r < p.R; r++ {
				for s := 0; s < p.S; s++ {
					var acc float64
					for n := 0; n < p.N; n++ {
						xc := x[((n*p.C)+g*cg+ci)*p.H*p.W:]
						dyk := dy[(n*p.K+k)*oh*ow:]
						for i := 0; i < oh; i++ {
							h := i*p.StrideH - p.PadH + r
							if h < 0 || h >= p.H {
								continue
							}
							for j := 0; j < ow; j++ {
								v := j*p.StrideW - p.PadW + s
								if v < 0 || v >= p.W {
									continue
								}
								acc += float64(xc[h*p.W+v]) * float64(dyk[i*ow+j])
							}
						}
					}
					dw[((k*cg+ci)*p.R+r)*p.S+s] = float32(acc)
				}
			}
		}
		if dbias != nil {
			var acc float64
			for n := 0; n < p.N; n++ {
				for _, v := range dy[(n*p.K+k)*oh*ow : (n*p.K+k+1)*oh*ow] {
					acc += float64(v)
				}
			}
			dbias[k] = float32(acc)
		}
	}
}

// Backward runs both backward passes: dx = ∂L/∂x (skipped if dx is nil)
// and dw = ∂L/∂w with dbias = ∂L/∂bias (skipped if dw is nil; dbias may be
// nil). Package kernel converts dy to oneDNN's layout only once here.
func (c *Conv) Backward(x, dy, w, dx, dw, dbias []float32) {
	if dw == nil && dbias != nil {
		panic("ref: Conv.Backward: dbias without dw")
	}
	if dx != nil {
		c.BackwardData(dy, w, dx)
	}
	if dw != nil {
		c.BackwardWeights(x, dy, dw, dbias)
	}
}

// String describes the convolution.
func (c *Conv) String() string {
	p := c.p
	return fmt.Sprintf("conv N%d C%d %dx%d -> K%d %dx%d (k%dx%d s%d,%d p%d,%d g%d, %v)",
		p.N, p.C, p.H, p.W, p.K, p.OutH(), p.OutW(), p.R, p.S, p.StrideH, p.StrideW, p.PadH, p.PadW, p.Groups, c.o.Layout)
}
