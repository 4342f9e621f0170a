package serve

import (
	"fmt"
	"testing"
)

// TestTwoPartyEndToEnd: a twoparty server and a client with no dealer
// anywhere; private labels equal the fixed-point executor's, over TLS,
// with a client that does not trust any server-chosen dealer (none is
// needed).
func TestTwoPartyEndToEnd(t *testing.T) {
	plan := twoPartyPlan(t)
	srvCfg, cliCfg := tlsPair(t, t.TempDir())
	srv, s := startTwoParty(t, plan, srvCfg)
	defer srv.stop(t)
	ctx, cancel := testCtx(t)
	defer cancel()
	sess, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(cliCfg)})
	if err != nil {
		t.Fatal(err)
	}
	if sess.Suite != suiteTwoParty || sess.DealerAddr != "" || sess.prov != nil || sess.Connect.Material != 0 || sess.Connect.Bytes <= 0 {
		t.Errorf("session suite %q, dealer %q, connect %+v", sess.Suite, sess.DealerAddr, sess.Connect)
	}
	for i := range 2 {
		x := randImage(int64(40+i), plan.Public.Input)
		r, err := sess.Infer(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		if want := fixedLabel(t, plan, x); r.Label != want {
			t.Errorf("image %d: private label %d, fixed-point label %d", i, r.Label, want)
		}
		if r.Material != 0 || r.Stats.Online.Bytes() <= 0 || r.Stats.Online.Rounds <= 0 {
			t.Errorf("image %d: material %d, online %d B in %d rounds", i, r.Material, r.Stats.Online.Bytes(), r.Stats.Online.Rounds)
		}
		t.Logf("image %d: label %d online %v offline %v bytes %d rounds %d", i, r.Label, r.Stats.OnlineTime, r.Stats.OfflineTime, r.Stats.Online.Bytes(), r.Stats.Online.Rounds)
	}
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(func() bool { return s.Stats().Active == 0 })
	if st := s.Stats(); st.Sessions != 1 || st.Inferences != 2 || st.Failed != 0 || st.Pooled != 0 {
		t.Errorf("server stats %+v, want 1 session, 2 inferences", st)
	}
	t.Logf("connect %+v", sess.Connect)
}

// TestTwoPartyFaults: hostile bytes, malformed hellos, a wrong hash and
// clients vanishing during setup or mid-inference leave a twoparty server
// serving the next honest client, with no goroutine left behind.
func TestTwoPartyFaults(t *testing.T) {
	skipShortTwoParty(t)
	plan := twoPartyPlan(t)
	base := runtimeGoroutines()
	slog := &logSink{t: t}
	srv, s := startTwoParty(t, plan, insecure, func(s *Server) { s.Logf = slog.logf })
	ctx, cancel := testCtx(t)
	defer cancel()
	peerFaults(t, ctx, srv.addr, s, slog)
	srv.stop(t)
	settleGoroutines(t, base)
}

// TestTwoPartyConcurrentClients: three clients at once against one
// twoparty server over TLS (the all-ReLU LeNet, the suite's cheapest
// model); every label equals the fixed-point executor's.
func TestTwoPartyConcurrentClients(t *testing.T) {
	skipShortTwoParty(t)
	plan := loadPlanSuite(t, baseModel, suiteTwoParty)
	base := runtimeGoroutines()
	srvCfg, cliCfg := tlsPair(t, t.TempDir())
	srv, s := startTwoParty(t, plan, srvCfg)
	ctx, cancel := testCtx(t)
	defer cancel()
	const clients = 3
	errs := make(chan error, clients)
	for c := range clients {
		go func() {
			sess, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(cliCfg), Suite: suiteTwoParty})
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", c, err)
				return
			}
			defer sess.Close()
			x := randImage(int64(200+c), plan.Public.Input)
			r, err := sess.Infer(ctx, x)
			if err == nil && r.Label != fixedLabel(t, plan, x) {
				err = fmt.Errorf("label %d, want %d", r.Label, fixedLabel(t, plan, x))
			}
			if err != nil {
				err = fmt.Errorf("client %d: %w", c, err)
			}
			errs <- err
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	eventually(func() bool { return s.Stats().Active == 0 })
	if st := s.Stats(); st.Sessions != clients || st.Inferences != clients || st.Failed != 0 {
		t.Errorf("server stats %+v", st)
	}
	srv.stop(t)
	settleGoroutines(t, base)
}

// skipShortTwoParty skips a test of many twoparty sessions under -short:
// the -race pass (make test-race) runs with -short, and there one
// twoparty inference takes most of a minute, so these tests alone took
// over 7 minutes. The plain pass runs them; TestTwoPartyEndToEnd keeps
// the suite's service path under the race detector.
func skipShortTwoParty(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: many twoparty sessions take minutes under the race detector; the plain pass runs this test")
	}
}
