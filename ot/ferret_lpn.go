package ot

import "github.com/autorep/autorep/ring"

// Ferret's primal LPN encoding (Yang et al., CCS 2020, §4; the d-local
// linear code of emp-ot's LpnF2 with d = 10): output i is
//
//	y_i = w_i ⊕ ⊕_{j<d} K[a_{i,j}]
//
// for the n MPCOT outputs w and the k COTs K reserved from the previous
// iteration, the same for both parties' blocks and, on the receiver's
// side, for its choice bits (e ⊕ A·u). The matrix A is public: its row
// i's d columns a_{i,j} ∈ [0, k) come from AES-128 in counter mode keyed
// by a seed the sender draws fresh each iteration (ring.PRG), 32 bits
// each reduced by multiply-and-shift (bias below k/2^32, as with emp-ot's
// modulo). The regular-noise LPN assumption for the parameter sets of
// ferret.go is what makes y pseudo-random with the noise hidden.

// lpnD is the number of ones per row of the LPN matrix.
const lpnD = 10

// lpnChunk is the rows whose indices are drawn at once.
const lpnChunk = 2048

// lpnEncode XORs A·key into out (and, when bits is non-nil, A·keyBits into
// bits) for the matrix of seed: row i of A has lpnD ones among the
// len(key) columns. idx is scratch.
func lpnEncode(seed ring.Seed, key []Block, out []Block, keyBits, bits []byte, idx *[]uint64) {
	prg := ring.NewPRG(seed)
	k := uint64(len(key))
	w := grow(idx, lpnChunk*lpnD/2)
	for lo := 0; lo < len(out); lo += lpnChunk {
		m := min(lpnChunk, len(out)-lo)
		ws := w[:m*lpnD/2]
		prg.Uint64s(ws)
		for i := range m {
			row := ws[i*lpnD/2 : (i+1)*lpnD/2]
			y := out[lo+i]
			var bit byte
			for _, x := range row {
				a, b := (x&0xffffffff)*k>>32, (x>>32)*k>>32
				y = y.Xor(key[a]).Xor(key[b])
				if bits != nil {
					bit ^= keyBits[a] ^ keyBits[b]
				}
			}
			out[lo+i] = y
			if bits != nil {
				bits[lo+i] ^= bit
			}
		}
	}
}
