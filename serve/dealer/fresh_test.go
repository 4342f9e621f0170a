package dealer

import (
	"context"
	"fmt"
	"github.com/autorep/autorep/mpc/corr"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/mpc/fssgates"
	"testing"

	"github.com/autorep/autorep/internal/privacytest"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

// TestNetworkDealerFresh: over TCP, two requests of the same kind and label
// in one session — one prefetched pair, one pair fetched on demand — get
// different material (every vector word) for both parties, and the halves
// still pair. mpc's TestRepeatedRequestsFresh covers every kind in process;
// this is the path the served parties use.
func TestNetworkDealerFresh(t *testing.T) {
	ln, err := secnet.Listen("127.0.0.1:0", secnet.Config{Insecure: true}, transport.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Generator: mpcdealer.NewGenerator(ring.Seed{5}), Grace: -1, Logf: t.Logf}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	sid, _ := NewSessionID()
	var provs [2]*Remote
	for p := range 2 {
		c, err := secnet.Dial(ctx, ln.Addr().String(), secnet.Config{Insecure: true}, transport.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if provs[p], err = Join(ctx, c, mpc.Party(p), sid, [32]byte{3}); err != nil {
			t.Fatal(err)
		}
		defer provs[p].Close()
	}
	reqs := []corr.Request{
		{Kind: mpc.KindLinear, Label: "fc", Linear: corr.DenseSpec(2, 8, 4)},
		{Kind: mpc.KindPoly, Label: "act", Act: corr.ActSpec{N: 1, C: 4, HW: 8}},
		{Kind: fssgates.KindReLUTrunc, Label: "act", N: 16, Shift: 16},
		{Kind: mpc.KindTriple, Label: "mul", N: 16},
	}
	for _, prefetch := range []bool{true, false} {
		for _, req := range reqs {
			var got [2][2]*corr.Material // [party][request]
			for p, pr := range provs {
				if prefetch {
					if err := pr.Prefetch([]corr.Request{req, req}); err != nil {
						t.Fatal(err)
					}
				}
				for i := range 2 {
					if got[p][i], err = pr.Get(req); err != nil {
						t.Fatal(err)
					}
				}
			}
			for p := range 2 {
				a, b := got[p][0], got[p][1]
				for j := range a.Vecs {
					privacytest.FreshWords(t, fmt.Sprintf("prefetch=%v %v %v vector %d", prefetch, req.Kind, mpc.Party(p), j),
						a.Vecs[j].Data, b.Vecs[j].Data)
				}
			}
			if req.Kind == mpc.KindTriple {
				for i := range 2 {
					for e := range req.N {
						var v [3]uint64
						for j := range v {
							v[j] = got[0][i].Vecs[j].Data[e] + got[1][i].Vecs[j].Data[e]
						}
						if v[0]*v[1] != v[2] {
							t.Fatalf("triple %d element %d: c ≠ a·b", i, e)
						}
					}
				}
			}
		}
	}
}
