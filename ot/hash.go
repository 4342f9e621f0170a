package ot

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
)

// The correlation-robust hash of the OT extension is the tweakable
// circular correlation-robust hash of Guo, Katz, Wang and Yu ("Efficient
// and Secure Multiparty Computation from Fixed-Key Block Ciphers", IEEE
// S&P 2020, §7), built from one fixed-key AES-128 permutation π:
//
//	H(i, x) = π(π(x) ⊕ i) ⊕ π(x)
//
// with the tweak i the OT's index in the session. IKNP with a global Δ
// hands the receiver t_i = q_i ⊕ r_i·Δ and the sender needs H(i, q_i) and
// H(i, q_i ⊕ Δ) to look independent and random to a receiver that knows
// one of them but not Δ; GKWY20 prove that this construction is TCCR (the
// tweakable correlation-robustness these uses need) in the ideal-permutation
// model for AES with a fixed public key, with security ≈ q²/2^128 for q
// queries. The tweak binds every hash to one OT, so two OTs whose rows
// happen to coincide still give unrelated keys. The key is a public
// constant (SHA-256 of a label) so no party chooses it.
var fixedKeyBytes = func() []byte {
	k := sha256.Sum256([]byte("autorep/ot fixed-key AES v1"))
	return k[:16]
}()

var fixedAES = func() cipher.Block {
	c, err := aes.NewCipher(fixedKeyBytes)
	if err != nil {
		panic("ot: AES-128 key setup: " + err.Error()) // unreachable: 16-byte key
	}
	return c
}()

// perm returns π(x) = AES_k(x) for the fixed public key k.
func perm(x Block) Block {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], x.Lo)
	binary.LittleEndian.PutUint64(b[8:], x.Hi)
	fixedAES.Encrypt(b[:], b[:])
	return Block{binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])}
}

// tccr is the tweakable correlation-robust hash H(i, x) above.
func tccr(i uint64, x Block) Block {
	p := perm(x)
	return perm(Block{p.Lo ^ i, p.Hi}).Xor(p)
}

// wideHash hashes a 256-bit KK13 row (see kk.go) with tweak i to 64 bits:
// the first 8 bytes of SHA-256(label ‖ i ‖ x). KK13's security needs H
// to be correlation robust for the code's correlations (q ⊕ C(y)∧s for
// an unknown 256-bit s); SHA-256 modelled as a random oracle gives that
// directly. (A single-block AES construction does not apply to a 256-bit
// input without a further argument, so this one is the plain choice.)
func wideHash(i uint64, x *[4]uint64) uint64 {
	var b [48]byte
	copy(b[:8], "ot/kk13\x00")
	binary.LittleEndian.PutUint64(b[8:], i)
	for k, w := range x {
		binary.LittleEndian.PutUint64(b[16+8*k:], w)
	}
	h := sha256.Sum256(b[:])
	return binary.LittleEndian.Uint64(h[:8])
}
