package kernel

/*
#include "ak.h"
*/
import "C"

import "runtime"

type reorderKey struct {
	n, c, hw  int
	toBlocked bool
}

// reorderCache holds the reorder primitives by shape; guarded by mu.
var reorderCache = map[reorderKey]*C.ak_reorder{}

// reorder converts between NCHW and nChw16c with a cached oneDNN reorder.
func reorder(op string, n, c, hw int, src, dst []float32, toBlocked bool) {
	checkLen(op, "src", src, n*c*hw)
	checkLen(op, "dst", dst, n*c*hw)
	if c%16 != 0 {
		copy(dst, src)
		return
	}
	k := reorderKey{n, c, hw, toBlocked}
	mu.Lock()
	defer mu.Unlock()
	r := reorderCache[k]
	if r == nil {
		tb := C.int(0)
		if toBlocked {
			tb = 1
		}
		if s := C.ak_reorder_create(&r, C.int64_t(n), C.int64_t(c), C.int64_t(hw), 1, tb); s != 0 {
			C.ak_reorder_destroy(r)
			check(op, s)
		}
		reorderCache[k] = r
	}
	check(op, C.ak_reorder_run(r, ptr(src), ptr(dst)))
	runtime.KeepAlive(src)
}

// ToLayout copies src [N,C,HW] in NCHW order to dst in layout l.
func ToLayout(l Layout, n, c, hw int, src, dst []float32) {
	if l != Blocked {
		checkLen("ToLayout", "src", src, n*c*hw)
		checkLen("ToLayout", "dst", dst, n*c*hw)
		copy(dst, src)
		return
	}
	reorder("ToLayout", n, c, hw, src, dst, true)
}

// FromLayout copies src [N,C,HW] in layout l to dst in NCHW order.
func FromLayout(l Layout, n, c, hw int, src, dst []float32) {
	if l != Blocked {
		checkLen("FromLayout", "src", src, n*c*hw)
		checkLen("FromLayout", "dst", dst, n*c*hw)
		copy(dst, src)
		return
	}
	reorder("FromLayout", n, c, hw, src, dst, false)
}
