package ref

import "fmt"

// Conv is a 2-D convolution of fixed shape. In package ref it holds only the
// parameters; package kernel caches its oneDNN primitives in it.
type Conv struct {
	p ConvParams
}

// NewConv returns a convolution for p. It panics if p is invalid (see
// ConvParams.Validate): shapes come from the program, not from data.
func NewConv(p ConvParams) *Conv {
	if err := p.Validate(); err != nil {
		panic("ref.NewConv: " + err.Error())
	}
	return &Conv{p: p.Norm()}
}

// Params returns the (normalised) parameters of c.
func (c *Conv) Params() ConvParams { return c.p }

func (c *Conv) check(op string, x, w, y []float32) {
	p := c.p
	checkLen(op, "x", x, p.XLen())
	checkLen(op, "w", w, p.WLen())
	checkLen(op, "y", y, p.YLen())
}

// Forward computes y = conv(x, w) + bias. x is [N,C,H,W], w [K,C/G,R,S],
// bias [K] or nil, y [N,K,OutH,OutW] (overwritten).
func (c *Conv) Forward(x, w, bias, y []float32) {
	c.check("Conv.Forward", x, w, y)
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

// BackwardData computes dx = ∂L/∂x from dy = ∂L/∂y and the weights w.
// dx is overwritten.
func (c *Conv) BackwardData(dy, w, dx []float32) {
	c.check("Conv.BackwardData", dx, w, dy)
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

// BackwardWeights computes dw = ∂L/∂w and, if dbias is not nil,
// dbias = ∂L/∂bias from the input x and dy. Outputs are overwritten.
func (c *Conv) BackwardWeights(x, dy, dw, dbias []float32) {
	c.check("Conv.BackwardWeights", x, dw, dy)
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

// String describes the convolution.
func (c *Conv) String() string {
	p := c.p
	return fmt.Sprintf("conv N%d C%d %dx%d -> K%d %dx%d (k%dx%d s%d,%d p%d,%d g%d)",
		p.N, p.C, p.H, p.W, p.K, p.OutH(), p.OutW(), p.R, p.S, p.StrideH, p.StrideW, p.PadH, p.PadW, p.Groups)
}
