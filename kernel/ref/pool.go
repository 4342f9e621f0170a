package ref

import (
	"encoding/binary"
	"math"
)

// MaxPool is max pooling of fixed shape. Padding counts as −∞.
type MaxPool struct {
	p PoolParams
	l Layout
}

// NewMaxPool returns max pooling for p on NCHW tensors; it panics if p is
// invalid.
func NewMaxPool(p PoolParams) *MaxPool { return NewMaxPoolLayout(p, NCHW) }

// NewMaxPoolLayout returns max pooling for p with x, y, dx, dy in layout l.
func NewMaxPoolLayout(p PoolParams, l Layout) *MaxPool {
	if err := p.Validate(); err != nil {
		panic("ref.NewMaxPool: " + err.Error())
	}
	return &MaxPool{p: p.Norm(), l: l}
}

// Params returns the (normalised) parameters.
func (m *MaxPool) Params() PoolParams { return m.p }

// WorkspaceSize is the length in bytes of the workspace that Forward fills
// for Backward (the argmax positions).
func (m *MaxPool) WorkspaceSize() int { return 4 * m.p.YLen() }

// Forward computes y = maxpool(x). If ws is not nil (training) it must have
// WorkspaceSize bytes and receives what Backward needs; nil ws is inference.
func (m *MaxPool) Forward(x, y []float32, ws []byte) {
	p := m.p
	checkLen("MaxPool.Forward", "x", x, p.XLen())
	checkLen("MaxPool.Forward", "y", y, p.YLen())
	if ws != nil && len(ws) != m.WorkspaceSize() {
		panic("MaxPool.Forward: workspace has the wrong size")
	}
	yp, store := plainOut(m.l, p.N, p.C, p.OutH()*p.OutW(), y)
	m.forward(toPlain(m.l, p.N, p.C, p.H*p.W, x), yp, ws)
	store()
}

func (m *MaxPool) forward(x, y []float32, ws []byte) {
	p := m.p
	oh, ow := p.OutH(), p.OutW()
	for nc := 0; nc < p.N*p.C; nc++ {
		xc := x[nc*p.H*p.W:]
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				best, arg := float32(math.Inf(-1)), -1
				for r := 0; r < p.KH; r++ {
					h := i*p.StrideH - p.PadH + r
					if h < 0 || h >= p.H {
						continue
					}
					for s := 0; s < p.KW; s++ {
						v := j*p.StrideW - p.PadW + s
						if v < 0 || v >= p.W {
							continue
						}
						if e := xc[h*p.W+v]; arg < 0 || e > best {
							best, arg = e, h*p.W+v
						}
					}
				}
				o := (nc*oh+i)*ow + j
				y[o] = best
				if ws != nil {
					binary.LittleEndian.PutUint32(ws[4*o:], uint32(arg))
				}
			}
		}
	}
}

// Backward computes dx from dy and the workspace of a training Forward;
// each dy goes to the position of its window's maximum. dx is overwritten.
func (m *MaxPool) Backward(dy []float32, ws []byte, dx []float32) {
	p := m.p
	checkLen("MaxPool.Backward", "dx", dx, p.XLen())
	checkLen("MaxPool.Backward", "dy", dy, p.YLen())
	if len(ws) != m.WorkspaceSize() {
		panic("MaxPool.Backward: workspace has the wrong size")
	}
	dxp, store := plainOut(m.l, p.N, p.C, p.H*p.W, dx)
	m.backward(toPlain(m.l, p.N, p.C, p.OutH()*p.OutW(), dy), ws, dxp)
	store()
}

func (m *MaxPool) backward(dy []float32, ws []byte, dx []float32) {
	p := m.p
	clear(dx)
	hw, ohw := p.H*p.W, p.OutH()*p.OutW()
	for o, d := range dy {
		arg := int(binary.LittleEndian.Uint32(ws[4*o:]))
		if arg >= hw {
			panic("MaxPool.Backward: corrupt workspace")
		}
		dx[(o/ohw)*hw+arg] += d
	}
}

// AvgPool is average pooling of fixed shape that, like PyTorch's default
// (count_include_pad=True), divides by KH·KW, counting padding as zeros.
type AvgPool struct {
	p PoolParams
	l Layout
}

// NewAvgPool returns average pooling for p on NCHW tensors; it panics if p
// is invalid.
func NewAvgPool(p PoolParams) *AvgPool { return NewAvgPoolLayout(p, NCHW) }

// NewAvgPoolLayout returns average pooling for p with x, y, dx, dy in
// layout l.
func NewAvgPoolLayout(p PoolParams, l Layout) *AvgPool {
	if err := p.Validate(); err != nil {
		panic("ref.NewAvgPool: " + err.Error())
	}
	return &AvgPool{p: p.Norm(), l: l}
}

// Params returns the (normalised) parameters.
func (a *AvgPool) Params() PoolParams { return a.p }

