package hesimd

import (
	"math/rand/v2"
	"testing"
)

// TestOnline checks the offline/online split: two masks precomputed, then
// used in order, give the same function as Quad; a used mask, a wrong
// length and a masked input ≥ P are refused.
func TestOnline(t *testing.T) {
	cl, s := session(t, 40)
	P := s.P.P()
	rng := rand.New(rand.NewPCG(8, 8))
	n := s.P.Slots() + 5
	type job struct {
		deg        int
		a, b, c, x []uint64
		xc         []uint64
	}
	var jobs []job
	var cms []*ClientMask
	var sms []*ServerMask
	for _, deg := range []int{2, 1} {
		j := job{deg: deg, b: randVec(rng, n, P), c: randVec(rng, n, P), x: randVec(rng, n, P), xc: randVec(rng, n, P)}
		if deg == 2 {
			j.a = randVec(rng, n, P)
		}
		j.x[0], j.xc[0], j.b[1] = P-1, P-1, P-1
		jobs = append(jobs, j)
		done := make(chan error, 1)
		go func() {
			m, err := cl.Precompute(deg, n)
			cms = append(cms, m)
			done <- err
		}()
		sm, err := s.Precompute(deg, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		sms = append(sms, sm)
	}
	for i, j := range jobs {
		var yc []uint64
		var errC error
		done := make(chan struct{})
		go func() {
			yc, errC = cl.Online(cms[i], j.xc)
			close(done)
		}()
		ys, errS := s.Online(sms[i], j.a, j.b, j.c, j.x)
		<-done
		if errS != nil || errC != nil {
			t.Fatal(errS, errC)
		}
		for e := range n {
			if got, w := (ys[e]+yc[e])%P, want(P, j.deg, j.a, j.b, j.c, j.x, j.xc, e); got != w {
				t.Fatalf("deg %d: element %d: y = %d, want %d", j.deg, e, got, w)
			}
		}
	}
	if _, err := cl.Online(cms[0], jobs[0].xc); err == nil {
		t.Error("client reused a mask")
	}
	if _, err := s.Online(sms[1], nil, jobs[1].b, jobs[1].c, jobs[1].x); err == nil {
		t.Error("server reused a mask")
	}
	if _, err := cl.Online(&ClientMask{deg: 1, n: 3, rho: make([]uint64, 3)}, make([]uint64, 2)); err == nil {
		t.Error("client accepted a wrong length")
	}
	// A masked input ≥ P, and one of the wrong size.
	for _, msg := range [][]byte{{0xff, 0xff, 0xff, 0xff, 0xff}, {0, 0, 0, 0}} {
		go cl.Conn.Send(msg)
		sm := &ServerMask{deg: 1, n: 1}
		if _, err := s.Online(sm, nil, []uint64{1}, []uint64{1}, []uint64{1}); err == nil {
			t.Errorf("server accepted masked input %x", msg)
		}
	}
}

// TestOnlineLinear checks the degree-1 answer computed offline
// (PrecomputeLinear): the client's stored answer plus the server's share
// is b·ρ mod P exactly; online the client sends d only (⌈log P⌉ bits an
// element, nothing back) and the shares sum to b·x + c; a reused mask, a
// mask used with other coefficients and a coefficient ≥ P are refused.
func TestOnlineLinear(t *testing.T) {
	cl, s := session(t, 40)
	P := s.P.P()
	rng := rand.New(rand.NewPCG(9, 9))
	n := s.P.Slots() + 7 // two ciphertexts, the second partly padding
	b, c := randVec(rng, n, P), randVec(rng, n, P)
	xs, xc := randVec(rng, n, P), randVec(rng, n, P)
	b[0], xs[1], xc[1] = P-1, P-1, P-1
	var cm *ClientMask
	done := make(chan error, 1)
	go func() {
		var err error
		cm, err = cl.PrecomputeLinear(n)
		done <- err
	}()
	sm, err := s.PrecomputeLinear(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	zero := make([]uint64, n)
	for e := range n {
		if got, w := (cm.ans[e]+sm.s[e])%P, want(P, 1, nil, b, zero, zero, cm.rho, e); got != w {
			t.Fatalf("element %d: offline answer + s = %d, want b·ρ = %d", e, got, w)
		}
	}
	before := cl.Conn.Stats().Total()
	var yc []uint64
	var errC error
	go func() {
		yc, errC = cl.Online(cm, xc)
		done <- nil
	}()
	ys, errS := s.Online(sm, nil, b, c, xs)
	<-done
	if errS != nil || errC != nil {
		t.Fatal(errS, errC)
	}
	for e := range n {
		if got, w := (ys[e]+yc[e])%P, want(P, 1, nil, b, c, xs, xc, e); got != w {
			t.Fatalf("element %d: y = %d, want %d", e, got, w)
		}
	}
	on := cl.Conn.Stats().Total()
	if sent, recv := on.BytesSent-before.BytesSent, on.BytesRecv-before.BytesRecv; sent != int64((n*bitsLen(P)+7)/8) || recv != 0 {
		t.Errorf("online: client sent %d B and received %d B, want %d B (d at %d bits) and none", sent, recv, (n*bitsLen(P)+7)/8, bitsLen(P))
	}
	if _, err := cl.Online(cm, xc); err == nil {
		t.Error("client reused a mask")
	}
	if _, err := s.Online(sm, nil, b, c, xs); err == nil {
		t.Error("server reused a mask")
	}
	// A mask answered for b, used with other coefficients (the masked
	// input is never read: the check comes first).
	go func() {
		_, err := cl.PrecomputeLinear(2)
		done <- err
	}()
	sm2, err := s.PrecomputeLinear([]uint64{1, 2})
	if err != nil || <-done != nil {
		t.Fatal(err)
	}
	if _, err := s.Online(sm2, nil, []uint64{1, 3}, []uint64{0, 0}, []uint64{0, 0}); err == nil {
		t.Error("server used a mask with other coefficients than answered")
	}
	if _, err := s.PrecomputeLinear([]uint64{P}); err == nil {
		t.Error("server accepted a coefficient ≥ P")
	}
}
