//go:build goexperiment.simd && amd64

package ot

import (
	"simd/archsimd"
	"unsafe"
)

func init() {
	if archsimd.X86.AVX512() {
		transpose64Fast = transpose64AVX512
	}
}

// xorLanes[s] permutes the eight lanes of a vector to lane r ⊕ 2^s.
var xorLanes = func() (p [3]archsimd.Uint64x8) {
	for s := range p {
		var idx [8]uint64
		for r := range idx {
			idx[r] = uint64(r ^ 1<<s)
		}
		p[s] = archsimd.LoadUint64x8(&idx)
	}
	return p
}()

// laneMasks[s] is {lo, hi}: the step's bit mask in the lanes whose bit s
// is clear (lo) or set (hi), zero elsewhere.
var laneMasks = func() (m [3][2]archsimd.Uint64x8) {
	for s := range m {
		var lo, hi [8]uint64
		for r := range 8 {
			if r>>s&1 == 0 {
				lo[r] = transposeMasks[5-s]
			} else {
				hi[r] = transposeMasks[5-s]
			}
		}
		m[s] = [2]archsimd.Uint64x8{archsimd.LoadUint64x8(&lo), archsimd.LoadUint64x8(&hi)}
	}
	return m
}()

// transpose64AVX512 is transpose64 on eight rows per 512-bit register:
// the swaps between rows 32, 16 and 8 apart pair whole registers; those 4,
// 2 and 1 apart pair lanes of one register, whose partner lanes a
// permutation brings alongside (each lane then keeps its own half of the
// swap: the low row takes t << j, the high row t).
func transpose64AVX512(a *[64]uint64) {
	var v [8]archsimd.Uint64x8
	for i := range v {
		v[i] = archsimd.LoadUint64x8((*[8]uint64)(unsafe.Pointer(&a[8*i])))
	}
	for s, j := range [3]int{32, 16, 8} {
		m := archsimd.BroadcastUint64x8(transposeMasks[s])
		d := j / 8 // registers apart
		for i := range v {
			if i&d != 0 {
				continue
			}
			t := v[i].ShiftAllRight(uint64(j)).Xor(v[i+d]).And(m)
			v[i+d] = v[i+d].Xor(t)
			v[i] = v[i].Xor(t.ShiftAllLeft(uint64(j)))
		}
	}
	for s := 2; s >= 0; s-- {
		j := uint64(1) << s
		perm, lo, hi := xorLanes[s], laneMasks[s][0], laneMasks[s][1]
		for i := range v {
			x := v[i]
			p := x.Permute(perm)
			tlo := x.ShiftAllRight(j).Xor(p).And(lo)
			thi := p.ShiftAllRight(j).Xor(x).And(hi)
			v[i] = x.Xor(tlo.ShiftAllLeft(j)).Xor(thi)
		}
	}
	for i := range v {
		v[i].Store((*[8]uint64)(unsafe.Pointer(&a[8*i])))
	}
}
