package hesimd

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/internal/rq"
	"github.com/autorep/autorep/ring"
)

// prePair runs a precomputation on both sides (the client's in a
// goroutine; a server error closes the client's connection) and fails the
// test on an error.
func prePair(t *testing.T, cl *Client, client func() (*ClientMask, error), server func() (*ServerMask, error)) (*ClientMask, *ServerMask) {
	t.Helper()
	var cm *ClientMask
	done := make(chan error, 1)
	go func() {
		var err error
		cm, err = client()
		done <- err
	}()
	sm, err := server()
	if err != nil {
		cl.Conn.Close()
	}
	if err := errors.Join(err, <-done); err != nil {
		t.Fatal(err)
	}
	return cm, sm
}

// onlinePair runs Online on both sides of a precomputed mask pair.
func onlinePair(cl *Client, s *Server, cm *ClientMask, sm *ServerMask, a, b, c, xs, xc []uint64) (ys, yc []uint64, errS, errC error) {
	done := make(chan struct{})
	go func() {
		yc, errC = cl.Online(cm, xc)
		close(done)
	}()
	ys, errS = s.Online(sm, a, b, c, xs)
	if errS != nil {
		cl.Conn.Close()
	}
	<-done
	return
}

// TestQuadElementwise checks degree 2 with all HE offline
// (PrecomputeQuadElementwise) against the big-integer reference at three
// prime widths, with 0 and P − 1 in every operand, on a batch split into
// pieces (an empty one, one across a group boundary): offline α + r1 =
// a·ρ and β + s = u·ρ exactly; online each piece's client sends d and
// receives e (⌈log P⌉ bits each); reuse, other quadratic coefficients and
// a coefficient ≥ P are refused.
func TestQuadElementwise(t *testing.T) {
	for _, pBits := range []int{20, 33, 48} {
		cl, s := session(t, pBits)
		p := s.P
		P := p.P()
		rng := rand.New(rand.NewPCG(12, uint64(pBits)))
		N := p.Slots()
		sizes := []int{5, N, 0, 9}
		n := 5 + N + 9
		a, b, c := randVec(rng, n, P), randVec(rng, n, P), randVec(rng, n, P)
		xs, xc := randVec(rng, n, P), randVec(rng, n, P)
		for e, v := range []uint64{0, P - 1} {
			for _, vec := range [][]uint64{a, b, c, xs, xc} {
				vec[e], vec[n-1-e], vec[5+e] = v, v, v
			}
		}
		before := cl.Conn.Stats().Total()
		cm, sm := prePair(t, cl, func() (*ClientMask, error) { return cl.PrecomputeQuadElementwise(n) }, func() (*ServerMask, error) { return s.PrecomputeQuadElementwise(a) })
		off := cl.Conn.Stats().Total()
		k := p.chunks(n)
		if sent, recv := off.BytesSent-before.BytesSent, off.BytesRecv-before.BytesRecv; sent != int64(headerSize+ring.SeedSize+k*p.freshBytes()) || recv != int64(2*k*p.replyBytes()) {
			t.Errorf("P %d bits: offline the client sent %d B and received %d B, want Enc(ρ) only and two answers per group", pBits, sent, recv)
		}
		zero := make([]uint64, n)
		for e := range n {
			if got, w := (cm.ans[e]+sm.r1[e])%P, want(P, 1, nil, a, zero, zero, cm.rho, e); got != w {
				t.Fatalf("P %d bits, element %d: α + r1 = %d, want a·ρ = %d", pBits, e, got, w)
			}
			if got, w := (cm.ans2[e]+sm.s[e])%P, want(P, 1, nil, sm.u, zero, zero, cm.rho, e); got != w {
				t.Fatalf("P %d bits, element %d: β + s = %d, want u·ρ = %d", pBits, e, got, w)
			}
		}
		cms, err := cm.Split(sizes)
		if err != nil {
			t.Fatal(err)
		}
		sms, err := sm.Split(sizes)
		if err != nil {
			t.Fatal(err)
		}
		lo := 0
		w := uint(bitsLen(P))
		for i, m := range sizes {
			sl := func(v []uint64) []uint64 { return v[lo : lo+m] }
			t0 := cl.Conn.Stats().Total()
			ys, yc, errS, errC := onlinePair(cl, s, cms[i], sms[i], sl(a), sl(b), sl(c), sl(xs), sl(xc))
			if errS != nil || errC != nil {
				t.Fatal(pBits, i, errS, errC)
			}
			for e := range m {
				if got, w := (ys[e]+yc[e])%P, want(P, 2, a, b, c, xs, xc, lo+e); got != w {
					t.Fatalf("P %d bits, piece %d, element %d: y = %d, want %d", pBits, i, e, got, w)
				}
			}
			t1 := cl.Conn.Stats().Total()
			if sent, recv := t1.BytesSent-t0.BytesSent, t1.BytesRecv-t0.BytesRecv; sent != int64(rq.SegBytes(m, w)) || recv != sent {
				t.Errorf("P %d bits, piece %d: online the client sent %d B and received %d B, want %d each (d, e)", pBits, i, sent, recv, rq.SegBytes(m, w))
			}
			if _, err := cl.Online(cms[i], sl(xc)); err == nil {
				t.Errorf("client reused piece %d", i)
			}
			if _, err := s.Online(sms[i], sl(a), sl(b), sl(c), sl(xs)); err == nil {
				t.Errorf("server reused piece %d", i)
			}
			lo += m
		}
	}
	cl, s := session(t, 33)
	P := s.P.P()
	done := make(chan error, 1)
	_, sm := prePair(t, cl, func() (*ClientMask, error) { return cl.PrecomputeQuadElementwise(2) }, func() (*ServerMask, error) { return s.PrecomputeQuadElementwise([]uint64{1, 2}) })
	if _, err := s.Online(sm, []uint64{1, 3}, []uint64{0, 0}, []uint64{0, 0}, []uint64{0, 0}); err == nil {
		t.Error("server used a mask with other quadratic coefficients than answered")
	}
	if _, err := s.PrecomputeQuadElementwise([]uint64{P}); err == nil {
		t.Error("server accepted a coefficient ≥ P")
	}
	// A client mask whose e arrives out of range or short: an error.
	for _, msg := range [][]byte{{0xff, 0xff, 0xff, 0xff, 0xff}, {0, 0, 0}} {
		cm := &ClientMask{deg: 2, n: 1, rho: []uint64{1}, ans: []uint64{1}, ans2: []uint64{1}, form: preElem}
		go func() { // the server's side: d read and dropped
			_, err := s.Conn.Recv()
			done <- err
		}()
		go s.Conn.Send(msg)
		if _, err := cl.Online(cm, []uint64{1}); err == nil {
			t.Errorf("client accepted e = %x", msg)
		}
		<-done
	}
}

