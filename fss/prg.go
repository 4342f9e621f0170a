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
	keySeed = fixedKey("autorep/fss seed PRG v1")
	keyVal  = fixedKey("autorep/fss value PRG v1")
	aesSeed = fixedCipher(keySeed)
	aesVal  = fixedCipher(keyVal)
	// Expanded round keys for the interleaved AES-NI routine mmo8.
	rkSeed = expandKey128(keySeed)
	rkVal  = expandKey128(keyVal)
)

func fixedKey(label string) [16]byte {
	k := sha256.Sum256([]byte(label))
	return [16]byte(k[:16])
}

func fixedCipher(k [16]byte) cipher.Block {
	c, err := aes.NewCipher(k[:])
	if err != nil {
		panic("fss: AES-128 key setup: " + err.Error()) // unreachable: 16-byte key
	}
	return c
}

// sbox is the AES S-box, computed from its definition (inverse in GF(2^8)
// followed by the affine map).
var sbox = func() (s [256]byte) {
	mul := func(a, b byte) (p byte) {
		for ; b != 0; b >>= 1 {
			if b&1 != 0 {
				p ^= a
			}
			a = a<<1 ^ 0x1b*(a>>7)
		}
		return p
	}
	rotl := func(x byte, k uint) byte { return x<<k | x>>(8-k) }
	for a := range 256 {
		inv := byte(0)
		if a != 0 {
			inv = 1
			for range 254 { // a^254 = a^-1
				inv = mul(inv, byte(a))
			}
		}
		s[a] = inv ^ rotl(inv, 1) ^ rotl(inv, 2) ^ rotl(inv, 3) ^ rotl(inv, 4) ^ 0x63
	}
	return s
}()

// expandKey128 is the FIPS-197 AES-128 key schedule: 11 round keys of 16
// bytes, in the byte order AESENC expects.
func expandKey128(key [16]byte) (rk [176]byte) {
	copy(rk[:16], key[:])
	rcon := byte(1)
	for i := 16; i < 176; i += 4 {
		t := [4]byte(rk[i-4 : i])
		if i%16 == 0 {
			t = [4]byte{sbox[t[1]] ^ rcon, sbox[t[2]], sbox[t[3]], sbox[t[0]]}
			rcon = rcon<<1 ^ 0x1b*(rcon>>7)
		}
		for j := range 4 {
			rk[i+j] = rk[i-16+j] ^ t[j]
		}
	}
	return rk
}

// cipherFor maps an expanded fixed key to its crypto/aes cipher.
func cipherFor(rk *[176]byte) cipher.Block {
	if rk == &rkSeed {
		return aesSeed
	}
	return aesVal
}

// mmo8Generic is mmo8 through crypto/aes: blocks 0-3 under ks, 4-7 under kv.
func mmo8Generic(ks, kv *[176]byte, b *[8]block) {
	cs, cv := cipherFor(ks), cipherFor(kv)
	for i := range 4 {
		b[i] = mmo(cs, b[i])
		b[i+4] = mmo(cv, b[i+4])
	}
}

// mmo16Generic is mmo16 through crypto/aes: blocks 0-7 under ks, 8-15
// under kv.
func mmo16Generic(ks, kv *[176]byte, b *[16]block) {
	cs, cv := cipherFor(ks), cipherFor(kv)
	for i := range 8 {
		b[i] = mmo(cs, b[i])
		b[i+8] = mmo(cv, b[i+8])
	}
}

// prg8 applies the seed PRG to b[0:4] and the value PRG to b[4:8] in place
// (b[i] ← H(b[i]); the caller XORs the tweaks in beforehand).
func prg8(b *[8]block) {
	if useAsm {
		mmo8(&rkSeed, &rkVal, b)
	} else {
		mmo8Generic(&rkSeed, &rkVal, b)
	}
}

// prg16 applies the seed PRG to b[0:8] and the value PRG to b[8:16]: one
// VAES call, or two AES-NI calls.
func prg16(b *[16]block) {
	switch {
	case useVAES:
		mmo16(&rkSeed, &rkVal, b)
	case useAsm:
		mmo8(&rkSeed, &rkSeed, (*[8]block)(b[:8]))
		mmo8(&rkVal, &rkVal, (*[8]block)(b[8:]))
	default:
		mmo16Generic(&rkSeed, &rkVal, b)
	}
}

// mmo24Generic is mmo24 through crypto/aes: blocks 0-7 under ks, 8-23
// under kv.
func mmo24Generic(ks, kv *[176]byte, b *[24]block) {
	cs, cv := cipherFor(ks), cipherFor(kv)
	for i := range 8 {
		b[i] = mmo(cs, b[i])
	}
	for i := 8; i < 24; i++ {
		b[i] = mmo(cv, b[i])
	}
}

// prg24 applies the seed PRG to b[0:8] and the value PRG to b[8:24]: one
// VAES call, or three AES-NI calls. It serves eight DCF nodes with two
// value blocks each (payloads of 3-4 words).
func prg24(b *[24]block) {
	switch {
	case useVAES:
		mmo24(&rkSeed, &rkVal, b)
	case useAsm:
		mmo8(&rkSeed, &rkSeed, (*[8]block)(b[:8]))
		mmo8(&rkVal, &rkVal, (*[8]block)(b[8:16]))
		mmo8(&rkVal, &rkVal, (*[8]block)(b[16:]))
	default:
		mmo24Generic(&rkSeed, &rkVal, b)
	}
}

// lanes is the number of DCF evaluations with g ≤ 2 run in lockstep: 8
// with VAES (sixteen blocks per call), else 4 (one eight-block AES-NI
// call). Payloads of 3-4 words always use 4 lanes and prg16. Tests switch
// lanes to cover both paths.
var lanes = map[bool]int{true: 8, false: 4}[useVAES]

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

// splitSeed splits a seed-PRG output into the next seed (low two bits
// cleared) and its control bit.
func splitSeed(o block) (block, uint64) {
	return block{o.lo & seedMask, o.hi}, o.lo & 1
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
