package helinear

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/internal/privacytest"
	"github.com/autorep/autorep/internal/rq"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// TestOffline runs convolutions and a fully connected layer through the
// offline/online split: shares exact against the ring kernels, the online
// step one message of ℓ bits an input element up and nothing down, a
// second use of a precomputed layer and bad input refused.
func TestOffline(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, ell := range []uint{37, 64} {
		s, cl := pair(t, ell)
		for _, p := range []ring.ConvParams{
			{N: 1, C: 16, H: 32, W: 32, K: 32, R: 3, S: 3, PadH: 1, PadW: 1, StrideH: 2, StrideW: 2},
			{N: 2, C: 3, H: 9, W: 7, K: 4, R: 3, S: 2, PadH: 1, Groups: 1},
		} {
			w, bias := randVec(rng, p.WLen()), randVec(rng, p.K)
			var sp *ServerPre
			var cp *ClientPre
			if _, _, err := both(func() ([]uint64, error) { var err error; sp, err = s.PrecomputeConv2d(p, w); return nil, err },
				func() ([]uint64, error) { var err error; cp, err = cl.PrecomputeConv2d(p); return nil, err }); err != nil {
				t.Fatal(err)
			}
			x, xs, xc := sharedVec(rng, p.XLen())
			want := make([]uint64, p.YLen())
			if err := ring.Conv2d(p, x, w, want); err != nil {
				t.Fatal(err)
			}
			plane := p.OutH() * p.OutW()
			for i := range want {
				want[i] += bias[i/plane%p.K]
			}
			st0 := cl.Conn.Stats().Total()
			ys, yc, err := both(func() ([]uint64, error) { return s.Online(sp, w, bias, xs) },
				func() ([]uint64, error) { return cl.Online(cp, xc) })
			if err != nil {
				t.Fatal(err)
			}
			checkShares(t, "online conv", ell, ys, yc, want)
			st1 := cl.Conn.Stats().Total()
			if up, down, msgs := st1.BytesSent-st0.BytesSent, st1.BytesRecv-st0.BytesRecv, st1.MsgsSent-st0.MsgsSent; up != int64(rq.SegBytes(p.XLen(), ell)) || down != 0 || msgs != 1 {
				t.Errorf("online: %d B up in %d messages, %d B down; want %d B in one message, nothing down", up, msgs, down, rq.SegBytes(p.XLen(), ell))
			}
			if _, err := cl.Online(cp, xc); !errors.Is(err, errUsed) {
				t.Errorf("client reusing a precomputed layer: err = %v", err)
			}
			if _, err := s.Online(sp, w, bias, xs); !errors.Is(err, errUsed) {
				t.Errorf("server reusing a precomputed layer: err = %v", err)
			}
		}
		// Fully connected, and a masked input of the wrong size.
		batch, in, out := 2, 64, 10
		w := randVec(rng, in*out)
		var sp *ServerPre
		var cp *ClientPre
		if _, _, err := both(func() ([]uint64, error) { var err error; sp, err = s.PrecomputeFC(batch, in, out, w); return nil, err },
			func() ([]uint64, error) { var err error; cp, err = cl.PrecomputeFC(batch, in, out); return nil, err }); err != nil {
			t.Fatal(err)
		}
		x, xs, xc := sharedVec(rng, batch*in)
		want := make([]uint64, batch*out)
		if err := ring.MatMulTransB(batch, out, in, x, w, want); err != nil {
			t.Fatal(err)
		}
		ys, yc, err := both(func() ([]uint64, error) { return s.Online(sp, w, nil, xs) },
			func() ([]uint64, error) { return cl.Online(cp, xc) })
		if err != nil {
			t.Fatal(err)
		}
		checkShares(t, "online fc", ell, ys, yc, want)
		if _, err := cl.Online(&ClientPre{sh: cp.sh, r: cp.r, y: cp.y}, xc[1:]); err == nil {
			t.Error("client online with a short input: no error")
		}
		sp2 := &ServerPre{sh: sp.sh, y: sp.y}
		go func() { _ = cl.Conn.Send(make([]byte, rq.SegBytes(batch*in, ell)+1)) }()
		if _, err := s.Online(sp2, w, nil, xs); err == nil {
			t.Error("server online with a long masked input: no error")
		}
	}
}

// TestOfflineUniform checks the server's online view: the masked input
// d = x_c − r is uniform even for an all-zero client share.
func TestOfflineUniform(t *testing.T) {
	const ell, in = 64, 2048
	var rec *privacytest.Recorder
	s, cl := pairWith(t, func() (*Params, error) { return NewParams(ell) },
		func(c transport.Conn) transport.Conn { rec = privacytest.NewRecorder(c); return rec })
	w := make([]uint64, in)
	var sp *ServerPre
	var cp *ClientPre
	if _, _, err := both(func() ([]uint64, error) { var err error; sp, err = s.PrecomputeFC(1, in, 1, w); return nil, err },
		func() ([]uint64, error) { var err error; cp, err = cl.PrecomputeFC(1, in, 1); return nil, err }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := both(func() ([]uint64, error) { return s.Online(sp, w, nil, make([]uint64, in)) },
		func() ([]uint64, error) { return cl.Online(cp, make([]uint64, in)) }); err != nil {
		t.Fatal(err)
	}
	msgs := rec.Messages(0)
	d := make([]uint64, in)
	rq.UnpackSeg(msgs[len(msgs)-1], d, ell)
	privacytest.Uniform(t, "masked online input", d)
}
