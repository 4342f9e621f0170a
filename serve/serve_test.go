package serve

import (
	"testing"
	"time"
)

func TestEndToEnd(t *testing.T) {
	plan := loadPlan(t)
	d, _ := startDealer(t, "127.0.0.1:0", insecure)
	defer d.stop(t)
	srv, s := startServer(t, plan, d.addr, 1, insecure, insecure)
	defer srv.stop(t)
	ctx, cancel := testCtx(t)
	defer cancel()
	sess, err := Dial(ctx, ClientConfig{Server: srv.addr, TrustServerDealer: true, Dial: dialer(insecure), Pool: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		x := randImage(int64(i), plan.Public.Input)
		r, err := sess.Infer(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		if want := fixedLabel(t, plan, x); r.Label != want {
			t.Errorf("image %d: private label %d, fixed-point label %d", i, r.Label, want)
		}
		t.Logf("image %d: label %d online %v offline %v bytes %d rounds %d material %d", i, r.Label, r.Stats.OnlineTime, r.Stats.OfflineTime, r.Stats.Online.Bytes(), r.Stats.Online.Rounds, r.Material)
	}
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("connect %+v; server %+v", sess.Connect, s.Stats())
}

// TestGracefulShutdown: after the server's context ends, new clients are
// refused, an in-flight session may finish within the grace period, and a
// session still open after it is cancelled; Serve then returns.
func TestGracefulShutdown(t *testing.T) {
	plan := loadPlan(t)
	base := runtimeGoroutines()
	d, _ := startDealer(t, "127.0.0.1:0", insecure)
	ctx, cancel := testCtx(t)
	defer cancel()
	for _, grace := range []time.Duration{10 * time.Second, 200 * time.Millisecond} {
		srv, _ := startServer(t, plan, d.addr, 0, insecure, insecure, func(s *Server) { s.Grace = grace })
		sess, err := Dial(ctx, ClientConfig{Server: srv.addr, TrustServerDealer: true, Dial: dialer(insecure)})
		if err != nil {
			t.Fatal(err)
		}
		srv.cancel()
		time.Sleep(50 * time.Millisecond)
		if _, err := Dial(ctx, ClientConfig{Server: srv.addr, TrustServerDealer: true, Dial: dialer(insecure)}); err == nil {
			t.Error("a new session was accepted after shutdown began")
		}
		if grace > time.Second {
			x := randImage(11, plan.Public.Input)
			r, err := sess.Infer(ctx, x)
			if err != nil {
				t.Fatalf("in-flight session cut during the grace period: %v", err)
			}
			if want := fixedLabel(t, plan, x); r.Label != want {
				t.Errorf("label %d, want %d", r.Label, want)
			}
			sess.Close()
		} else {
			time.Sleep(2 * grace)
			if _, err := sess.Infer(ctx, randImage(12, plan.Public.Input)); err == nil {
				t.Error("session still served after the grace period")
			}
			sess.Close()
		}
		select {
		case err := <-srv.done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("Serve did not return after shutdown")
		}
	}
	d.stop(t)
	settleGoroutines(t, base)
}
