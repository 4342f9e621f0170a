// Package convdt times oneDNN's convolution passes in f32 and in bf16 (bf16
// inputs — activations, weights, output gradients — with f32 outputs, bias
// and accumulation, i.e. f32 master weights, batch norm and activations),
// pass by pass, to decide whether bf16 mixed-precision training pays on a
// CPU with avx512_bf16 (BenchmarkConvDType; docs/BENCHMARKS.md "Training
// speed, session 14"). It is a measuring tool, not a kernel: the training
// kernels are package kernel's.
package convdt

/*
#cgo CFLAGS: -O2 -std=gnu11
#cgo LDFLAGS: -ldnnl -lgomp
#include "convdt.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
)

// Pass selects what Run executes.
type Pass int

// The passes; ReorderX and ReorderDY are the f32 → bf16 conversions of the
// input and of the output gradient a bf16 step adds per convolution (bf16
// convolutions only).
const (
	Forward Pass = iota
	BackwardData
	BackwardWeights
	ReorderX
	ReorderDY
)

// Shape is a square-kernel convolution: N images of C×H×W to K channels,
// an R×R kernel, stride and padding.
type Shape struct{ N, C, H, W, K, R, Stride, Pad int }

// FLOPs is 2 × the multiply-adds of one pass.
func (s Shape) FLOPs() float64 {
	oh := (s.H+2*s.Pad-s.R)/s.Stride + 1
	ow := (s.W+2*s.Pad-s.R)/s.Stride + 1
	return 2 * float64(s.N) * float64(s.K) * float64(oh*ow) * float64(s.C*s.R*s.R)
}

// Conv holds the three passes' primitives and random operands of one
// shape and precision.
type Conv struct {
	c    *C.cd_conv
	BF16 bool
}

// mu serialises the calls: oneDNN already uses every thread for one.
var mu sync.Mutex

// New creates the direct-algorithm primitives of s with bf16 inputs (or
// f32).
func New(s Shape, bf16 bool) (*Conv, error) {
	if s.N < 1 || s.C < 1 || s.H < 1 || s.W < 1 || s.K < 1 || s.R < 1 || s.Stride < 1 || s.Pad < 0 ||
		s.H+2*s.Pad < s.R || s.W+2*s.Pad < s.R {
		return nil, fmt.Errorf("convdt: invalid shape %+v", s)
	}
	p := [9]C.int64_t{C.int64_t(s.N), C.int64_t(s.C), C.int64_t(s.H), C.int64_t(s.W), C.int64_t(s.K),
		C.int64_t(s.R), C.int64_t(s.R), C.int64_t(s.Stride), C.int64_t(s.Pad)}
	mu.Lock()
	defer mu.Unlock()
	c := &Conv{BF16: bf16}
	if st := C.cd_create(&c.c, &p[0], cbool(bf16)); st != 0 {
		C.cd_destroy(c.c)
		return nil, fmt.Errorf("convdt: %+v bf16=%v: oneDNN status %d", s, bf16, int(st))
	}
	return c, nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Run executes pass once on threads OpenMP threads and returns the
// process CPU time and the wall time it took, in seconds.
func (c *Conv) Run(pass Pass, threads int) (cpu, wall float64, err error) {
	if pass < Forward || pass > ReorderDY || (pass >= ReorderX && !c.BF16) {
		return 0, 0, fmt.Errorf("convdt: pass %d not available", pass)
	}
	mu.Lock()
	defer mu.Unlock()
	runtime.LockOSThread() // the OpenMP thread count is per OS thread
	defer runtime.UnlockOSThread()
	var cc, cw C.double
	if st := C.cd_run(c.c, C.int(pass), C.int(threads), &cc, &cw); st != 0 {
		return 0, 0, fmt.Errorf("convdt: pass %d: oneDNN status %d", pass, int(st))
	}
	return float64(cc), float64(cw), nil
}

// Impl names the oneDNN implementation of a convolution pass.
func (c *Conv) Impl(pass Pass) string {
	if pass > BackwardWeights {
		return ""
	}
	mu.Lock()
	defer mu.Unlock()
	return C.GoString(C.cd_impl(c.c, C.int(pass)))
}

// Close frees the primitives and operands.
func (c *Conv) Close() {
	mu.Lock()
	defer mu.Unlock()
	C.cd_destroy(c.c)
	c.c = nil
}
