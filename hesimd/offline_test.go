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
