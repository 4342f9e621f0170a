package nn

import (
	"math"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

// MaxPool2d is square max pooling (padding counts as −∞), like
// torch.nn.MaxPool2d. Stride 0 means Stride = Kernel.
type MaxPool2d struct{ Kernel, Stride, Pad int }

// Forward pools x [N,C,H,W].
func (p *MaxPool2d) Forward(x *autograd.Var) *autograd.Var {
	return MaxPoolOp(x, p.Kernel, orKernel(p.Stride, p.Kernel), p.Pad)
}

// AvgPool2d is square average pooling with zero padding counted in the
// divisor (PyTorch's default count_include_pad=True). Stride 0 means Kernel.
type AvgPool2d struct{ Kernel, Stride, Pad int }

// Forward pools x [N,C,H,W].
func (p *AvgPool2d) Forward(x *autograd.Var) *autograd.Var {
	return AvgPoolOp(x, p.Kernel, orKernel(p.Stride, p.Kernel), p.Pad)
}

// GlobalAvgPool averages each channel: [N,C,H,W] → [N,C,1,1], like
// torch.nn.AdaptiveAvgPool2d(1).
type GlobalAvgPool struct{}

// Forward pools x.
func (GlobalAvgPool) Forward(x *autograd.Var) *autograd.Var { return GlobalAvgPoolOp(x) }

func orKernel(stride, k int) int {
	if stride == 0 {
		return k
	}
	return stride
}

// poolShape validates a pooling configuration and returns the output size.
func poolShape(op string, x *autograd.Var, k, s, pad int) (n, c, h, w, oh, ow int) {
	n, c, h, w = need4D(op, x)
	if k <= 0 || s <= 0 || pad < 0 || 2*pad > k {
		shapePanic(op, "bad configuration kernel %d stride %d pad %d", k, s, pad)
	}
	if h+2*pad < k || w+2*pad < k {
		shapePanic(op, "input %dx%d smaller than kernel %d", h, w, k)
	}
	return n, c, h, w, (h+2*pad-k)/s + 1, (w+2*pad-k)/s + 1
}

// MaxPoolOp is max pooling with a k×k window, stride s and padding pad.
func MaxPoolOp(x *autograd.Var, k, s, pad int) *autograd.Var {
	n, c, h, w, oh, ow := poolShape("maxpool", x, k, s, pad)
	out := tensor.New(n, c, oh, ow)
	arg := make([]int32, len(out.Data)) // index within the input plane
	xd, od := x.Value.Data, out.Data
	planes := n * c
	parallelFor(planes, h*w, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			in := xd[pl*h*w : (pl+1)*h*w]
			o := od[pl*oh*ow : (pl+1)*oh*ow]
			a := arg[pl*oh*ow : (pl+1)*oh*ow]
			for oy := 0; oy < oh; oy++ {
				y0 := oy*s - pad
				for ox := 0; ox < ow; ox++ {
					x0 := ox*s - pad
					best, bi := float32(math.Inf(-1)), int32(-1)
					for dy := 0; dy < k; dy++ {
						yy := y0 + dy
						if yy < 0 || yy >= h {
							continue
						}
						for dx := 0; dx < k; dx++ {
							xx := x0 + dx
							if xx < 0 || xx >= w {
								continue
							}
							if v := in[yy*w+xx]; bi < 0 || v > best {
								best, bi = v, int32(yy*w+xx)
							}
						}
					}
					o[oy*ow+ox], a[oy*ow+ox] = best, bi
				}
			}
		}
	})
	return autograd.Result(out, func(g *tensor.Tensor) {
		dx := tensor.New(x.Value.Shape...)
		parallelFor(planes, h*w, func(lo, hi int) {
			for pl := lo; pl < hi; pl++ {
				d := dx.Data[pl*h*w : (pl+1)*h*w]
				gg := g.Data[pl*oh*ow : (pl+1)*oh*ow]
				for i, ai := range arg[pl*oh*ow : (pl+1)*oh*ow] {
					if ai >= 0 {
						d[ai] += gg[i]
					}
				}
			}
		})
		x.AccumGrad(dx)
	}, x)
}

// AvgPoolOp is average pooling with a k×k window, stride s and zero
// padding pad, dividing by k² everywhere.
func AvgPoolOp(x *autograd.Var, k, s, pad int) *autograd.Var {
	n, c, h, w, oh, ow := poolShape("avgpool", x, k, s, pad)
	out := tensor.New(n, c, oh, ow)
	xd, od := x.Value.Data, out.Data
	inv := 1 / float32(k*k)
	planes := n * c
	// window clips the window starting at p0 to [0, size).
	window := func(p0, size int) (int, int) { return max(p0, 0), min(p0+k, size) }
	parallelFor(planes, h*w, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			in := xd[pl*h*w : (pl+1)*h*w]
			o := od[pl*oh*ow : (pl+1)*oh*ow]
			for oy := 0; oy < oh; oy++ {
				ya, yb := window(oy*s-pad, h)
				for ox := 0; ox < ow; ox++ {
					xa, xb := window(ox*s-pad, w)
					var sum float32
					for yy := ya; yy < yb; yy++ {
						for _, v := range in[yy*w+xa : yy*w+xb] {
							sum += v
						}
					}
					o[oy*ow+ox] = sum * inv
				}
			}
		}
	})
	return autograd.Result(out, func(g *tensor.Tensor) {
		dx := tensor.New(x.Value.Shape...)
		parallelFor(planes, h*w, func(lo, hi int) {
			for pl := lo; pl < hi; pl++ {
				d := dx.Data[pl*h*w : (pl+1)*h*w]
				gg := g.Data[pl*oh*ow : (pl+1)*oh*ow]
				for oy := 0; oy < oh; oy++ {
					ya, yb := window(oy*s-pad, h)
					for ox := 0; ox < ow; ox++ {
						xa, xb := window(ox*s-pad, w)
						v := gg[oy*ow+ox] * inv
						for yy := ya; yy < yb; yy++ {
							row := d[yy*w+xa : yy*w+xb]
							for i := range row {
								row[i] += v
							}
						}
					}
				}
			}
		})
		x.AccumGrad(dx)
	}, x)
}

// GlobalAvgPoolOp averages each channel plane: [N,C,H,W] → [N,C,1,1].
func GlobalAvgPoolOp(x *autograd.Var) *autograd.Var {
	n, c, h, w := need4D("globalavgpool", x)
	hw := h * w
	out := tensor.New(n, c, 1, 1)
	inv := 1 / float32(hw)
	for pl := range out.Data {
		var s float32
		for _, v := range x.Value.Data[pl*hw : (pl+1)*hw] {
			s += v
		}
		out.Data[pl] = s * inv
	}
	return autograd.Result(out, func(g *tensor.Tensor) {
		dx := tensor.New(x.Value.Shape...)
		for pl, gv := range g.Data {
			v := gv * inv
			d := dx.Data[pl*hw : (pl+1)*hw]
			for i := range d {
				d[i] = v
			}
		}
		x.AccumGrad(dx)
	}, x)
}
