package fss

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
)

// block is a 128-bit value: a DCF seed or one AES block (lo = bytes 0..7,
// hi = bytes 8..15, little endian).
type block struct{ lo, hi uint64 }

// seedMask clears the two low bits of a seed's lo word. Seeds are 126-bit
// values; the two freed bits of a level correction word carry the left and
// right control-bit corrections, and the tweaks 0..2 below are XORed into
// them for domain separation.
const seedMask = ^uint64(3)

// The length-doubling PRG G of the DCF is built from two fixed-key AES-128
// permutations in Matyas–Meyer–Oseas mode, H_K(x) = AES_K(x) ⊕ x:
//
//	seed output, direction d ∈ {0,1}:   H_Ks(s ⊕ d)  → next seed (low 2 bits cleared) and control bit (bit 0)
//	value output, direction d, block j: H_Kv(s ⊕ d ⊕ j·2^64) → two Z_2^64 payload words
//	final conversion (leaf):            H_Kv(s ⊕ 2 ⊕ j·2^64)
//
// The keys are fixed public constants (SHA-256 of a label), so the key
// schedule is computed once and every call is a single AES block (AES-NI
// through crypto/aes). Seeds have their two low bits clear, so the tweaks
// never make two distinct (seed, tweak) pairs collide.
var (
	aesSeed = fixedCipher("autorep/fss seed PRG v1")
	aesVal  = fixedCipher("autorep/fss value PRG v1")
)

func fixedCipher(label string) cipher.Block {
	k := sha256.Sum256([]byte(label))
	c, err := aes.NewCipher(k[:16])
	if err != nil {
		panic("fss: AES-128 key setup: " + err.Error()) // unreachable: 16-byte key
	}
	return c
}

// mmo returns AES_c(x) ⊕ x.
func mmo(c cipher.Block, x block) block {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], x.lo)
	binary.LittleEndian.PutUint64(b[8:], x.hi)
	c.Encrypt(b[:], b[:])
	return block{binary.LittleEndian.Uint64(b[0:]) ^ x.lo, binary.LittleEndian.Uint64(b[8:]) ^ x.hi}
}

// seedOut is the seed half of G(s) in direction d: the next seed (low two
// bits cleared) and its control bit.
func seedOut(s block, d uint64) (block, uint64) {
	o := mmo(aesSeed, block{s.lo ^ d, s.hi})
	t := o.lo & 1
	o.lo &= seedMask
	return o, t
}

// valOut writes the g payload words of G(s) in direction d (0, 1, or 2 for
// the leaf conversion) to dst[:g].
func valOut(s block, d uint64, dst []uint64) {
	g := len(dst)
	for j := 0; 2*j < g; j++ {
		o := mmo(aesVal, block{s.lo ^ d, s.hi ^ uint64(j)})
		dst[2*j] = o.lo
		if 2*j+1 < g {
			dst[2*j+1] = o.hi
		}
	}
}
