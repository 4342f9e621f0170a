//go:build goexperiment.simd && amd64

package reduce

import "simd/archsimd"

// With Go's SIMD experiment on an AVX-512 CPU the fast-path kernels run 16
// lanes at a time; a run's last partial group goes through the scalar
// kernels. The lanes compute exactly what the scalar kernels compute (no
// fused multiply-add), up to the sign of zero gradients.

// simdKernels reports whether the AVX-512 kernels run.
var simdKernels = archsimd.X86.AVX512()

// f16 returns s[i:i+16] as an array pointer.
func f16(s []float32, i int) *[16]float32 { return (*[16]float32)(s[i : i+16]) }

// polyForwardBinary is polyForwardScalar, 16 lanes at a time.
func polyForwardBinary(xs, ys, q []float32) {
	n := 0
	if simdKernels {
		n = len(xs) &^ 15
		ys, q = ys[:len(xs)], q[:quadLen(len(xs))]
		zero := archsimd.BroadcastFloat32x16(0)
		ones := archsimd.BroadcastUint32x16(^uint32(0))
		for i := 0; i < n; i += 16 {
			v := archsimd.LoadFloat32x16(f16(xs, i))
			c0 := archsimd.LoadFloat32x16(f16(q, 4*i))
			c1 := archsimd.LoadFloat32x16(f16(q, 4*i+16))
			c2 := archsimd.LoadFloat32x16(f16(q, 4*i+32))
			keep := archsimd.LoadFloat32x16(f16(q, 4*i+48)).AsUint32x16().Equal(ones)
			r := v.Masked(v.Greater(zero))
			p := c2.Mul(v).Add(c1).Mul(v).Add(c0)
			r.Merge(p, keep).Store(f16(ys, i))
		}
	}
	polyForwardScalar(xs[n:], ys[n:], q[4*n:])
}

// polyBackwardBinary is polyBackwardScalar, 16 lanes at a time for the
// search step (dx and both sums) and the finetune step (dx and the
// coefficient sums).
func polyBackwardBinary(xs, gs, dx, q, acc []float32, wantM, wantC bool) {
	n := 0
	if simdKernels && dx != nil && wantC {
		n = len(xs) &^ 15
		gs, dx, q, acc = gs[:len(xs)], dx[:len(xs)], q[:quadLen(len(xs))], acc[:quadLen(len(xs))]
		zero := archsimd.BroadcastFloat32x16(0)
		ones := archsimd.BroadcastUint32x16(^uint32(0))
		for i := 0; i < n; i += 16 {
			v := archsimd.LoadFloat32x16(f16(xs, i))
			g := archsimd.LoadFloat32x16(f16(gs, i))
			c1 := archsimd.LoadFloat32x16(f16(q, 4*i+16))
			c2 := archsimd.LoadFloat32x16(f16(q, 4*i+32))
			keep := archsimd.LoadFloat32x16(f16(q, 4*i+48)).AsUint32x16().Equal(ones)
			pos := v.Greater(zero)
			if wantM {
				c0 := archsimd.LoadFloat32x16(f16(q, 4*i))
				r := v.Masked(pos)
				p := c2.Mul(v).Add(c1).Mul(v).Add(c0)
				a0 := archsimd.LoadFloat32x16(f16(acc, 4*i))
				a0.Add(g.Mul(r.Sub(p))).Store(f16(acc, 4*i))
			}
			w := zero.Merge(g, keep)
			a1 := archsimd.LoadFloat32x16(f16(acc, 4*i+16))
			a1.Add(w).Store(f16(acc, 4*i+16))
			w = w.Mul(v)
			a2 := archsimd.LoadFloat32x16(f16(acc, 4*i+32))
			a2.Add(w).Store(f16(acc, 4*i+32))
			w = w.Mul(v)
			a3 := archsimd.LoadFloat32x16(f16(acc, 4*i+48))
			a3.Add(w).Store(f16(acc, 4*i+48))
			c2v := c2.Mul(v)
			dp := c2v.Add(c2v.Add(c1))
			g.Masked(pos).Merge(g.Mul(dp), keep).Store(f16(dx, i))
		}
	}
	var a []float32
	if wantM || wantC {
		a = acc[4*n:]
	}
	var d []float32
	if dx != nil {
		d = dx[n:]
	}
	polyBackwardScalar(xs[n:], gs[n:], d, q[4*n:], a, wantM, wantC)
}

// snlForwardRun is snlForwardScalar, 16 lanes at a time.
func snlForwardRun(xs, ys, al []float32) {
	n := 0
	if simdKernels {
		n = len(xs) &^ 15
		ys, al = ys[:len(xs)], al[:len(xs)]
		zero := archsimd.BroadcastFloat32x16(0)
		one := archsimd.BroadcastFloat32x16(1)
		for i := 0; i < n; i += 16 {
			v := archsimd.LoadFloat32x16(f16(xs, i))
			a := archsimd.LoadFloat32x16(f16(al, i))
			v.Merge(one.Sub(a).Mul(v), v.Greater(zero)).Store(f16(ys, i))
		}
	}
	snlForwardScalar(xs[n:], ys[n:], al[n:])
}

// snlBackwardRun is snlBackwardScalar, 16 lanes at a time.
func snlBackwardRun(xs, gs, dx, al, pa []float32) {
	n := 0
	if simdKernels {
		n = len(xs) &^ 15
		gs, al = gs[:len(xs)], al[:len(xs)]
		if pa != nil {
			pa = pa[:len(xs)]
		}
		if dx != nil {
			dx = dx[:len(xs)]
		}
		zero := archsimd.BroadcastFloat32x16(0)
		one := archsimd.BroadcastFloat32x16(1)
		for i := 0; i < n; i += 16 {
			v := archsimd.LoadFloat32x16(f16(xs, i))
			g := archsimd.LoadFloat32x16(f16(gs, i))
			pos := v.Greater(zero)
			if pa != nil {
				p := archsimd.LoadFloat32x16(f16(pa, i))
				p.Sub(g.Mul(zero.Merge(v, pos))).Store(f16(pa, i))
			}
			if dx != nil {
				a := archsimd.LoadFloat32x16(f16(al, i))
				g.Merge(g.Mul(one.Sub(a)), pos).Store(f16(dx, i))
			}
		}
	}
	var p, d []float32
	if pa != nil {
		p = pa[n:]
	}
	if dx != nil {
		d = dx[n:]
	}
	snlBackwardScalar(xs[n:], gs[n:], d, al[n:], p)
}

// absMax16 is absMax16Scalar, 16 lanes at a time.
func absMax16(acc *[16]uint32, blk []float32) {
	if !simdKernels {
		absMax16Scalar(acc, blk)
		return
	}
	abs := archsimd.BroadcastUint32x16(1<<31 - 1)
	m := archsimd.LoadUint32x16(acc)
	for p := 0; p+16 <= len(blk); p += 16 {
		m = m.Max(archsimd.LoadFloat32x16(f16(blk, p)).AsUint32x16().And(abs))
	}
	m.Store(acc)
}
