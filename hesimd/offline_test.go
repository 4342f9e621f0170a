package hesimd

import (
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/ring"
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

// TestOnlineQuad checks degree 2 with the first answer offline
// (PrecomputeQuad) against the plain reference on random inputs with edge
// values (0 and P − 1 in every argument), at three prime widths: offline
// the client uploads Enc(ρ) only and keeps α with α + r1 = a·ρ; online it
// sends d and receives one answer, and the shares sum to a·x² + b·x + c; a
// reused mask, a mask used with other quadratic coefficients and a
// coefficient ≥ P are refused.
func TestOnlineQuad(t *testing.T) {
	for _, pBits := range []int{20, 33, 48} {
		cl, s := session(t, pBits)
		p := s.P
		P := p.P()
		rng := rand.New(rand.NewPCG(10, uint64(pBits)))
		n := p.Slots() + 11 // two groups, the second mostly padding
		a, b, c := randVec(rng, n, P), randVec(rng, n, P), randVec(rng, n, P)
		xs, xc := randVec(rng, n, P), randVec(rng, n, P)
		for e, v := range []uint64{0, P - 1} {
			for _, vec := range [][]uint64{a, b, c, xs, xc} {
				vec[e] = v
				vec[n-1-e] = v
			}
		}
		a[2], xs[2], xc[2] = P-1, P-1, 0
		before := cl.Conn.Stats().Total()
		cm, sm := prePair(t, cl, func() (*ClientMask, error) { return cl.PrecomputeQuad(n) }, func() (*ServerMask, error) { return s.PrecomputeQuad(a) })
		k := p.chunks(n)
		off := cl.Conn.Stats().Total()
		if sent, recv := off.BytesSent-before.BytesSent, off.BytesRecv-before.BytesRecv; sent != int64(headerSize+ring.SeedSize+k*p.freshBytes()) || recv != int64(k*p.replyBytes()) {
			t.Errorf("P %d bits: offline the client sent %d B and received %d B, want %d (Enc(ρ) only) and %d (one answer per group)",
				pBits, sent, recv, headerSize+ring.SeedSize+k*p.freshBytes(), k*p.replyBytes())
		}
		zero := make([]uint64, n)
		for e := range n {
			if got, w := (cm.ans[e]+sm.r1[e])%P, want(P, 1, nil, a, zero, zero, cm.rho, e); got != w {
				t.Fatalf("P %d bits, element %d: α + r1 = %d, want a·ρ = %d", pBits, e, got, w)
			}
		}
		ys, yc, errS, errC := onlinePair(cl, s, cm, sm, a, b, c, xs, xc)
		if errS != nil || errC != nil {
			t.Fatal(errS, errC)
		}
		for e := range n {
			if got, w := (ys[e]+yc[e])%P, want(P, 2, a, b, c, xs, xc, e); got != w {
				t.Fatalf("P %d bits, element %d: y = %d, want %d", pBits, e, got, w)
			}
		}
		on := cl.Conn.Stats().Total()
		if sent, recv := on.BytesSent-off.BytesSent, on.BytesRecv-off.BytesRecv; sent != int64((n*bitsLen(P)+7)/8) || recv != int64(k*p.replyBytes()) {
			t.Errorf("P %d bits: online the client sent %d B and received %d B, want %d (d) and %d (one answer per group)",
				pBits, sent, recv, (n*bitsLen(P)+7)/8, k*p.replyBytes())
		}
		if _, err := cl.Online(cm, xc); err == nil {
			t.Error("client reused a mask")
		}
		if _, err := s.Online(sm, a, b, c, xs); err == nil {
			t.Error("server reused a mask")
		}
	}
	cl, s := session(t, 33)
	P := s.P.P()
	done := make(chan error, 1)
	_, sm := prePair(t, cl, func() (*ClientMask, error) { return cl.PrecomputeQuad(2) }, func() (*ServerMask, error) { return s.PrecomputeQuad([]uint64{1, 2}) })
	if _, err := s.Online(sm, []uint64{1, 3}, []uint64{0, 0}, []uint64{0, 0}, []uint64{0, 0}); err == nil {
		t.Error("server used a mask with other quadratic coefficients than answered")
	}
	if _, err := s.PrecomputeQuad([]uint64{P}); err == nil {
		t.Error("server accepted a coefficient ≥ P")
	}
	// A client that uploads Precompute's degree-2 query to a server
	// expecting PrecomputeQuad's: refused by the header.
	go func() {
		_, err := cl.Precompute(2, 3)
		done <- err
	}()
	if _, err := s.PrecomputeQuad([]uint64{1, 2, 3}); err == nil {
		t.Error("server accepted a degree-2 query of the other form")
	}
	<-done
}

// TestSplit checks one PrecomputeLinear batch cut into pieces of several
// sizes (an empty one, one crossing a group boundary): each piece works
// alone with its slice of the coefficients and serves once; bad sizes,
// a second split and a split of a mask without an offline answer are
// refused.
func TestSplit(t *testing.T) {
	cl, s := session(t, 33)
	P := s.P.P()
	rng := rand.New(rand.NewPCG(11, 11))
	N := s.P.Slots()
	sizes := []int{3, N, 0, 6}
	n := 3 + N + 6
	b := randVec(rng, n, P)
	b[0], b[n-1] = P-1, 0
	cm, sm := prePair(t, cl, func() (*ClientMask, error) { return cl.PrecomputeLinear(n) }, func() (*ServerMask, error) { return s.PrecomputeLinear(b) })
	for _, bad := range [][]int{{n - 1}, {n + 1}, {-1, n + 1}, {n, 1}} {
		if _, err := cm.Split(bad); err == nil {
			t.Errorf("client split %d elements into %v", n, bad)
		}
		if _, err := sm.Split(bad); err == nil {
			t.Errorf("server split %d elements into %v", n, bad)
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
	if _, err := cm.Split(sizes); err == nil {
		t.Error("client split a mask twice")
	}
	if _, err := sm.Split(sizes); err == nil {
		t.Error("server split a mask twice")
	}
	lo := 0
	for i, k := range sizes { // in reverse order of use would work too: pieces are independent
		bi := b[lo : lo+k]
		c, xs, xc := randVec(rng, k, P), randVec(rng, k, P), randVec(rng, k, P)
		ys, yc, errS, errC := onlinePair(cl, s, cms[i], sms[i], nil, bi, c, xs, xc)
		if errS != nil || errC != nil {
			t.Fatal(i, errS, errC)
		}
		for e := range k {
			if got, w := (ys[e]+yc[e])%P, want(P, 1, nil, bi, c, xs, xc, e); got != w {
				t.Fatalf("piece %d, element %d: y = %d, want %d", i, e, got, w)
			}
		}
		if _, err := cl.Online(cms[i], xc); err == nil {
			t.Errorf("client reused piece %d", i)
		}
		if _, err := s.Online(sms[i], nil, bi, c, xs); err == nil {
			t.Errorf("server reused piece %d", i)
		}
		lo += k
	}
	done := make(chan error, 1)
	go func() {
		m, err := cl.Precompute(1, 2)
		if err == nil {
			_, err = m.Split([]int{1, 1})
		}
		done <- err
	}()
	m, err := s.Precompute(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Split([]int{1, 1}); err == nil {
		t.Error("server split a mask without an offline answer")
	}
	if <-done == nil {
		t.Error("client split a mask without an offline answer")
	}
	var nilMask *ClientMask
	if _, err := nilMask.Split(nil); err == nil {
		t.Error("split of a nil mask")
	}
}
