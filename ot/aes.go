package ot

import "encoding/binary"

// permBatch, when set (aes_simd.go: AES-NI through simd/archsimd), applies
// π to blocks eight at a time with the rounds interleaved; otherwise
// permBlocks runs crypto/aes one block at a time.
var permBatch func(dst, src []Block)

// permBlocks sets dst[i] = π(src[i]) for the fixed-key permutation π of
// hash.go (dst may be src; len(dst) ≥ len(src)).
func permBlocks(dst, src []Block) {
	if permBatch != nil {
		permBatch(dst, src)
		return
	}
	var b [16]byte
	for i, x := range src {
		binary.LittleEndian.PutUint64(b[:8], x.Lo)
		binary.LittleEndian.PutUint64(b[8:], x.Hi)
		fixedAES.Encrypt(b[:], b[:])
		dst[i] = Block{binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])}
	}
}

// tccrBlocks sets out[i] = H(tw[i], x[i]) = π(π(x_i) ⊕ tw_i) ⊕ π(x_i), the
// TCCR hash of hash.go, in two batched passes (out may be x); tmp is
// scratch for π(x).
func tccrBlocks(out, x, tw []Block, tmp *[]Block) {
	p := grow(tmp, len(x))
	permBlocks(p, x)
	for i := range p {
		out[i] = p[i].Xor(tw[i])
	}
	permBlocks(out[:len(x)], out[:len(x)])
	for i := range p {
		out[i] = out[i].Xor(p[i])
	}
}