// TestDegree2Bytes checks Degree2Bytes against the traffic of both forms
// run on the same sizes: PrecomputeQuad and Online per size, and one
// PrecomputeQuadElementwise batch split into the sizes.
func TestDegree2Bytes(t *testing.T) {
	cl, s := session(t, 33)
	p := s.P
	P := p.P()
	N := p.Slots()
	sizes := []int{3, N + 1, 0, 2*N - 5}
	wantStep, wantBatch := p.Degree2Bytes(sizes)
	rng := rand.New(rand.NewPCG(13, 13))
	total := func() int64 { return cl.Conn.Stats().Total().Bytes() }
	t0 := total()
	for _, m := range sizes {
		if m == 0 {
			continue // the per-step form skips empty steps
		}
		a := randVec(rng, m, P)
		cm, sm := prePair(t, cl, func() (*ClientMask, error) { return cl.PrecomputeQuad(m) }, func() (*ServerMask, error) { return s.PrecomputeQuad(a) })
		v := randVec(rng, m, P)
		if _, _, errS, errC := onlinePair(cl, s, cm, sm, a, v, v, v, v); errS != nil || errC != nil {
			t.Fatal(errS, errC)
		}
	}
	t1 := total()
	n := 0
	for _, m := range sizes {
		n += m
	}
	a := randVec(rng, n, P)
	cm, sm := prePair(t, cl, func() (*ClientMask, error) { return cl.PrecomputeQuadElementwise(n) }, func() (*ServerMask, error) { return s.PrecomputeQuadElementwise(a) })
	cms, _ := cm.Split(sizes)
	sms, _ := sm.Split(sizes)
	lo := 0
	for i, m := range sizes {
		v := randVec(rng, m, P)
		if _, _, errS, errC := onlinePair(cl, s, cms[i], sms[i], a[lo:lo+m], v, v, v, v); errS != nil || errC != nil {
			t.Fatal(errS, errC)
		}
		lo += m
	}
	t2 := total()
	if t1-t0 != int64(wantStep) || t2-t1 != int64(wantBatch) {
		t.Errorf("per step %d B, batch %d B; Degree2Bytes %d and %d", t1-t0, t2-t1, wantStep, wantBatch)
	}
}
