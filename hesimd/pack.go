package hesimd

import (
	"fmt"

	lring "github.com/tuneinsight/lattigo/v6/ring"

	"github.com/autorep/autorep/internal/rq"
)

// The residue packing and samplers shared with helinear are in
// internal/rq; what follows is hesimd's own use of them.

// unpackPoly reads one polynomial over qs (widths bits per residue) from
// b into pl, checking every residue is reduced (hostile input must not
// reach lattigo's lazy arithmetic with values ≥ q); it returns the rest.
func unpackPoly(b []byte, qs []uint64, widths []uint, pl lring.Poly) ([]byte, error) {
	for i, q := range qs {
		sb := rq.SegBytes(len(pl.Coeffs[i]), widths[i])
		rq.UnpackSeg(b[:sb], pl.Coeffs[i], widths[i])
		for _, v := range pl.Coeffs[i] {
			if v >= q {
				return nil, fmt.Errorf("hesimd: ciphertext residue %d ≥ modulus %d", v, q)
			}
		}
		b = b[sb:]
	}
	return b, nil
}

// packPoly appends pl's residues, widths bits each, to dst.
func packPoly(dst []byte, pl lring.Poly, widths []uint) []byte {
	for i, c := range pl.Coeffs {
		dst = rq.PackSeg(dst, c, widths[i])
	}
	return dst
}
