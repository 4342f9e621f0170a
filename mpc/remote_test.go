package mpc_test

import (
	"sync"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// remotePair serves a fresh hub session to two RemoteProviders over pipes.
func remotePair(t *testing.T, seed byte) (p0, p1 *mpc.RemoteProvider, wait func()) {
	var sd ring.Seed
	sd[0] = seed
	h := mpc.NewHub(mpc.NewDealer(sd))
	var wg sync.WaitGroup
	var provs [2]*mpc.RemoteProvider
	var dconns [2]transport.Conn
	for p := range 2 {
		a, b := transport.Pipe()
		dconns[p] = a
		provs[p] = mpc.NewRemoteProvider(b, mpc.Party(p))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := mpc.ServeParty(h, mpc.Party(p), a); err != nil {
				t.Error(err)
			}
		}()
	}
	t.Cleanup(func() {
		for _, c := range dconns {
			c.Close()
		}
		wg.Wait()
	})
	return provs[0], provs[1], wg.Wait
}

func TestRemoteDealer(t *testing.T) {
	r0, r1, _ := remotePair(t, 70)
	spec := mpc.ActSpec{N: 1, C: 2, HW: 9, ReLU: mpc.MaskOf([]bool{true, false, true, true, false, true, true, true, false, true, true, false, true, true, true, false, true, true})}
	lin := mpc.LinearSpec{N: 1, C: 1, H: 3, W: 3, K: 2, R: 3, S: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, Groups: 1}
	w := randSigned(lin.WLen(), 14, 71)
	x := randSigned(lin.XLen(), frac+1, 72)
	co := polyCoefs(2)
	c0, c1 := transport.Pipe()
	conns := [2]transport.Conn{c0, c1}
	bp := [2]*mpc.Buffered{mpc.NewBuffered(r0), mpc.NewBuffered(r1)}
	var outs [2][]uint64
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(err error) { t.Error(err); conns[p].Close() }
			s, _ := mpc.NewSession(mpc.Party(p), conns[p], bp[p], frac)
			var ww, in []uint64
			var cc [][]float64
			if p == 0 {
				ww, cc = w, co
			} else {
				in = x
			}
			k, err := s.SetupLinear("conv", lin, ww, nil)
			if err != nil {
				fail(err)
				return
			}
			pk, err := s.SetupPoly("act", 2, cc)
			if err != nil {
				fail(err)
				return
			}
			// Offline: one pipelined batch; online: nothing from the dealer.
			reqs := append(linearNeeds(k), actNeeds(t, s, "act", "act", spec)...)
			if err := bp[p].Prefetch(reqs...); err != nil {
				fail(err)
				return
			}
			before := bp[p].Offline()
			h, _ := s.ShareInput(in, len(x))
			if h, err = s.Linear(k, h); err != nil {
				fail(err)
				return
			}
			if h, err = s.Act("act", pk, spec, h); err != nil {
				fail(err)
				return
			}
			if bp[p].Offline().Items != before.Items {
				t.Errorf("%v: online dealer traffic", mpc.Party(p))
			}
			outs[p] = h
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	got := make([]uint64, len(outs[0]))
	ring.AddVec(got, outs[0], outs[1])
	closeVec(t, "remote", got, actRef(spec, co, refConv(lin, w, x)), 1)
	if r0.Offline().Bytes == 0 || r1.Offline().Bytes == 0 {
		t.Error("no material bytes counted")
	}

	// A refused request is an error and the connection stays usable.
	if _, err := r0.Get(mpc.Request{Kind: mpc.KindReLU, Label: "z", N: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := r1.Get(mpc.Request{Kind: mpc.KindReLU, Label: "z", N: 4}); err == nil {
		t.Error("mismatched request served")
	}
	if _, err := r1.GetMany([]mpc.Request{{Kind: mpc.KindSquare, Label: "q", N: 2}}); err != nil {
		t.Errorf("connection unusable after a refused request: %v", err)
	}
}

func TestRemoteProviderRejectsBadReplies(t *testing.T) {
	for name, reply := range map[string][]byte{
		"empty":     {},
		"status":    {7, 1, 2},
		"garbage":   {0, 1, 2, 3},
		"truncated": nil, // filled below
	} {
		var sd ring.Seed
		req := mpc.Request{Kind: mpc.KindTriple, Label: "m", N: 5}
		if reply == nil {
			m, _, _ := mpc.NewDealer(sd).Generate(req, 0)
			b, _ := m.MarshalBinary()
			reply = append([]byte{0}, b[:len(b)-3]...)
		}
		a, b := transport.Pipe()
		go func() {
			if _, err := a.Recv(); err == nil {
				a.Send(reply)
			}
		}()
		if _, err := mpc.NewRemoteProvider(b, mpc.Server).Get(req); err == nil {
			t.Errorf("%s reply accepted", name)
		}
		a.Close()
		b.Close()
	}
	// A dealer that hangs up.
	a, b := transport.Pipe()
	a.Close()
	if _, err := mpc.NewRemoteProvider(b, mpc.Client).Get(mpc.Request{Kind: mpc.KindSquare, Label: "s", N: 1}); err == nil {
		t.Error("closed dealer connection accepted")
	}
	// ServeParty answers garbage requests with an error reply.
	var sd ring.Seed
	h := mpc.NewHub(mpc.NewDealer(sd))
	c, d := transport.Pipe()
	done := make(chan error, 1)
	go func() { done <- mpc.ServeParty(h, mpc.Client, c) }()
	d.Send([]byte("not a request"))
	rep, err := d.Recv()
	if err != nil || len(rep) == 0 || rep[0] != 1 {
		t.Errorf("garbage request: reply %q, %v", rep, err)
	}
	d.Close()
	if err := <-done; err != nil {
		t.Errorf("ServeParty after the peer closed: %v", err)
	}
}
