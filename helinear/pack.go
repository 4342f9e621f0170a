package helinear

import "math/bits"

// The wire format packs each residue mod q_i in bits.Len64(q_i) bits
// (little-endian bit order), each segment of residues of one prime padded
// to a whole byte: ℓ = 37 sends 145 bits per coefficient up instead of
// 192, and 55 instead of 64 down.

// width returns the bits of a residue mod q_i.
func (p *Params) width(i int) uint { return uint(bits.Len64(p.Q[i])) }

// segBytes is the packed size of n residues of width w.
func segBytes(n int, w uint) int { return (n*int(w) + 7) / 8 }

// packSeg appends the residues of w, width bits each, to dst.
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
	pos := 0 // bit position
	for i := range w {
		byteOff, sh := pos/8, uint(pos%8)
		var v uint64
		// width + sh ≤ 68 bits span at most 9 bytes.
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
