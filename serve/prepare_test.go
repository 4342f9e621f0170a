package serve

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/transport"
	"github.com/autorep/autorep/transport/transporttest"
)

// TestTwoPartyPrepare: with Pool 1 the twoparty session prepares its first
// inference when it opens, and Prepare between inferences prepares the
// next: those inferences' offline traffic is the request message alone
// (Stats.Prepared on both sides) and their Result.Prepare carries the
// offline phase run ahead; an inference not prepared runs its own; the
// labels equal the fixed-point executor's; the reports carry both
// phases. A session closed with a prepared inference held ends cleanly.
func TestTwoPartyPrepare(t *testing.T) {
	plan := loadPlanSuite(t, baseModel, suiteTwoParty)
	var mu sync.Mutex
	var served []pi.Stats
	srv, s := startTwoParty(t, plan, insecure, func(s *Server) {
		s.OnInference = func(st pi.Stats) { mu.Lock(); served = append(served, st); mu.Unlock() }
	})
	defer srv.stop(t)
	ctx, cancel := testCtx(t)
	defer cancel()
	sess, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), Pool: 1})
	if err != nil {
		t.Fatal(err)
	}
	var tot Totals
	for i, prepared := range []bool{true, true, false} {
		if i == 1 {
			if err := sess.Prepare(ctx); err != nil {
				t.Fatal(err)
			}
			if err := sess.Prepare(ctx); err != nil { // one held: nothing to do
				t.Fatal(err)
			}
		}
		x := randImage(int64(300+i), plan.Public.Input)
		r, err := sess.Infer(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		if want := fixedLabel(t, plan, x); r.Label != want {
			t.Errorf("image %d: private label %d, fixed-point label %d", i, r.Label, want)
		}
		off := r.Stats.OfflineMsgs
		if request := off.MsgsSent == 1 && off.MsgsRecv == 0; r.Stats.Prepared != prepared || (r.Prepare != nil) != prepared || request != prepared {
			t.Errorf("image %d: Prepared %v, Result.Prepare %v, offline %+v; want prepared %v", i, r.Stats.Prepared, r.Prepare, off, prepared)
		}
		if prepared && (r.Prepare.Images != 1 || r.Prepare.OfflineMsgs.Bytes() <= r.Stats.Online.Bytes()/8 || r.Prepare.OfflineTime <= 0) {
			t.Errorf("image %d: prepare %+v", i, r.Prepare)
		}
		img := NewImageReport(r)
		if prepared != (img.Bytes.Prepare > 0 && img.LatencyMS.Prepare > 0) {
			t.Errorf("image %d: report's prepare %v ms, %d B", i, img.LatencyMS.Prepare, img.Bytes.Prepare)
		}
		tot.Add(r)
	}
	if len(tot.PrepareMS) != 2 {
		t.Errorf("totals count %d prepares, want 2", len(tot.PrepareMS))
	}
	if err := sess.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(func() bool { return s.Stats().Active == 0 })
	if st := s.Stats(); st.Sessions != 1 || st.Inferences != 3 || st.Failed != 0 {
		t.Errorf("server stats %+v, want 1 session, 3 inferences, none failed", st)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, st := range served {
		if want := i < 2; st.Prepared != want {
			t.Errorf("server's inference %d: Prepared %v, want %v", i, st.Prepared, want)
		}
	}
}

// TestTwoPartyPrepareDisconnect: a client that vanishes during a prepare
// fails its session on the server (logged, counted) without hanging it,
// and the next client is served.
func TestTwoPartyPrepareDisconnect(t *testing.T) {
	plan := loadPlanSuite(t, baseModel, suiteTwoParty)
	slog := &logSink{t: t}
	srv, s := startTwoParty(t, plan, insecure, func(s *Server) { s.Logf = slog.logf })
	defer srv.stop(t)
	ctx, cancel := testCtx(t)
	defer cancel()
	first := ""
	for i := range plan.Public.Steps {
		if st := &plan.Public.Steps[i]; st.Op == pi.OpLinear {
			first = st.Name
			break
		}
	}
	sess, err := Dial(ctx, ClientConfig{Server: srv.addr, Pool: 0, Dial: func(ctx context.Context, addr string) (transport.Conn, error) {
		c, err := dialer(insecure)(ctx, addr)
		return &transporttest.CutConn{Conn: c, Layer: first}, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Prepare(ctx); err == nil {
		t.Fatal("prepare over a connection closed during it succeeded")
	}
	slog.waitFor(t, "session failed", "prepare")
	eventually(func() bool { return s.Stats().Active == 0 })
	if st := s.Stats(); st.Failed != 1 || st.Active != 0 {
		t.Errorf("server stats %+v, want 1 failed session, none active", st)
	}
	sess.Close()
	checkServes(t, srv.addr, 310)
}

// TestTwoPartyPrepareIdle: a session's prepares are work, not idleness,
// however quiet the connection (one between inferences runs under a 1 s
// idle bound; Dial's runs under the open bound), and once a prepare is
// done the idle bound applies again: a client that prepares and then
// sends nothing is closed for idleness.
func TestTwoPartyPrepareIdle(t *testing.T) {
	plan := loadPlanSuite(t, baseModel, suiteTwoParty)
	const idle = time.Second
	slog := &logSink{t: t}
	// OpenTimeout stays generous: before the first request the client
	// computes its keys and its first prepare with nothing on the wire,
	// seconds under the race detector on a loaded machine.
	srv, _ := startTwoParty(t, plan, insecure, func(s *Server) { s.IdleTimeout, s.OpenTimeout, s.Logf = idle, 60*time.Second, slog.logf })
	defer srv.stop(t)
	ctx, cancel := testCtx(t)
	defer cancel()
	sess, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), Pool: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	x := randImage(320, plan.Public.Input)
	r, err := sess.Infer(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	if r.Prepare == nil || r.Label != fixedLabel(t, plan, x) {
		t.Errorf("prepared inference: prepare %v, label %d, want %d", r.Prepare, r.Label, fixedLabel(t, plan, x))
	}
	if err := sess.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	slog.waitFor(t, "closed by the server", "cause=idle", "inferences=1")
}
