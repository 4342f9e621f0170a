// Package rq holds what the homomorphic-encryption packages (helinear's
// coefficient encoding, hesimd's slot encoding) share about polynomials in
// R_q = Z_q[X]/(X^N+1) under an RNS basis of word-size primes: the
// bit-packed wire format of residues, the samplers of uniform, small and
// flooding polynomials from the project's PRG, and word arithmetic mod q.
// It sits below both (lattigo's ring is the layer under it).
package rq

import (
	"math/bits"

	lring "github.com/tuneinsight/lattigo/v6/ring"

	"github.com/autorep/autorep/ring"
)

// Eta is the centred-binomial parameter of the error distribution
// (SmallPoly with ternary false): errors in [−Eta, Eta], σ = √(Eta/2) ≈ 3.24.
const Eta = 21

// SegBytes is the packed size of n residues of width w bits.
func SegBytes(n int, w uint) int { return (n*int(w) + 7) / 8 }

// PackSeg appends the residues of w, width bits each (little-endian bit
// order), to dst, padded to a whole byte.
func PackSeg(dst []byte, w []uint64, width uint) []byte {
	var acc uint64 // pending bits, n of them
	var n uint
	for _, v := range w {
		acc |= v << n
		if n+width >= 64 {
			dst = append(dst, byte(acc), byte(acc>>8), byte(acc>>16), byte(acc>>24),
				byte(acc>>32), byte(acc>>40), byte(acc>>48), byte(acc>>56))
			if n == 0 {
				acc = 0
			} else {
				acc = v >> (64 - n)
			}
			n = n + width - 64
		} else {
			n += width
		}
	}
	for ; n > 0; n -= min(n, 8) {
		dst = append(dst, byte(acc))
		acc >>= 8
	}
	return dst
}

// UnpackSeg reads len(w) residues of width bits from src, which must hold
// SegBytes(len(w), width) bytes.
func UnpackSeg(src []byte, w []uint64, width uint) {
	mask := uint64(1)<<width - 1
	pos := 0 // bit position
	for i := range w {
		byteOff, sh := pos/8, uint(pos%8)
		var v uint64
		// width + sh ≤ 71 bits span at most 9 bytes.
		for k := 0; k < 9 && byteOff+k < len(src) && 8*k < int(width+sh); k++ {
			b := uint64(src[byteOff+k])
			if k == 0 {
				v = b >> sh
			} else {
				v |= b << (8*uint(k) - sh)
			}
		}
		w[i] = v & mask
		pos += int(width)
	}
}

// UniformPoly fills pl with uniform residues mod each q_i of qs
// (rejection sampling on the prime's bit length).
func UniformPoly(prg *ring.PRG, qs []uint64, pl lring.Poly) {
	for i, q := range qs {
		m := ^uint64(0) >> bits.LeadingZeros64(q)
		c := pl.Coeffs[i]
		for j := range c {
			for {
				v := prg.Uint64() & m
				if v < q {
					c[j] = v
					break
				}
			}
		}
	}
}

// SmallPoly fills pl (residues mod qs, coefficient domain) with a small
// signed polynomial: ternary (uniform in {−1, 0, 1}) or centred binomial
// with parameter Eta.
func SmallPoly(prg *ring.PRG, qs []uint64, pl lring.Poly, ternary bool) {
	v := make([]int64, len(pl.Coeffs[0]))
	for j := range v {
		if ternary {
			for {
				b := prg.Uint64() & 3
				if b != 3 {
					v[j] = int64(b) - 1
					break
				}
			}
		} else {
			w := prg.Uint64()
			const m = 1<<Eta - 1
			v[j] = int64(bits.OnesCount64(w&m)) - int64(bits.OnesCount64(w>>Eta&m))
		}
	}
	for i, q := range qs {
		c := pl.Coeffs[i]
		for j, x := range v { // |x| ≤ Eta < q: no division
			if x < 0 {
				c[j] = q - uint64(-x)
			} else {
				c[j] = uint64(x)
			}
		}
	}
}

// AddFlood adds to every coefficient of pl (residues mod qs, coefficient
// domain) a uniform integer in [−2^(fb−1), 2^(fb−1)), fb ≤ 192 bits.
func AddFlood(prg *ring.PRG, qs []uint64, pl lring.Poly, fb int) {
	words := (fb + 63) / 64
	top := uint(fb - 64*(words-1)) // bits used in the most significant word
	var w [3]uint64
	half, c64 := make([]uint64, len(qs)), make([]uint64, len(qs))
	bc := make([][2]uint64, len(qs))
	for i, q := range qs {
		half[i] = Pow2Mod(fb-1, q)
		c64[i] = Pow2Mod(64, q)
		bc[i] = lring.GenBRedConstant(q)
	}
	for j := range pl.Coeffs[0] {
		for x := range words {
			w[x] = prg.Uint64()
		}
		w[words-1] &= ^uint64(0) >> (64 - top)
		for i, q := range qs {
			// Horner over the words, most significant first, by Barrett
			// reductions (r·2^64 + w ≡ r·(2^64 mod q) + w).
			r := lring.BRedAdd(w[words-1], q, bc[i])
			for x := words - 2; x >= 0; x-- {
				r = AddMod(lring.BRed(r, c64[i], q, bc[i]), lring.BRedAdd(w[x], q, bc[i]), q)
			}
			c := &pl.Coeffs[i][j]
			*c = AddMod(*c, r, q)
			*c = AddMod(*c, q-half[i], q)
		}
	}
}

// Pow2Mod returns 2^e mod q.
func Pow2Mod(e int, q uint64) uint64 {
	r := uint64(1)
	for range e / 32 {
		r = MulMod(r, (1<<32)%q, q)
	}
	return MulMod(r, (1<<uint(e%32))%q, q)
}

// MulMod returns a·b mod q.
func MulMod(a, b, q uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return bits.Rem64(hi, lo, q)
}

// AddMod returns a + b mod q for a, b < q (any q < 2^64).
func AddMod(a, b, q uint64) uint64 {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 || s >= q {
		s -= q
	}
	return s
}

// ModInv returns a^−1 mod a prime q (a ≢ 0): a^(q−2) by Fermat.
func ModInv(a, q uint64) uint64 {
	r, b := uint64(1), a%q
	for e := q - 2; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = MulMod(r, b, q)
		}
		b = MulMod(b, b, q)
	}
	return r
}
