package mpc_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/transport"
)

// TestPreopenAct: dense → mixed activation → dense → reveal with the
// activation's client half opened offline gives the same logits as the
// plain run and costs 8 B per activation position online (server →
// client only), with the same rounds.
func TestPreopenAct(t *testing.T) {
	const in, hid, out = 12, 16, 3
	p1, p2 := corr.DenseSpec(1, in, hid), corr.DenseSpec(1, hid, out)
	w1, w2 := randSigned(p1.WLen(), 14, 130), randSigned(p2.WLen(), 14, 131)
	spec := corr.ActSpec{N: 1, C: hid, HW: 1, ReLU: maskWhere(hid, func(i int) bool { return i%3 == 0 })}
	co := polyCoefs(hid)
	x := randSigned(in, frac+1, 132)
	net := func(pre bool) [2]result {
		return run2(t, 70, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
			var a, b, xin []uint64
			var c [][]float64
			if s.Party == mpc.Server {
				a, b, c = w1, w2, co
			} else {
				xin = x
			}
			transport.SetPhase(s.Conn, transport.PhaseOffline)
			k1, err := s.SetupLinear(src, "fc1", p1, a, nil)
			if err != nil {
				return nil, err
			}
			k2, err := s.SetupLinear(src, "fc2", p2, b, nil)
			if err != nil {
				return nil, err
			}
			pk, err := s.SetupPoly(src, "act", hid, c)
			if err != nil {
				return nil, err
			}
			if pre {
				if err := s.PreopenAct(src, k1, "act", pk, spec); err != nil {
					return nil, err
				}
				if err := s.PreopenAct(src, k1, "act", pk, spec); err == nil {
					t.Error("a second PreopenAct of the same layer accepted")
				}
			}
			s.Conn.Stats().Reset()
			transport.SetPhase(s.Conn, transport.PhaseOnline)
			h, _ := s.ShareInput(xin, in)
			if h, err = s.Linear(src, k1, h); err != nil {
				return nil, err
			}
			if h, err = s.Act(src, "act", pk, spec, h); err != nil {
				return nil, err
			}
			if h, err = s.Linear(src, k2, h); err != nil {
				return nil, err
			}
			return s.RevealToClient("out", h)
		})
	}
	plain, pre := net(false), net(true)
	if !slices.Equal(plain[1].Out, pre[1].Out) {
		t.Fatalf("preopened logits %v, plain %v", pre[1].Out, plain[1].Out)
	}
	want := refConv(p2, w2, actRef(spec, co, refConv(p1, w1, x)))
	closeVec(t, "preopened logits", pre[1].Out, want, 8<<14)
	checkCost(t, plain, 8*in+16*hid+8*hid+8*out, 2, 2)
	// Client: [x−R], [x₂−R₂]; server: [act opening], [reveal].
	checkCost(t, pre, 8*in+8*hid+8*hid+8*out, 2, 2)
}

// TestPreopenActMisuse: a client input that is not the prepared linear
// output, or a different spec, is an error.
func TestPreopenActMisuse(t *testing.T) {
	p := corr.DenseSpec(1, 4, 4)
	w := randSigned(p.WLen(), 14, 140)
	spec := corr.ActSpec{N: 1, C: 4, HW: 1, ReLU: corr.MaskOf([]bool{true, true, true, true})}
	run2(t, 71, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
		var a []uint64
		if s.Party == mpc.Server {
			a = w
		}
		k, err := s.SetupLinear(src, "fc", p, a, nil)
		if err != nil {
			return nil, err
		}
		if err := s.PreopenAct(src, k, "act", nil, corr.ActSpec{N: 1, C: 5, HW: 1, ReLU: corr.MaskOf(make([]bool, 5))}); err == nil {
			t.Error("activation of another size than the linear output accepted")
		}
		if err := s.PreopenAct(src, k, "act", nil, spec); err != nil {
			return nil, err
		}
		if s.Party == mpc.Client {
			if _, err := s.Act(src, "act", nil, spec, make([]uint64, 4)); err == nil {
				t.Error("client input other than the preopened share accepted")
			}
		}
		return nil, nil
	})
}

// TestPreopenMessageIndependentOfInput: the client's preopen message is
// sent before the input exists, so two runs with the same dealer seed and
// weights but different client inputs send the server byte-identical
// offline messages, while their online messages differ (the server's view
// of the opening carries the input only through the online half).
func TestPreopenMessageIndependentOfInput(t *testing.T) {
	const in, hid = 16, 24
	p := corr.DenseSpec(1, in, hid)
	w := randSigned(p.WLen(), 14, 150)
	spec := corr.ActSpec{N: 1, C: hid, HW: 1, ReLU: maskWhere(hid, func(i int) bool { return i%2 == 0 })}
	co := polyCoefs(hid)
	// views returns the messages the server received offline and online.
	views := func(x []uint64) (off, on [][]byte) {
		var nOff int
		r := run2rec(t, 72, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
			var a, xin []uint64
			var c [][]float64
			if s.Party == mpc.Server {
				a, c = w, co
			} else {
				xin = x
			}
			k, err := s.SetupLinear(src, "fc", p, a, nil)
			if err != nil {
				return nil, err
			}
			pk, err := s.SetupPoly(src, "act", hid, c)
			if err != nil {
				return nil, err
			}
			if err := s.PreopenAct(src, k, "act", pk, spec); err != nil {
				return nil, err
			}
			if s.Party == mpc.Server {
				nOff = s.Conn.(interface{ Len() int }).Len()
			}
			h, err := s.ShareInput(xin, in)
			if err == nil {
				h, err = s.Linear(src, k, h)
			}
			if err == nil {
				h, err = s.Act(src, "act", pk, spec, h)
			}
			if err != nil {
				return nil, err
			}
			return s.RevealToClient("out", h)
		})
		msgs := r[0].Rec.Messages(0)
		if nOff == 0 || nOff >= len(msgs) {
			t.Fatalf("server received %d messages, %d of them before the input", len(msgs), nOff)
		}
		return msgs[:nOff], msgs[nOff:]
	}
	off1, on1 := views(make([]uint64, in))
	off2, on2 := views(randSigned(in, frac+4, 151))
	if len(off1) != len(off2) {
		t.Fatalf("offline messages: %d and %d", len(off1), len(off2))
	}
	for i := range off1 {
		if !bytes.Equal(off1[i], off2[i]) {
			t.Fatalf("offline message %d differs between two inputs", i)
		}
	}
	same := len(on1) == len(on2)
	for i := 0; same && i < len(on1); i++ {
		same = bytes.Equal(on1[i], on2[i])
	}
	if same {
		t.Fatal("online messages equal for two inputs: the harness does not see the input")
	}
}
