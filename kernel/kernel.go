// Package kernel holds the fast float32 kernels of autorep: convolution
// and pooling through oneDNN 2.x (cgo, libdnnl), batch normalisation in
// OpenMP C (bn.c: faster than oneDNN's on NCHW, as fast on nChw16c, and
// without its spinning barriers) and GEMM through OpenBLAS (cgo,
// libopenblas). Package kernel/ref has the same
// exported API in plain Go and is the reference the tests compare against.
//
// Tensors are float32 slices in NCHW order, or, for the Blocked layout,
// oneDNN's nChw16c order (see Layout). Objects (Conv, MaxPool, AvgPool,
// GlobalAvgPool) create their oneDNN primitives once per shape; reuse them.
//
// Calls are serialised by one package mutex: each call is itself parallel
// over SetThreads threads (OpenMP in oneDNN and bn.c, pthreads in OpenBLAS).
// Slices of the wrong length and invalid shapes are programming errors and
// panic with a message naming the argument; so does a oneDNN failure.
package kernel

/*
#cgo CFLAGS: -O3 -std=gnu11 -fopenmp -Wno-psabi
#cgo LDFLAGS: -ldnnl -lopenblas -lgomp -lm
#include "ak.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/autorep/autorep/kernel/ref"
)

// ConvParams describes a 2-D convolution; see ref.ConvParams.
type ConvParams = ref.ConvParams

// PoolParams describes 2-D pooling; see ref.PoolParams.
type PoolParams = ref.PoolParams

// Layout is the memory order of an activation tensor [N,C,H,W]; see
// ref.Layout. NCHW is plain row-major; Blocked is oneDNN's nChw16c when C is
// a multiple of 16 (channels in blocks of 16 innermost) and NCHW otherwise.
type Layout = ref.Layout

// The layouts.
const (
	NCHW    = ref.NCHW
	Blocked = ref.Blocked
)

// Algo is a convolution algorithm; see ref.Algo.
type Algo = ref.Algo

// The convolution algorithms (ConvOpts.Algo).
const (
	AlgoAuto     = ref.AlgoAuto
	AlgoDirect   = ref.AlgoDirect
	AlgoWinograd = ref.AlgoWinograd
)

// mu serialises all calls into C: the arena of intermediate buffers in ak.c
// is shared, and oneDNN already uses every thread for one call.
var mu sync.Mutex

var threads = runtime.NumCPU()

func init() {
	if s := C.ak_init(); s != 0 {
		panic("kernel: oneDNN initialisation failed: " + C.GoString(C.ak_status_str(s)))
	}
	C.ak_set_threads(C.int(threads))
}

// SetThreads sets the number of threads oneDNN (OpenMP) and OpenBLAS use;
// n < 1 means runtime.NumCPU().
func SetThreads(n int) {
	if n < 1 {
		n = runtime.NumCPU()
	}
	mu.Lock()
	defer mu.Unlock()
	threads = n
	C.ak_set_threads(C.int(n))
}

// Threads returns the thread count set by SetThreads (default
// runtime.NumCPU()).
func Threads() int {
	mu.Lock()
	defer mu.Unlock()
	return threads
}

// check panics with the C status s, naming the operation.
func check(op string, s C.int) {
	if s != 0 {
		panic(fmt.Sprintf("kernel: %s: %s (status %d)", op, C.GoString(C.ak_status_str(s)), int(s)))
	}
}

func checkLen(op, name string, s []float32, want int) {
	if len(s) != want {
		panic(fmt.Sprintf("kernel: %s: %s has %d elements, want %d", op, name, len(s), want))
	}
}

// ptr returns the address of s's first element, or nil for an empty slice.
func ptr(s []float32) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(&s[0])
}

// fptr is ptr as a *C.float.
func fptr(s []float32) *C.float { return (*C.float)(ptr(s)) }

func bptr(s []byte) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(&s[0])
}

func layoutC(l Layout) C.int {
	if l == Blocked {
		return C.AK_BLOCKED
	}
	return C.AK_PLAIN
}
