package fssgates_test

import (
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/ring"
)

// TestKeyChecks: the family's payload checks refuse keys of another party,
// of another kind's payload type, of another shift, and keys for another
// input width than the request's, when encoding and when decoding for a
// request.
func TestKeyChecks(t *testing.T) {
	d := dealer.NewGenerator(ring.Seed{3})
	gen := func(req corr.Request) (m0, m1 *corr.Material) {
		t.Helper()
		m0, m1, err := d.Generate(req, 0)
		if err != nil {
			t.Fatal(err)
		}
		return m0, m1
	}
	reluReq := corr.Request{Kind: fssgates.KindReLU, Label: "r", N: 4, Ell: 40}
	rtReq := corr.Request{Kind: fssgates.KindReLUTrunc, Label: "rt", N: 4, Shift: 12, Ell: 40}
	truncReq := corr.Request{Kind: fssgates.KindTrunc, Label: "t", N: 4, Shift: 12}
	relu0, _ := gen(reluReq)
	rt0, rt1 := gen(rtReq)
	tr0, _ := gen(truncReq)

	bad := map[string]*corr.Material{
		"DCF keys of the other party":    {Kind: fssgates.KindReLUTrunc, Party: mpc.Server, Param: 12, Vecs: rt0.Vecs, Keys: rt1.Keys},
		"gate keys in ReLUTrunc":         {Kind: fssgates.KindReLUTrunc, Party: mpc.Server, Param: 12, Vecs: rt0.Vecs, Keys: relu0.Keys},
		"DCF keys in ReLU":               {Kind: fssgates.KindReLU, Party: mpc.Server, Vecs: relu0.Vecs, Keys: rt0.Keys},
		"truncation keys of shift 12/13": {Kind: fssgates.KindTrunc, Party: mpc.Server, Param: 13, Vecs: tr0.Vecs, Keys: tr0.Keys},
		"ReLU keys as truncation":        {Kind: fssgates.KindTrunc, Party: mpc.Server, Param: 12, Vecs: relu0.Vecs, Keys: relu0.Keys},
	}
	for name, m := range bad {
		if _, err := m.MarshalBinary(); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	for _, c := range []struct {
		m   *corr.Material
		req corr.Request
	}{
		{relu0, corr.Request{Kind: fssgates.KindReLU, Label: "r", N: 4}},                // 40-bit keys, 64-bit request
		{rt0, corr.Request{Kind: fssgates.KindReLUTrunc, Label: "rt", N: 4, Shift: 12}}, // likewise
	} {
		b, err := c.m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := corr.UnmarshalMaterialFor(b, c.req, mpc.Server); err == nil {
			t.Errorf("%v: keys for 40-bit inputs accepted for a 64-bit request", c.m.Kind)
		}
		want := reluReq
		if c.m.Kind == fssgates.KindReLUTrunc {
			want = rtReq
		}
		if _, err := corr.UnmarshalMaterialFor(b, want, mpc.Server); err != nil {
			t.Errorf("%v: own request refused: %v", c.m.Kind, err)
		}
	}
}
