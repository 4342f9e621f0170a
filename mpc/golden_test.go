package mpc_test

import (
	"crypto/sha256"
	"encoding/hex"
	"github.com/autorep/autorep/mpc/dealer"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/ring"
)

// TestDealerGolden pins the dealer's exact output for a fixed seed, every
// kind included: the SHA-256 of both parties' encoded material for a list
// of requests. Moving the generators between packages (issue 13: the FSS
// kinds to mpc/fssgates, the dealer to a package of its own) must not
// change a bit of it; the hash was computed by the generator as it was in
// mpc at f1a99ed, before the move. A deliberate change of the material
// updates the hash.
func TestDealerGolden(t *testing.T) {
	const want = "a1a1ae2a01c2584012c5c62f6709a1cad61e188f1bc35e6239d9605112b673ad"
	reqs := []corr.Request{
		{Kind: fssgates.KindTrunc, Label: "t", N: 9, Shift: 16},
		{Kind: fssgates.KindTrunc, Label: "t", N: 4, Shift: 12, Ell: 37},
		{Kind: fssgates.KindReLU, Label: "r", N: 6, Ell: 40},
		{Kind: fssgates.KindReLU, Label: "r", N: 6},
		{Kind: fssgates.KindDReLU, Label: "d", N: 5},
		{Kind: fssgates.KindReLUTrunc, Label: "rt", N: 4, Shift: 16},
		{Kind: fssgates.KindReLUTrunc, Label: "rt", N: 7, Shift: 12, Ell: 40},
		{Kind: mpc.KindTruncMSB, Label: "m", N: 7, Shift: 12},
		{Kind: mpc.KindTriple, Label: "x", N: 7},
		{Kind: mpc.KindSquare, Label: "x", N: 7},
		{Kind: mpc.KindPoly, Label: "p", Act: corr.ActSpec{N: 2, C: 2, HW: 4, ReLU: corr.MaskOf([]bool{true, false, true, true, false, false, true, true})}},
		{Kind: mpc.KindLinear, Label: "l", Linear: corr.DenseSpec(2, 3, 4)},
	}
	d := dealer.NewGenerator(ring.Seed{7, 7})
	h := sha256.New()
	for i, r := range reqs {
		m0, m1, err := d.Generate(r, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []*corr.Material{m0, m1} {
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			h.Write(b)
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("dealer output for seed {7, 7}: SHA-256 %s, want %s", got, want)
	}
}
