package hesimd

import (
	"fmt"
	"math/bits"

	lring "github.com/tuneinsight/lattigo/v6/ring"

	"github.com/autorep/autorep/ring"
)

// The wire and sampling helpers below are small copies of helinear's
// unexported ones (pack.go, params.go there), generalised to a ring degree
// chosen per parameter set; helinear is another engineer's package, so
// they are not shared yet (a common internal package would serve both).

// segBytes is the packed size of n residues of width w bits.
func segBytes(n int, w uint) int { return (n*int(w) + 7) / 8 }

// packSeg appends the residues of w, width bits each (little-endian bit
// order), to dst, padded to a whole byte.
func packSeg(dst []byte, w []uint64, width uint) []byte {
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

// unpackSeg reads len(w) residues of width bits from src, which must hold
// segBytes(len(w), width) bytes.
func unpackSeg(src []byte, w []uint64, width uint) {
	mask := uint64(1)<<width - 1
	pos := 0
	for i := range w {
		byteOff, sh := pos/8, uint(pos%8)
		var v uint64
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

// unpackPoly reads one polynomial over qs (widths bits per residue) from
// b into pl, checking every residue is reduced (hostile input must not
// reach lattigo's lazy arithmetic with values ≥ q); it returns the rest.
func unpackPoly(b []byte, qs []uint64, widths []uint, pl lring.Poly) ([]byte, error) {
	for i, q := range qs {
		sb := segBytes(len(pl.Coeffs[i]), widths[i])
		unpackSeg(b[:sb], pl.Coeffs[i], widths[i])
		for _, v := range pl.Coeffs[i] {
			if v >= q {
				return nil, fmt.Errorf("hesimd: ciphertext residue %d ≥ modulus %d", v, q)
			}
		}
		b = b[sb:]
	}
	return b, nil
}

// packPoly appends pl's residues, widths bits each, to dst.
func packPoly(dst []byte, pl lring.Poly, widths []uint) []byte {
	for i, c := range pl.Coeffs {
		dst = packSeg(dst, c, widths[i])
	}
	return dst
}

// uniformPoly fills pl with uniform residues mod each q_i of qs
// (rejection sampling on the prime's bit length).
func uniformPoly(prg *ring.PRG, qs []uint64, pl lring.Poly) {
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

// smallPoly fills pl (residues mod qs, coefficient domain) with a small
// signed polynomial: ternary (uniform in {−1, 0, 1}) or centred binomial
// with parameter eta.
func smallPoly(prg *ring.PRG, qs []uint64, pl lring.Poly, ternary bool) {
	n := len(pl.Coeffs[0])
	v := make([]int64, n)
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
			const m = 1<<eta - 1
			v[j] = int64(bits.OnesCount64(w&m)) - int64(bits.OnesCount64(w>>eta&m))
		}
	}
	for i, q := range qs {
		c := pl.Coeffs[i]
		for j, x := range v { // |x| ≤ eta < q
			if x < 0 {
				c[j] = q - uint64(-x)
			} else {
				c[j] = uint64(x)
			}
		}
	}
}

// addFlood adds to every coefficient of pl (residues mod qs, coefficient
// domain) a uniform integer in [−2^(fb−1), 2^(fb−1)), fb ≤ 192 bits.
func addFlood(prg *ring.PRG, qs []uint64, pl lring.Poly, fb int) {
	words := (fb + 63) / 64
	top := uint(fb - 64*(words-1))
	var w [3]uint64
	half, c64 := make([]uint64, len(qs)), make([]uint64, len(qs))
	bc := make([][2]uint64, len(qs))
	for i, q := range qs {
		half[i] = pow2Mod(fb-1, q)
		c64[i] = pow2Mod(64, q)
		bc[i] = lring.GenBRedConstant(q)
	}
	for j := range pl.Coeffs[0] {
		for x := range words {
			w[x] = prg.Uint64()
		}
		w[words-1] &= ^uint64(0) >> (64 - top)
		for i, q := range qs {
			r := lring.BRedAdd(w[words-1], q, bc[i])
			for x := words - 2; x >= 0; x-- {
				r = addModT(lring.BRed(r, c64[i], q, bc[i]), lring.BRedAdd(w[x], q, bc[i]), q)
			}
			c := &pl.Coeffs[i][j]
			*c = addModT(*c, r, q)
			*c = addModT(*c, q-half[i], q)
		}
	}
}

// pow2Mod returns 2^e mod q.
func pow2Mod(e int, q uint64) uint64 {
	r := uint64(1)
	for range e / 32 {
		r = mulMod(r, (1<<32)%q, q)
	}
	return mulMod(r, (1<<uint(e%32))%q, q)
}