// Forward computes y = avgpool(x).
func (a *AvgPool) Forward(x, y []float32) {
	p := a.p
	checkLen("AvgPool.Forward", "x", x, p.XLen())
	checkLen("AvgPool.Forward", "y", y, p.YLen())
	yp, store := plainOut(a.l, p.N, p.C, p.OutH()*p.OutW(), y)
	a.forward(toPlain(a.l, p.N, p.C, p.H*p.W, x), yp)
	store()
}

func (a *AvgPool) forward(x, y []float32) {
	p := a.p
	oh, ow := p.OutH(), p.OutW()
	div := float64(p.KH * p.KW)
	for nc := 0; nc < p.N*p.C; nc++ {
		xc := x[nc*p.H*p.W:]
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				var s float64
				for r := 0; r < p.KH; r++ {
					h := i*p.StrideH - p.PadH + r
					if h < 0 || h >= p.H {
						continue
					}
					for t := 0; t < p.KW; t++ {
						v := j*p.StrideW - p.PadW + t
						if v >= 0 && v < p.W {
							s += float64(xc[h*p.W+v])
						}
					}
				}
				y[(nc*oh+i)*ow+j] = float32(s / div)
			}
		}
	}
}

// Backward computes dx from dy; dx is overwritten.
func (a *AvgPool) Backward(dy, dx []float32) {
	p := a.p
	checkLen("AvgPool.Backward", "dx", dx, p.XLen())
	checkLen("AvgPool.Backward", "dy", dy, p.YLen())
	dxp, store := plainOut(a.l, p.N, p.C, p.H*p.W, dx)
	a.backward(toPlain(a.l, p.N, p.C, p.OutH()*p.OutW(), dy), dxp)
	store()
}

func (a *AvgPool) backward(dy, dx []float32) {
	p := a.p
	clear(dx)
	oh, ow := p.OutH(), p.OutW()
	div := float32(p.KH * p.KW)
	for nc := 0; nc < p.N*p.C; nc++ {
		dxc := dx[nc*p.H*p.W:]
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				d := dy[(nc*oh+i)*ow+j] / div
				for r := 0; r < p.KH; r++ {
					h := i*p.StrideH - p.PadH + r
					if h < 0 || h >= p.H {
						continue
					}
					for t := 0; t < p.KW; t++ {
						v := j*p.StrideW - p.PadW + t
						if v >= 0 && v < p.W {
							dxc[h*p.W+v] += d
						}
					}
				}
			}
		}
	}
}

// GlobalAvgPoolForward averages x [N,C,HW] over HW into y [N,C].
func GlobalAvgPoolForward(n, c, hw int, x, y []float32) {
	checkLen("GlobalAvgPoolForward", "x", x, n*c*hw)
	checkLen("GlobalAvgPoolForward", "y", y, n*c)
	for i := range y {
		var s float64
		for _, v := range x[i*hw : (i+1)*hw] {
			s += float64(v)
		}
		y[i] = float32(s / float64(hw))
	}
}

// GlobalAvgPoolBackward spreads dy [N,C] evenly over dx [N,C,HW]
// (overwritten).
func GlobalAvgPoolBackward(n, c, hw int, dy, dx []float32) {
	checkLen("GlobalAvgPoolBackward", "dx", dx, n*c*hw)
	checkLen("GlobalAvgPoolBackward", "dy", dy, n*c)
	for i, d := range dy {
		d /= float32(hw)
		for j := range dx[i*hw : (i+1)*hw] {
			dx[i*hw+j] = d
		}
	}
}

// GlobalAvgPool averages x [N,C,HW] in a given layout over HW into y [N,C]
// (y is the same in both layouts).
type GlobalAvgPool struct {
	n, c, hw int
	l        Layout
}

// NewGlobalAvgPool returns global average pooling of x [N,C,HW] in layout
// l; it panics if a size is not positive.
func NewGlobalAvgPool(n, c, hw int, l Layout) *GlobalAvgPool {
	if n <= 0 || c <= 0 || hw <= 0 {
		panic("ref.NewGlobalAvgPool: sizes must be positive")
	}
	return &GlobalAvgPool{n: n, c: c, hw: hw, l: l}
}

// Forward computes y [N,C] from x.
func (g *GlobalAvgPool) Forward(x, y []float32) {
	checkLen("GlobalAvgPool.Forward", "x", x, g.n*g.c*g.hw)
	GlobalAvgPoolForward(g.n, g.c, g.hw, toPlain(g.l, g.n, g.c, g.hw, x), y)
}

// Backward computes dx (overwritten) from dy [N,C].
func (g *GlobalAvgPool) Backward(dy, dx []float32) {
	checkLen("GlobalAvgPool.Backward", "dx", dx, g.n*g.c*g.hw)
	dxp, store := plainOut(g.l, g.n, g.c, g.hw, dx)
	GlobalAvgPoolBackward(g.n, g.c, g.hw, dy, dxp)
	store()
}
