package mpc

import "math/bits"

// u128 is an element of Z_2^128 (two's complement when read as signed),
// used by the polynomial protocol to evaluate p(x) without wrap-around and
// truncate its shares locally.
type u128 struct{ lo, hi uint64 }

// from64 sign-extends a signed 64-bit value.
func from64(v uint64) u128 { return u128{v, uint64(int64(v) >> 63)} }

func (a u128) add(b u128) u128 {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	return u128{lo, a.hi + b.hi + c}
}

func (a u128) sub(b u128) u128 {
	lo, c := bits.Sub64(a.lo, b.lo, 0)
	return u128{lo, a.hi - b.hi - c}
}

func (a u128) neg() u128 { return u128{}.sub(a) }

func (a u128) mul(b u128) u128 {
	hi, lo := bits.Mul64(a.lo, b.lo)
	return u128{lo, hi + a.lo*b.hi + a.hi*b.lo}
}

// sar is the arithmetic right shift by d (0 < d < 64).
func (a u128) sar(d uint) u128 {
	return u128{a.lo>>d | a.hi<<(64-d), uint64(int64(a.hi) >> d)}
}

// at returns element i of a vector of interleaved (lo, hi) words.
func at(v []uint64, i int) u128 { return u128{v[2*i], v[2*i+1]} }

// put stores a at element i of a vector of interleaved (lo, hi) words.
func put(v []uint64, i int, a u128) { v[2*i], v[2*i+1] = a.lo, a.hi }
