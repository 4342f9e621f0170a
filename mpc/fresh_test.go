package mpc_test

// Freshness: no mask of the dealer suite is used twice within a session.
// (Across sessions: TestSessionsDoNotShareMasks.)

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/autorep/autorep/internal/privacytest"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/ring"
)

// kindRequests returns one small request of every material kind.
func kindRequests(label string) []corr.Request {
	lin := corr.DenseSpec(2, 8, 4)
	act := corr.ActSpec{N: 1, C: 4, HW: 8}
	return []corr.Request{
		{Kind: mpc.KindWeightMask, Label: label, Linear: lin},
		{Kind: mpc.KindLinear, Label: label, Linear: lin},
		{Kind: mpc.KindCoefMask, Label: label, Act: corr.ActSpec{C: 4}},
		{Kind: mpc.KindPoly, Label: label, Act: act},
		{Kind: fssgates.KindTrunc, Label: label, N: 16, Shift: 16},
		{Kind: fssgates.KindReLU, Label: label, N: 16},
		{Kind: fssgates.KindDReLU, Label: label, N: 16, Ell: 40},
		{Kind: mpc.KindTriple, Label: label, N: 16},
		{Kind: mpc.KindSquare, Label: label, N: 16},
		{Kind: fssgates.KindReLUTrunc, Label: label, N: 16, Shift: 16},
		{Kind: mpc.KindTruncMSB, Label: label, N: 16, Shift: 16},
	}
}

// sessionKind reports the kinds fixed for a label over a session.
func sessionKind(k corr.MaterialKind) bool { return k == mpc.KindWeightMask || k == mpc.KindCoefMask }

// freshMaterial asserts that two items of material share no word at any
// position of any vector (uniform independent words are equal with
// probability 2^−64) and have different encodings (FSS keys included).
func freshMaterial(t *testing.T, what string, a, b *corr.Material) {
	t.Helper()
	if len(a.Vecs) != len(b.Vecs) || len(a.Vecs) == 0 {
		t.Fatalf("%s: %d and %d vectors", what, len(a.Vecs), len(b.Vecs))
	}
	for j := range a.Vecs {
		privacytest.FreshWords(t, fmt.Sprintf("%s vector %d", what, j), a.Vecs[j].Data, b.Vecs[j].Data)
	}
	if bytes.Equal(encode(t, a), encode(t, b)) {
		t.Errorf("%s: equal encodings", what)
	}
}

func encode(t *testing.T, m *corr.Material) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDealerIndexFresh: for every kind, the dealer's material for index i
// differs from index j (both parties, every vector), and material for
// two labels differs; session kinds are the same for every index.
func TestDealerIndexFresh(t *testing.T) {
	d := dealer.NewGenerator(ring.Seed{7, 7})
	pairs := [][2]uint64{{0, 1}, {1, 2}, {0, 1 << 40}}
	for _, req := range kindRequests("layer") {
		for _, ij := range pairs {
			a0, a1, err := d.Generate(req, ij[0])
			if err != nil {
				t.Fatal(err)
			}
			b0, b1, err := d.Generate(req, ij[1])
			if err != nil {
				t.Fatal(err)
			}
			what := fmt.Sprintf("%v #%d vs #%d", req.Kind, ij[0], ij[1])
			if sessionKind(req.Kind) {
				if !bytes.Equal(encode(t, a0), encode(t, b0)) {
					t.Errorf("%s: session mask differs between indices", what)
				}
				continue
			}
			freshMaterial(t, what+" server", a0, b0)
			freshMaterial(t, what+" client", a1, b1)
		}
	}
	other := kindRequests("other")
	for k, req := range kindRequests("layer") {
		a0, _, err := d.Generate(req, 0)
		if err != nil {
			t.Fatal(err)
		}
		b0, _, err := d.Generate(other[k], 0)
		if err != nil {
			t.Fatal(err)
		}
		freshMaterial(t, fmt.Sprintf("%v labels layer vs other", req.Kind), a0, b0)
	}
}

