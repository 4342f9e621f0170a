//go:build goexperiment.simd && amd64

package ring

import "simd/archsimd"

// simdAvailable reports whether the CPU supports the AVX-512 subset the
// SIMD kernel needs (VPMULLQ is AVX-512DQ); otherwise the scalar kernel runs.
var simdAvailable = archsimd.X86.AVX512()

func init() {
	if simdAvailable {
		kernelName = "avx512"
	}
}

var (
	simdKernel        microKernel   = avx512Kernel
	simdConvKernel    convKernel    = avx512ConvKernel
	simdConvRowKernel convRowKernel = avx512ConvRowKernel
)

// avx512Kernel is the mr×nr (3×16) micro-kernel: 6 accumulators of 8
// lanes; per depth step two 8-lane loads of B, three broadcasts of A and six
// VPMULLQ + VPADDQ. (4×16 needs more than the 16 vector registers the Go
// register allocator uses and spills; 3×16 measured fastest of 3×16, 3×24,
// 4×8, 6×8, 8×8, 2×32 and 4×16.)
func avx512Kernel(kb int, pa, pb, c []uint64, ldc int, add bool) {
	var c00, c01, c10, c11, c20, c21 archsimd.Uint64x8
	pa = pa[:kb*mr]
	pb = pb[:kb*nr]
	for len(pa) >= mr && len(pb) >= nr {
		b0 := archsimd.LoadUint64x8((*[8]uint64)(pb[0:8]))
		b1 := archsimd.LoadUint64x8((*[8]uint64)(pb[8:16]))
		a0 := archsimd.BroadcastUint64x8(pa[0])
		c00 = c00.Add(a0.Mul(b0))
		c01 = c01.Add(a0.Mul(b1))
		a1 := archsimd.BroadcastUint64x8(pa[1])
		c10 = c10.Add(a1.Mul(b0))
		c11 = c11.Add(a1.Mul(b1))
		a2 := archsimd.BroadcastUint64x8(pa[2])
		c20 = c20.Add(a2.Mul(b0))
		c21 = c21.Add(a2.Mul(b1))
		pa = pa[mr:]
		pb = pb[nr:]
	}
	storeRow(c[0*ldc:], c00, c01, add)
	storeRow(c[1*ldc:], c10, c11, add)
	storeRow(c[2*ldc:], c20, c21, add)
}

// storeRow stores (add: adds) two vectors to dst[0:16].
func storeRow(dst []uint64, v0, v1 archsimd.Uint64x8, add bool) {
	d := (*[nr]uint64)(dst)
	d0 := (*[8]uint64)(d[0:8])
	d1 := (*[8]uint64)(d[8:16])
	if add {
		v0 = v0.Add(archsimd.LoadUint64x8(d0))
		v1 = v1.Add(archsimd.LoadUint64x8(d1))
	}
	v0.Store(d0)
	v1.Store(d1)
}

// avx512ConvKernel is avx512Kernel with B rows loaded from x at the given
// offsets (direct convolution).
func avx512ConvKernel(pa, x []uint64, offs []int, c []uint64, ldc int, add bool) {
	var c00, c01, c10, c11, c20, c21 archsimd.Uint64x8
	pa = pa[:len(offs)*mr]
	for _, o := range offs {
		b := x[o : o+nr : o+nr]
		b0 := archsimd.LoadUint64x8((*[8]uint64)(b[0:8]))
		b1 := archsimd.LoadUint64x8((*[8]uint64)(b[8:16]))
		a0 := archsimd.BroadcastUint64x8(pa[0])
		c00 = c00.Add(a0.Mul(b0))
		c01 = c01.Add(a0.Mul(b1))
		a1 := archsimd.BroadcastUint64x8(pa[1])
		c10 = c10.Add(a1.Mul(b0))
		c11 = c11.Add(a1.Mul(b1))
		a2 := archsimd.BroadcastUint64x8(pa[2])
		c20 = c20.Add(a2.Mul(b0))
		c21 = c21.Add(a2.Mul(b1))
		pa = pa[mr:]
	}
	storeRow(c[0*ldc:], c00, c01, add)
	storeRow(c[1*ldc:], c10, c11, add)
	storeRow(c[2*ldc:], c20, c21, add)
}

// avx512ConvRowKernel is the one-row direct-convolution kernel.
func avx512ConvRowKernel(pa, x []uint64, offs []int, c []uint64, add bool) {
	var c0, c1 archsimd.Uint64x8
	pa = pa[:(len(offs)-1)*mr+1]
	for p, o := range offs {
		b := x[o : o+nr : o+nr]
		a := archsimd.BroadcastUint64x8(pa[p*mr])
		c0 = c0.Add(a.Mul(archsimd.LoadUint64x8((*[8]uint64)(b[0:8]))))
		c1 = c1.Add(a.Mul(archsimd.LoadUint64x8((*[8]uint64)(b[8:16]))))
	}
	storeRow(c, c0, c1, add)
}
