package pi

import (
	"fmt"

	"github.com/autorep/autorep/hesimd"
)

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
	// The mask first: a step without one fails before any traffic.
	var cm *hesimd.ClientMask
	var sm *hesimd.ServerMask
	var err error
	if b.party == tpServer {
		sm, err = takePre[*hesimd.ServerMask](b, i, st)
	} else {
		cm, err = takePre[*hesimd.ClientMask](b, i, st)
	}
	if err != nil {
		return nil, err
	}
	f := int(b.pub.Frac)
	P := b.hp.P()
	t, err := b.gates.ToPrimeTrunc(z, b.ell, f, P)
	if err != nil {
		return nil, err
	}
	var v []uint64
	if b.party == tpServer {
		ca, cb, cc := b.heCoefs(i, st, idx)
		if st.PolyDeg == 1 {
			ca = nil
		}
		v, err = b.qs.Online(sm, ca, cb, cc, t)
	} else {
		v, err = b.qc.Online(cm, t)
	}
	if err != nil {
		return nil, fmt.Errorf("polynomial by HE: %w", err)
	}
	return b.gates.FromPrimeTrunc(v, P, b.ell, 2*f)
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
