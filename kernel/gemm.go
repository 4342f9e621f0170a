package kernel

/*
#include "ak.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C on row-major matrices with
// OpenBLAS's cblas_sgemm: op(A) is m×k (A is k×m if transA), op(B) is k×n
// (B is n×k if transB), C is m×n; lda, ldb, ldc are row strides. When beta
// is 0, C is not read (NaNs in it do not propagate).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				if beta == 0 {
					row[j] = 0
				} else {
					row[j] *= beta
				}
			}
		}
		return
	}
	ta, tb := C.int(0), C.int(0)
	if transA {
		ta = 1
	}
	if transB {
		tb = 1
	}
	mu.Lock()
	defer mu.Unlock()
	C.ak_sgemm(ta, tb, C.int(m), C.int(n), C.int(k), C.float(alpha), (*C.float)(unsafe.Pointer(&a[0])), C.int(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.int(ldb), C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.int(ldc))
}

// checkGemm panics if the sizes or leading dimensions do not fit the
// slices: a programming error (OpenBLAS would read out of bounds).
func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernel: Sgemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	const maxInt32 = 1<<31 - 1
	if m > maxInt32 || n > maxInt32 || k > maxInt32 || lda > maxInt32 || ldb > maxInt32 || ldc > maxInt32 {
		panic("kernel: Sgemm: size exceeds the 32-bit BLAS interface")
	}
	need := func(name string, s []float32, rows, cols, ld int) {
		if ld < max(cols, 1) {
			panic(fmt.Sprintf("kernel: Sgemm: leading dimension of %s is %d < %d", name, ld, max(cols, 1)))
		}
		if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
			panic(fmt.Sprintf("kernel: Sgemm: %s has %d elements, want at least %d", name, len(s), (rows-1)*ld+cols))
		}
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	need("A", a, ar, ac, lda)
	need("B", b, br, bc, ldb)
	need("C", c, m, n, ldc)
}