// TestRepeatedRequestsFresh: two requests of the same kind and label in
// one session get different material, through the hub (LocalProviders)
// and through the prefetch queue the protocols use (Prefetcher), for both
// parties; the halves still pair (the reconstructed first vector of the
// second request differs from the first's).
func TestRepeatedRequestsFresh(t *testing.T) {
	for _, buffered := range []bool{false, true} {
		p0, p1 := dealer.LocalProviders(dealer.NewGenerator(ring.Seed{8}))
		provs := [2]corr.Provider{p0, p1}
		for _, req := range kindRequests("layer") {
			var got [2][2]*corr.Material // [party][request]
			for p, pr := range provs {
				if buffered {
					b := corr.NewPrefetcher(pr)
					if err := b.Prefetch([]corr.Request{req, req}); err != nil {
						t.Fatal(err)
					}
					pr = b
				}
				for i := range 2 {
					m, err := pr.Get(req)
					if err != nil {
						t.Fatal(err)
					}
					got[p][i] = m
				}
			}
			what := fmt.Sprintf("buffered=%v %v", buffered, req.Kind)
			if sessionKind(req.Kind) {
				if !bytes.Equal(encode(t, got[0][0]), encode(t, got[0][1])) {
					t.Errorf("%s: session mask differs between requests", what)
				}
				continue
			}
			for p := range 2 {
				freshMaterial(t, fmt.Sprintf("%s %v", what, mpc.Party(p)), got[p][0], got[p][1])
			}
			if req.Kind == mpc.KindLinear {
				continue // the first vectors are [B⊛R]₀ and R: not shares of one value
			}
			// The shared first vector (a mask) differs as a value too.
			var x [2][]uint64
			for i := range 2 {
				x[i] = make([]uint64, len(got[0][i].Vecs[0].Data))
				ring.AddVec(x[i], got[0][i].Vecs[0].Data, got[1][i].Vecs[0].Data)
			}
			privacytest.FreshWords(t, what+" reconstructed mask", x[0], x[1])
		}
	}
}

// TestTwoInferencesFresh runs the same input twice in one session through
// a small network (conv → mixed activation → max pool → average pool (sum, truncation) →
// dense → reveal) and through the gates (Mul, Square, Trunc, ReLU, DReLU,
// TruncMSB): every message either party receives in the second run
// differs at every word from the first run's.
func TestTwoInferencesFresh(t *testing.T) {
	conv := corr.LinearSpec{N: 1, C: 2, H: 8, W: 8, K: 4, R: 3, S: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, Groups: 1}
	act := mixedSpec(4, 64)
	mp := mpc.PoolSpec{N: 1, C: 4, H: 8, W: 8, K: 2, Stride: 2}
	ap := mpc.PoolSpec{N: 1, C: 4, H: 4, W: 4, K: 2, Stride: 2}
	fc := corr.DenseSpec(1, 16, 10)
	network := func(p *party) (func() error, error) {
		kc, err := linearSetup(p, "conv", conv, 0, 11)
		if err != nil {
			return nil, err
		}
		pk, err := polySetup(p, "act", act.C, 0)
		if err != nil {
			return nil, err
		}
		kf, err := linearSetup(p, "fc", fc, 0, 12)
		if err != nil {
			return nil, err
		}
		var x []uint64
		if p.s.Party == mpc.Client {
			x = secretVals(conv.XLen(), 13)
		}
		return func() error {
			h, err := p.s.ShareInput(x, conv.XLen())
			if err == nil {
				h, err = p.s.Linear(p.src, kc, h)
			}
			if err == nil {
				h, err = p.s.Act(p.src, "act", pk, act, h)
			}
			if err == nil {
				h, err = p.s.MaxPool(p.src, "maxpool", mp, h)
			}
			if err == nil {
				h, err = mpc.SumPool(ap, h) // average pooling as pi runs it: window sums, then a truncation
			}
			if err == nil {
				h, err = p.s.TruncMSB(p.src, "avgpool", h, 2)
			}
			if err == nil {
				h, err = p.s.Linear(p.src, kf, h)
			}
			if err == nil {
				p.out, err = p.s.RevealToClient("logits", h)
			}
			return err
		}, nil
	}
	gates := func(p *party) (func() error, error) {
		x := structuredShares(p, 64, 14)
		return func() error {
			if _, err := p.s.Mul(p.src, "mul", x, x); err != nil {
				return err
			}
			if _, err := p.s.Square(p.src, "square", x); err != nil {
				return err
			}
			if _, err := fssgates.Trunc(p.s, p.src, "trunc", x, frac, 0); err != nil {
				return err
			}
			if _, err := fssgates.ReLU(p.s, p.src, "relu", x, 0); err != nil {
				return err
			}
			if _, err := fssgates.DReLU(p.s, p.src, "drelu", x, 0); err != nil {
				return err
			}
			_, err := p.s.TruncMSB(p.src, "tmsb", x, frac)
			return err
		}, nil
	}
	for name, setup := range map[string]func(*party) (func() error, error){"network": network, "gates": gates} {
		t.Run(name, func(t *testing.T) {
			var marks [2][2]int // [party]: message counts before each run
			_, ps := runViews(t, 21, func(p *party) error {
				infer, err := setup(p)
				if err != nil {
					return err
				}
				for i := range 2 {
					marks[p.s.Party][i] = p.rec.Len()
					if err := infer(); err != nil {
						return err
					}
				}
				return nil
			})
			for i := range 2 {
				msgs := ps[i].rec.Messages(marks[i][0])
				n := marks[i][1] - marks[i][0]
				privacytest.Fresh(t, fmt.Sprintf("%s %v", name, mpc.Party(i)), msgs[:n], msgs[n:])
			}
		})
	}
}
