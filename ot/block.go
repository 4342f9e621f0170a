package ot

// Block is a 128-bit value: an OT-extension row, a correlation Δ or a hash
// output. Bit i of a Block is bit i of Lo for i < 64 and bit i−64 of Hi
// otherwise.
type Block struct{ Lo, Hi uint64 }

// Xor returns a ⊕ b.
func (a Block) Xor(b Block) Block { return Block{a.Lo ^ b.Lo, a.Hi ^ b.Hi} }

// Bit returns bit i of a (0 ≤ i < 128).
func (a Block) Bit(i int) uint8 {
	if i < 64 {
		return uint8(a.Lo >> uint(i) & 1)
	}
	return uint8(a.Hi >> uint(i-64) & 1)
}

// and returns a ∧ b.
func (a Block) and(b Block) Block { return Block{a.Lo & b.Lo, a.Hi & b.Hi} }

// transpose64 transposes a 64×64 bit matrix in place: afterwards bit c of
// a[r] is what bit r of a[c] was. It swaps the off-diagonal j×j blocks of
// every 2j×2j block for j = 32, 16, ..., 1 (Eklundh's recursive transpose,
// 6·32 masked word swaps instead of 4,096 single-bit moves).
func transpose64(a *[64]uint64) {
	j := 32
	for _, m := range transposeMasks {
		for k := 0; k < 64; k = (k + j + 1) &^ j {
			t := (a[k]>>uint(j) ^ a[k+j]) & m
			a[k+j] ^= t
			a[k] ^= t << uint(j)
		}
		j >>= 1
	}
}

// transposeMasks are the bits that move in transpose64's swaps of j×j
// blocks, j = 32, 16, ..., 1.
var transposeMasks = [6]uint64{
	0x00000000FFFFFFFF, 0x0000FFFF0000FFFF, 0x00FF00FF00FF00FF,
	0x0F0F0F0F0F0F0F0F, 0x3333333333333333, 0x5555555555555555,
}

// transpose64Fast is transpose64, or a vector version of it where the CPU
// has one (transpose_simd.go); the transposes of the extension use it.
var transpose64Fast = transpose64

// transpose128 writes the transpose of the 128×128 bit matrix in to out:
// bit j of out[i] is bit i of in[j]. It transposes the four 64×64
// quadrants and swaps the off-diagonal ones.
func transpose128(in, out *[128]Block) {
	var q [4][64]uint64 // q[0]: rows 0-63 bits 0-63, q[1]: rows 0-63 bits 64-127, q[2], q[3]: rows 64-127
	for j := range 64 {
		q[0][j], q[1][j] = in[j].Lo, in[j].Hi
		q[2][j], q[3][j] = in[64+j].Lo, in[64+j].Hi
	}
	for k := range q {
		transpose64Fast(&q[k])
	}
	for i := range 64 {
		out[i] = Block{q[0][i], q[2][i]}
		out[64+i] = Block{q[1][i], q[3][i]}
	}
}
