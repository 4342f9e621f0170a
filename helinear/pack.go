package helinear

import "math/bits"

// The wire format packs each residue mod q_i in bits.Len64(q_i) bits
// (little-endian bit order), each segment of residues of one prime padded
// to a whole byte: ℓ = 37 sends 145 bits per coefficient up instead of
// 192, and 55 instead of 64 down.

// width returns the bits of a residue mod q_i.
func (p *Params) width(i int) uint { return uint(bits.Len64(p.Q[i])) }
