package mpc

import "math/bits"

// u192 is an element of Z_2^192 (two's complement when read as signed):
// the big ring in which the polynomial activation evaluates p(z) at scale
// 5f without wrap-around before truncating its shares locally.
type u192 [3]uint64

// big64 sign-extends a signed 64-bit value.
func big64(v uint64) u192 {
	s := uint64(int64(v) >> 63)
	return u192{v, s, s}
}

// bigU zero-extends an unsigned 64-bit value.
func bigU(v uint64) u192 { return u192{v, 0, 0} }

func (a u192) add(b u192) u192 {
	var r u192
	var c uint64
	r[0], c = bits.Add64(a[0], b[0], 0)
	r[1], c = bits.Add64(a[1], b[1], c)
	r[2], _ = bits.Add64(a[2], b[2], c)
	return r
}

func (a u192) sub(b u192) u192 {
	var r u192
	var c uint64
	r[0], c = bits.Sub64(a[0], b[0], 0)
	r[1], c = bits.Sub64(a[1], b[1], c)
	r[2], _ = bits.Sub64(a[2], b[2], c)
	return r
}

func (a u192) neg() u192 { return u192{}.sub(a) }

// mul returns a·b mod 2^192.
func (a u192) mul(b u192) u192 {
	h00, l00 := bits.Mul64(a[0], b[0])
	h01, l01 := bits.Mul64(a[0], b[1])
	h10, l10 := bits.Mul64(a[1], b[0])
	var r u192
	r[0] = l00
	var c uint64
	r[1], c = bits.Add64(h00, l01, 0)
	r[2] = h01 + c
	r[1], c = bits.Add64(r[1], l10, 0)
	r[2] += h10 + c
	r[2] += a[0]*b[2] + a[1]*b[1] + a[2]*b[0]
	return r
}

// mul64 returns a·v mod 2^192 for an unsigned 64-bit v.
func (a u192) mul64(v uint64) u192 {
	h0, l0 := bits.Mul64(a[0], v)
	h1, l1 := bits.Mul64(a[1], v)
	var r u192
	var c uint64
	r[0] = l0
	r[1], c = bits.Add64(h0, l1, 0)
	r[2] = h1 + c + a[2]*v
	return r
}

// shl returns a·2^d mod 2^192 (0 ≤ d < 192).
func (a u192) shl(d uint) u192 {
	for d >= 64 {
		a = u192{0, a[0], a[1]}
		d -= 64
	}
	if d == 0 {
		return a
	}
	return u192{a[0] << d, a[1]<<d | a[0]>>(64-d), a[2]<<d | a[1]>>(64-d)}
}

// sar is the arithmetic right shift by d (0 ≤ d < 192).
func (a u192) sar(d uint) u192 {
	s := uint64(int64(a[2]) >> 63)
	for d >= 64 {
		a = u192{a[1], a[2], s}
		d -= 64
	}
	if d == 0 {
		return a
	}
	return u192{a[0]>>d | a[1]<<(64-d), a[1]>>d | a[2]<<(64-d), uint64(int64(a[2]) >> d)}
}

// at3 returns element i of a vector of 3-word little-endian elements.
func at3(v []uint64, i int) u192 { return u192{v[3*i], v[3*i+1], v[3*i+2]} }

// put3 stores a at element i of a vector of 3-word elements.
func put3(v []uint64, i int, a u192) { v[3*i], v[3*i+1], v[3*i+2] = a[0], a[1], a[2] }

// at2 returns element i of a vector of 2-word elements (values that are
// only ever used multiplied by 2^64, so their shares live in Z_2^128).
func at2(v []uint64, i int) u192 { return u192{v[2*i], v[2*i+1], 0} }

// put2 stores the low 128 bits of a at element i of a vector of 2-word
// elements.
func put2(v []uint64, i int, a u192) { v[2*i], v[2*i+1] = a[0], a[1] }
