package dealer

import (
	"github.com/autorep/autorep/mpc/corr"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/mpc/fssgates"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/ring"
)

// TestRequestCostExact: RequestCost's bytes equal the generated material's
// encoded size for every kind, both parties, several widths and shifts
// (the provider refuses any longer answer, so an underestimate would
// break honest sessions), and its elements and multiply-adds are the
// shapes' exact counts.
func TestRequestCostExact(t *testing.T) {
	conv := corr.LinearSpec{N: 2, C: 4, H: 5, W: 6, K: 6, R: 3, S: 2, StrideH: 2, StrideW: 1, PadH: 1, PadW: 0, Groups: 2}
	mask := corr.MaskOf([]bool{true, false, false, true, true, false, true, false, false, false, true, true})
	reqs := []corr.Request{
		{Kind: mpc.KindWeightMask, Label: "w", Linear: conv},
		{Kind: mpc.KindLinear, Label: "w", Linear: conv},
		{Kind: mpc.KindLinear, Label: "d", Linear: corr.DenseSpec(3, 200, 130)},
		{Kind: mpc.KindCoefMask, Label: "p", Act: corr.ActSpec{C: 3}},
		{Kind: mpc.KindPoly, Label: "p", Act: corr.ActSpec{N: 2, C: 3, HW: 4, ReLU: mask}},
		{Kind: mpc.KindPoly, Label: "q", Act: corr.ActSpec{N: 1, C: 3, HW: 4}},
		{Kind: fssgates.KindTrunc, Label: "t", N: 300, Shift: 12},
		{Kind: fssgates.KindTrunc, Label: "t", N: 7, Shift: 5, Ell: 20},
		{Kind: fssgates.KindReLU, Label: "r", N: 130},
		{Kind: fssgates.KindReLU, Label: "r", N: 9, Ell: 37},
		{Kind: fssgates.KindDReLU, Label: "d", N: 17, Ell: 2},
		{Kind: fssgates.KindReLUTrunc, Label: "rt", N: 11, Shift: 12},
		{Kind: fssgates.KindReLUTrunc, Label: "rt", N: 3, Shift: 3, Ell: 30},
		{Kind: mpc.KindTruncMSB, Label: "m", N: 20, Shift: 16},
		{Kind: mpc.KindTriple, Label: "b", N: 129},
		{Kind: mpc.KindSquare, Label: "s", N: 0},
	}
	d := mpcdealer.NewGenerator(ring.Seed{3})
	for _, r := range reqs {
		m0, m1, err := d.Generate(r, 0)
		if err != nil {
			t.Fatalf("%v %q: %v", r.Kind, r.Label, err)
		}
		c := RequestCost(r)
		if c.Bytes != [2]int64{m0.Size(), m1.Size()} {
			t.Errorf("%v %q: cost %v bytes, material %d and %d", r.Kind, r.Label, c.Bytes, m0.Size(), m1.Size())
		}
		for _, m := range []*corr.Material{m0, m1} {
			if b, err := m.MarshalBinary(); err != nil || int64(len(b)) != m.Size() {
				t.Errorf("%v: Size %d, encoding %d bytes (%v)", r.Kind, m.Size(), len(b), err)
			}
		}
	}
	// conv: OutH = (5+2−3)/2+1 = 3, OutW = 6−2+1 = 5, y = 2·6·3·5 = 180
	// outputs, each (C/Groups)·R·S = 2·3·2 = 12
	// multiply-adds; x = 2·4·5·6 = 240 is the largest tensor.
	if c := RequestCost(reqs[1]); c.MACs != 180*12 || c.Elems != 240 {
		t.Errorf("conv cost: %+v, want 2160 MACs over 240 elements", c)
	}
	if c := RequestCost(reqs[4]); c.Elems != 24 {
		t.Errorf("poly cost: %+v, want 24 elements", c)
	}
	if c := RequestCost(reqs[6]); c.Elems != 300 || c.MACs != 0 {
		t.Errorf("trunc cost: %+v", c)
	}
}
