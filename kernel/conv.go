package kernel

/*
#include "ak.h"
*/
import "C"

import (
	"fmt"
	"runtime"

	"github.com/autorep/autorep/kernel/ref"
)

// ConvOpts are the options of NewConvOpts.
type ConvOpts = ref.ConvOpts

// Conv is a 2-D convolution of fixed shape holding its oneDNN primitives
// (backward ones created on first use). Create it once per shape.
type Conv struct {
	p    ConvParams
	o    ConvOpts
	c    *C.ak_conv
	impl [3]string
}

// NewConv returns a convolution for p on NCHW tensors; it panics if p is
// invalid (see ConvParams.Validate).
func NewConv(p ConvParams) *Conv { return NewConvOpts(p, ConvOpts{}) }

// NewConvOpts returns a convolution for p with options: the layout of x, y,
// dx and dy, and the oneDNN post-ops of the forward pass: Sum (accumulate
// into y) and ReLU (inference only: Backward* panic on such a Conv).
func NewConvOpts(p ConvParams, o ConvOpts) *Conv {
	if err := p.Validate(); err != nil {
		panic("kernel.NewConv: " + err.Error())
	}
	p = p.Norm()
	c := &Conv{p: p, o: o}
	q := [12]C.int64_t{C.int64_t(p.N), C.int64_t(p.C), C.int64_t(p.H), C.int64_t(p.W), C.int64_t(p.K),
		C.int64_t(p.R), C.int64_t(p.S), C.int64_t(p.StrideH), C.int64_t(p.StrideW),
		C.int64_t(p.PadH), C.int64_t(p.PadW), C.int64_t(p.Groups)}
	relu, sum := C.int(0), C.int(0)
	if o.ReLU {
		relu = 1
	}
	if o.Sum {
		sum = 1
	}
	mu.Lock()
	defer mu.Unlock()
	s := C.ak_conv_create(&c.c, &q[0], layoutC(o.Layout), relu, sum, C.int(o.Algo))
	if s != 0 {
		C.ak_conv_destroy(c.c)
		check("NewConv "+c.String(), s)
	}
	runtime.AddCleanup(c, func(cc *C.ak_conv) {
		mu.Lock()
		defer mu.Unlock()
		C.ak_conv_destroy(cc)
	}, c.c)
	return c
}

// Params returns the (normalised) parameters of c.
func (c *Conv) Params() ConvParams { return c.p }

// Opts returns the options of c.
func (c *Conv) Opts() ConvOpts { return c.o }

// Forward computes y = conv(x, w) + bias (y += … with Opts().Sum, then
// max(·, 0) with Opts().ReLU). x is [N,C,H,W] in c's layout, w [K,C/G,R,S]
// plain, bias [K] or nil, y [N,K,OutH,OutW] in c's layout.
func (c *Conv) Forward(x, w, bias, y []float32) {
	p := c.p
	checkLen("Conv.Forward", "x", x, p.XLen())
	checkLen("Conv.Forward", "w", w, p.WLen())
	checkLen("Conv.Forward", "y", y, p.YLen())
	if bias != nil {
		checkLen("Conv.Forward", "bias", bias, p.K)
	}
	mu.Lock()
	defer mu.Unlock()
	check("Conv.Forward", C.ak_conv_forward(c.c, ptr(x), ptr(w), ptr(bias), ptr(y)))
	runtime.KeepAlive(c)
}

// BackwardData computes dx = ∂L/∂x from dy = ∂L/∂y and w; dx is overwritten.
func (c *Conv) BackwardData(dy, w, dx []float32) {
	p := c.p
	c.noReLU("Conv.BackwardData")
	checkLen("Conv.BackwardData", "dy", dy, p.YLen())
	checkLen("Conv.BackwardData", "w", w, p.WLen())
	checkLen("Conv.BackwardData", "dx", dx, p.XLen())
	mu.Lock()
	defer mu.Unlock()
	check("Conv.BackwardData", C.ak_conv_backward_data(c.c, ptr(dy), ptr(w), ptr(dx)))
	runtime.KeepAlive(c)
}

// BackwardWeights computes dw = ∂L/∂w and, if dbias is not nil,
// dbias = ∂L/∂bias from x and dy; outputs are overwritten.
func (c *Conv) BackwardWeights(x, dy, dw, dbias []float32) {
	p := c.p
	c.noReLU("Conv.BackwardWeights")
	checkLen("Conv.BackwardWeights", "x", x, p.XLen())
	checkLen("Conv.BackwardWeights", "dy", dy, p.YLen())
	checkLen("Conv.BackwardWeights", "dw", dw, p.WLen())
	if dbias != nil {
		checkLen("Conv.BackwardWeights", "dbias", dbias, p.K)
	}
	mu.Lock()
	defer mu.Unlock()
	check("Conv.BackwardWeights", C.ak_conv_backward_weights(c.c, ptr(x), ptr(dy), ptr(dw), ptr(dbias)))
	runtime.KeepAlive(c)
}

// Backward runs both backward passes: dx = ∂L/∂x (skipped if dx is nil)
// and dw = ∂L/∂w with dbias = ∂L/∂bias (skipped if dw is nil; dbias may be
// nil). It is BackwardData followed by BackwardWeights, but converts dy
// to oneDNN's layout only once.
func (c *Conv) Backward(x, dy, w, dx, dw, dbias []float32) {
	p := c.p
	c.noReLU("Conv.Backward")
	checkLen("Conv.Backward", "dy", dy, p.YLen())
	if dx != nil {
		checkLen("Conv.Backward", "w", w, p.WLen())
		checkLen("Conv.Backward", "dx", dx, p.XLen())
	}
	if dw != nil {
		checkLen("Conv.Backward", "x", x, p.XLen())
		checkLen("Conv.Backward", "dw", dw, p.WLen())
		if dbias != nil {
			checkLen("Conv.Backward", "dbias", dbias, p.K)
		}
	} else if dbias != nil {
		panic("kernel: Conv.Backward: dbias without dw")
	}
	if dx == nil && dw == nil {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	check("Conv.Backward", C.ak_conv_backward(c.c, ptr(x), ptr(dy), ptr(w), ptr(dx), ptr(dw), ptr(dbias)))
	runtime.KeepAlive(c)
}

func (c *Conv) noReLU(op string) {
	if c.o.ReLU {
		panic("kernel: " + op + " on a Conv with a fused ReLU (inference only)")
	}
}

// Impl names the oneDNN implementations chosen for the forward,
// backward-data and backward-weights passes ("" for a pass not yet run).
func (c *Conv) Impl() [3]string {
	mu.Lock()
	defer mu.Unlock()
	var s [3]string
	for i := range s {
		s[i] = C.GoString(C.ak_conv_impl(c.c, C.int(i)))
	}
	runtime.KeepAlive(c)
	return s
}

// String describes the convolution.
func (c *Conv) String() string {
	p := c.p
	return fmt.Sprintf("conv N%d C%d %dx%d -> K%d %dx%d (k%dx%d s%d,%d p%d,%d g%d, %v)",
		p.N, p.C, p.H, p.W, p.K, p.OutH(), p.OutW(), p.R, p.S, p.StrideH, p.StrideW, p.PadH, p.PadW, p.Groups, c.o.Layout)
}
