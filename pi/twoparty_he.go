package pi

// polyHE evaluates the PolyHE form at the positions idx of activation
// step i, z their inputs at 2f fractional bits (shares mod 2^ℓ): t =
// ⌊z/2^f⌋ − e converted to shares mod P in the same OT (ToPrimeTrunc),
// v = C2·t² + C1·t + C0 mod P for all positions of the step in the
// online half of the step's precomputed hesimd Quad (precomputePoly: the
// client sends t masked; a degree-2 step gets the server's answer back, a
// degree-1 step's answer came offline; the server's per-channel
// coefficients as residues mod P), then ⌊v/2^2f⌋ ± 1 back in Z_2^ℓ
// (FromPrimeTrunc).
func (b *twoPartyBackend) polyHE(i int, st *Step, z []uint64, idx []int) ([]uint64, error) {
	ps, err := b.polyHEStart(i, st, z, idx)
	if err != nil {
		return nil, err
	}
	if err := b.hooks.flush(); err != nil { // no gate between: d goes at once
		return nil, err
	}
	return ps.finish()
}

// heCoefs returns the server's coefficients C2, C1, C0 of activation step
// i at the positions idx as residues mod P.
func (b *twoPartyBackend) heCoefs(i int, st *Step, idx []int) (ca, cb, cc []uint64) {
	P := b.hp.P()
	per := st.Positions()
	c, _, _ := chw(st.Shape)
	hw := per / c
	coef := b.sec.Steps[i].Coef
	ca, cb, cc = make([]uint64, len(idx)), make([]uint64, len(idx)), make([]uint64, len(idx))
	for q, j := range idx {
		ch := (j % per) / hw
		ca[q], cb[q], cc[q] = residue(coef[3*ch+2], P), residue(coef[3*ch+1], P), residue(coef[3*ch], P)
	}
	return ca, cb, cc
}

// residue is the signed 64-bit value v mod P.
func residue(v, P uint64) uint64 {
	r := int64(v) % int64(P)
	if r < 0 {
		r += int64(P)
	}
	return uint64(r)
}
