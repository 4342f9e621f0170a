package kernel

/*
#include "ak.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
)

// pool is the oneDNN pooling shared by MaxPool, AvgPool and GlobalAvgPool.
type pool struct {
	p      PoolParams
	l      Layout
	c      *C.ak_pool
	wsSize int
}

func newPool(p PoolParams, alg C.int, l Layout) *pool {
	if err := p.Validate(); err != nil {
		panic("kernel: pooling: " + err.Error())
	}
	p = p.Norm()
	q := [10]C.int64_t{C.int64_t(p.N), C.int64_t(p.C), C.int64_t(p.H), C.int64_t(p.W), C.int64_t(p.KH),
		C.int64_t(p.KW), C.int64_t(p.StrideH), C.int64_t(p.StrideW), C.int64_t(p.PadH), C.int64_t(p.PadW)}
	pl := &pool{p: p, l: l}
	mu.Lock()
	defer mu.Unlock()
	if s := C.ak_pool_create(&pl.c, &q[0], alg, layoutC(l)); s != 0 {
		C.ak_pool_destroy(pl.c)
		check(fmt.Sprintf("pooling %+v", p), s)
	}
	pl.wsSize = int(C.ak_pool_workspace_size(pl.c))
	runtime.AddCleanup(pl, func(c *C.ak_pool) {
		mu.Lock()
		defer mu.Unlock()
		C.ak_pool_destroy(c)
	}, pl.c)
	return pl
}

func (pl *pool) forward(op string, x, y []float32, ws []byte) {
	checkLen(op, "x", x, pl.p.XLen())
	checkLen(op, "y", y, pl.p.YLen())
	mu.Lock()
	defer mu.Unlock()
	check(op, C.ak_pool_forward(pl.c, ptr(x), ptr(y), bptr(ws)))
	runtime.KeepAlive(pl)
}

func (pl *pool) backward(op string, dy []float32, ws []byte, dx []float32) {
	checkLen(op, "dy", dy, pl.p.YLen())
	checkLen(op, "dx", dx, pl.p.XLen())
	mu.Lock()
	defer mu.Unlock()
	check(op, C.ak_pool_backward(pl.c, ptr(dy), bptr(ws), ptr(dx)))
	runtime.KeepAlive(pl)
}

// MaxPool is max pooling of fixed shape (padding counts as −∞).
type MaxPool struct{ pl *pool }

// NewMaxPool returns max pooling for p on NCHW tensors; it panics if p is
// invalid.
func NewMaxPool(p PoolParams) *MaxPool { return NewMaxPoolLayout(p, NCHW) }

// NewMaxPoolLayout returns max pooling for p with x, y, dx, dy in layout l.
func NewMaxPoolLayout(p PoolParams, l Layout) *MaxPool { return &MaxPool{pl: newPool(p, 0, l)} }

// Params returns the (normalised) parameters.
func (m *MaxPool) Params() PoolParams { return m.pl.p }

// WorkspaceSize is the length in bytes of the workspace that a training
// Forward fills for Backward.
func (m *MaxPool) WorkspaceSize() int {
	if m.pl.wsSize == 0 {
		return 1
	}
	return m.pl.wsSize
}

// Forward computes y = maxpool(x). If ws is not nil (training) it must have
// WorkspaceSize bytes and receives what Backward needs; nil ws is inference.
func (m *MaxPool) Forward(x, y []float32, ws []byte) {
	if ws != nil && len(ws) != m.WorkspaceSize() {
		panic(fmt.Sprintf("kernel: MaxPool.Forward: workspace has %d bytes, want %d", len(ws), m.WorkspaceSize()))
	}
	m.pl.forward("MaxPool.Forward", x, y, ws)
}

// Backward computes dx (overwritten) from dy and the workspace of a
// training Forward; each dy goes to its window's maximum.
func (m *MaxPool) Backward(dy []float32, ws []byte, dx []float32) {
	if len(ws) != m.WorkspaceSize() {
		panic(fmt.Sprintf("kernel: MaxPool.Backward: workspace has %d bytes, want %d", len(ws), m.WorkspaceSize()))
	}
	m.pl.backward("MaxPool.Backward", dy, ws, dx)
}

// AvgPool is average pooling of fixed shape that, like PyTorch's default
// (count_include_pad=True), divides by KH·KW, counting padding as zeros.
type AvgPool struct{ pl *pool }

// NewAvgPool returns average pooling for p on NCHW tensors; it panics if p
// is invalid.
func NewAvgPool(p PoolParams) *AvgPool { return NewAvgPoolLayout(p, NCHW) }

// NewAvgPoolLayout returns average pooling for p with x, y, dx, dy in
// layout l.
func NewAvgPoolLayout(p PoolParams, l Layout) *AvgPool { return &AvgPool{pl: newPool(p, 1, l)} }

// Params returns the (normalised) parameters.
func (a *AvgPool) Params() PoolParams { return a.pl.p }

// Forward computes y = avgpool(x).
func (a *AvgPool) Forward(x, y []float32) { a.pl.forward("AvgPool.Forward", x, y, nil) }

// Backward computes dx (overwritten) from dy.
func (a *AvgPool) Backward(dy, dx []float32) { a.pl.backward("AvgPool.Backward", dy, nil, dx) }

// GlobalAvgPool averages x [N,C,HW] in a given layout over HW into y [N,C]
// (y is the same in both layouts).
type GlobalAvgPool struct{ pl *pool }

// NewGlobalAvgPool returns global average pooling of x [N,C,HW] in layout
// l; it panics if a size is not positive.
func NewGlobalAvgPool(n, c, hw int, l Layout) *GlobalAvgPool {
	if n <= 0 || c <= 0 || hw <= 0 {
		panic(fmt.Sprintf("kernel.NewGlobalAvgPool: sizes n=%d c=%d hw=%d must be positive", n, c, hw))
	}
	return &GlobalAvgPool{pl: newPool(PoolParams{N: n, C: c, H: hw, W: 1, KH: hw, KW: 1}, 2, l)}
}

// Forward computes y [N,C] from x.
func (g *GlobalAvgPool) Forward(x, y []float32) { g.pl.forward("GlobalAvgPool.Forward", x, y, nil) }

// Backward computes dx (overwritten) from dy [N,C].
func (g *GlobalAvgPool) Backward(dy, dx []float32) {
	g.pl.backward("GlobalAvgPool.Backward", dy, nil, dx)
}

type gapKey struct{ n, c, hw int }

var (
	gapCacheMu sync.Mutex
	gapCache   = map[gapKey]*GlobalAvgPool{}
)

func cachedGAP(n, c, hw int) *GlobalAvgPool {
	k := gapKey{n, c, hw}
	gapCacheMu.Lock()
	defer gapCacheMu.Unlock()
	g := gapCache[k]
	if g == nil {
		g = NewGlobalAvgPool(n, c, hw, NCHW)
		gapCache[k] = g
	}
	return g
}

// GlobalAvgPoolForward averages x [N,C,HW] (NCHW) over HW into y [N,C].
func GlobalAvgPoolForward(n, c, hw int, x, y []float32) { cachedGAP(n, c, hw).Forward(x, y) }

// GlobalAvgPoolBackward spreads dy [N,C] evenly over dx [N,C,HW]
// (overwritten).
func GlobalAvgPoolBackward(n, c, hw int, dy, dx []float32) { cachedGAP(n, c, hw).Backward(dy, dx) }
