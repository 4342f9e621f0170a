package serve

import (
	"context"
	"errors"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/serve/dealer"
	"github.com/autorep/autorep/serve/secnet"
)

// bothSuites runs f against a fresh server of each suite (a dealer-suite
// server gets its own dealer), with opts applied to the server.
func bothSuites(t *testing.T, opts func(*Server), f func(t *testing.T, addr string, s *Server, log *logSink)) {
	for _, suite := range []string{suiteDealer, suiteTwoParty} {
		t.Run(suite, func(t *testing.T) {
			log := &logSink{t: t}
			srv, s := startSuite(t, loadPlanSuite(t, testModel, suite), suite, 0, func(s *Server) { s.Logf = log.logf; opts(s) })
			defer srv.stop(t)
			f(t, srv.addr, s, log)
		})
	}
}

// startSuite runs a server of suite (insecure loopback) with opts; a
// dealer-suite server gets its own dealer, stopped at the test's cleanup,
// and a pool of pool sessions.
func startSuite(t *testing.T, plan *pi.Plan, suite string, pool int, opts func(*Server)) (*running, *Server) {
	t.Helper()
	if suite == suiteDealer {
		d, _ := startDealer(t, "127.0.0.1:0", insecure)
		t.Cleanup(func() { d.stop(t) })
		return startServer(t, plan, d.addr, pool, insecure, insecure, opts)
	}
	return startTwoParty(t, plan, insecure, opts)
}

// TestBusyRetryAfter: with every session slot taken, a client is refused
// with a BusyError that says when to retry; once the slot is free it is
// served.
func TestBusyRetryAfter(t *testing.T) {
	bothSuites(t, func(s *Server) { s.MaxSessions, s.RetryAfter = 1, 1500*time.Millisecond }, func(t *testing.T, addr string, s *Server, _ *logSink) {
		ctx, cancel := testCtx(t)
		defer cancel()
		cfg := ClientConfig{Server: addr, Dial: dialer(insecure), TrustServerDealer: true}
		a, err := Dial(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Dial(ctx, cfg)
		var busy *BusyError
		if !errors.As(err, &busy) || busy.RetryAfter != 1500*time.Millisecond || !strings.Contains(err.Error(), "all 1 sessions taken") {
			t.Fatalf("second client: %v, want a BusyError to retry after 1.5s", err)
		}
		a.Close()
		eventually(func() bool { return s.Stats().Active == 0 })
		b, err := Dial(ctx, cfg)
		if err != nil {
			t.Fatalf("after the slot was freed: %v", err)
		}
		b.Close()
	})
}

// TestIdleTimeout: the server closes a session that waits longer than
// IdleTimeout for its next request, or OpenTimeout for its first one (slot
// freed, not counted as a failure), and the client's next Infer says why;
// a session that keeps working stays open.
func TestIdleTimeout(t *testing.T) {
	// Generous against a loaded machine: the client's opening prefetch
	// must fit in open, the gap between its requests in idle.
	const idle, open = time.Second, 5 * time.Second
	bothSuites(t, func(s *Server) { s.IdleTimeout, s.OpenTimeout = idle, open }, func(t *testing.T, addr string, s *Server, log *logSink) {
		plan := s.Plan
		ctx, cancel := testCtx(t)
		defer cancel()
		cfg := ClientConfig{Server: addr, Dial: dialer(insecure), TrustServerDealer: true}
		sess, err := Dial(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		if sess.IdleTimeout != idle {
			t.Errorf("the session announces an idle timeout of %v, want %v", sess.IdleTimeout, idle)
		}
		for i := range 2 { // requests closer together than the timeout
			time.Sleep(idle / 10)
			x := randImage(int64(60+i), plan.Public.Input)
			r, err := sess.Infer(ctx, x)
			if err != nil {
				t.Fatalf("inference %d of a working session: %v", i, err)
			}
			if want := fixedLabel(t, plan, x); r.Label != want {
				t.Errorf("label %d, want %d", r.Label, want)
			}
		}
		log.waitFor(t, "closed by the server", "cause=idle", "inferences=2")
		if _, err := sess.Infer(ctx, randImage(62, plan.Public.Input)); !errors.Is(err, ErrSessionLimit) || !strings.Contains(err.Error(), "idle") {
			t.Errorf("inference after the idle timeout: %v, want a session-limit error naming idleness", err)
		}

		// No request at all: closed after OpenTimeout.
		t0 := time.Now()
		quiet, err := Dial(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer quiet.Close()
		log.waitFor(t, "closed by the server", "cause=idle", "inferences=0")
		if d := time.Since(t0); d < open {
			t.Errorf("a session without requests was closed after %v, before OpenTimeout %v", d, open)
		}
		eventually(func() bool { return s.Stats().Active == 0 })
		if st := s.Stats(); st.Failed != 0 || st.Active != 0 {
			t.Errorf("server stats %+v: an idle close is no failure and frees the slot", st)
		}
	})
}

// TestMaxInferences: the session ends after MaxInferences requests; the
// client refuses more with ErrSessionLimit, and the server enforces it even
// on a client that does not.
func TestMaxInferences(t *testing.T) {
	plan := loadPlan(t)
	d, _ := startDealer(t, "127.0.0.1:0", insecure)
	defer d.stop(t)
	log := &logSink{t: t}
	srv, s := startServer(t, plan, d.addr, 0, insecure, insecure, func(s *Server) { s.MaxInferences, s.Logf = 2, log.logf })
	defer srv.stop(t)
	ctx, cancel := testCtx(t)
	defer cancel()
	for _, honest := range []bool{true, false} {
		sess, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), TrustServerDealer: true})
		if err != nil {
			t.Fatal(err)
		}
		if sess.MaxInferences != 2 {
			t.Errorf("the session announces %d inferences, want 2", sess.MaxInferences)
		}
		for i := range 2 {
			x := randImage(int64(70+i), plan.Public.Input)
			if r, err := sess.Infer(ctx, x); err != nil || r.Label != fixedLabel(t, plan, x) {
				t.Fatalf("inference %d: %v", i, err)
			}
		}
		if !honest {
			sess.MaxInferences = 0 // a client that ignores the limit
		}
		_, err = sess.Infer(ctx, randImage(72, plan.Public.Input))
		if honest && !errors.Is(err, ErrSessionLimit) || !honest && err == nil {
			t.Errorf("third inference (client keeps the limit: %v): %v", honest, err)
		}
		sess.Close()
	}
	log.waitFor(t, "closed by the server", "cause=inferences", "inferences=2")
	if st := s.Stats(); st.Failed != 0 || st.Inferences != 4 {
		t.Errorf("server stats %+v, want 4 inferences and no failure", st)
	}
}

// TestDealerTicketsAndPlan: against a dealer that admits only parties with
// a ticket and serves only registered plans, the server joins with its
// ticket, registers the session's plan and hands the client its ticket;
// private labels are right, and a party without a ticket is refused.
func TestDealerTicketsAndPlan(t *testing.T) {
	plan := loadPlan(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	ln, err := secnet.Listen("127.0.0.1:0", insecure, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	ds := &dealer.Server{Generator: mpcdealer.NewGenerator(ring.Seed{4}), Grace: -1, Logf: t.Logf, TicketKey: key, RequirePlan: true}
	dctx, dcancel := context.WithCancel(context.Background())
	d := &running{addr: ln.Addr().String(), cancel: dcancel, done: make(chan error, 1)}
	go func() { d.done <- ds.Serve(dctx, ln) }()
	defer d.stop(t)
	ctx, cancel := testCtx(t)
	defer cancel()
	for _, pool := range []int{0, 1} {
		srv, _ := startServer(t, plan, d.addr, pool, insecure, insecure, func(s *Server) { s.Dealer.TicketKey = key })
		sess, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), Dealer: d.addr})
		if err != nil {
			t.Fatalf("pool %d: %v", pool, err)
		}
		for i := range 2 {
			x := randImage(int64(80+i), plan.Public.Input)
			if r, err := sess.Infer(ctx, x); err != nil || r.Label != fixedLabel(t, plan, x) {
				t.Fatalf("pool %d, inference %d: %v", pool, i, err)
			}
		}
		// Someone who learnt the session id but holds no ticket.
		c, err := secnet.Dial(ctx, d.addr, insecure, testOpts())
		if err != nil {
			t.Fatal(err)
		}
		if p, err := dealer.Join(ctx, c, mpc.Client, sess.ID, plan.Public.Hash()); err == nil || !strings.Contains(err.Error(), "ticket") {
			if p != nil {
				p.Close()
			}
			t.Errorf("a join without a ticket: %v, want a ticket refusal", err)
		}
		sess.Close()
		srv.stop(t)
	}
	// A server without the key cannot open sessions on this dealer.
	srv, _ := startServer(t, plan, d.addr, 0, insecure, insecure)
	defer srv.stop(t)
	if _, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), Dealer: d.addr}); err == nil || !strings.Contains(err.Error(), "dealer unavailable") {
		t.Errorf("server without the ticket key: %v, want dealer unavailable", err)
	}
}

// TestMaxPending: connections stalled before their hello hold at most
// MaxPending places; more are closed at once, and an honest client is
// served once the stalled ones are gone.
func TestMaxPending(t *testing.T) {
	plan := twoPartyPlan(t)
	srv, _ := startTwoParty(t, plan, insecure, func(s *Server) { s.MaxPending = 2 })
	defer srv.stop(t)
	var stalled []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, c)
	}
	time.Sleep(100 * time.Millisecond) // accepted and pending
	c, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("a third pending connection was not closed at once: %v", err)
	}
	c.Close()
	for _, c := range stalled {
		c.Close()
	}
	// Their places free once the handlers see the close: on a loaded
	// machine that can take a while, so retry the refused dial.
	ctx, cancel := testCtx(t)
	defer cancel()
	var sess *Session
	if !eventually(func() bool {
		sess, err = Dial(ctx, ClientConfig{Server: srv.addr, TrustServerDealer: true, Dial: dialer(insecure)})
		return err == nil
	}) {
		t.Fatalf("an honest client still refused 10 s after the stalled connections closed: %v", err)
	}
	defer sess.Close()
	checkLabel(t, ctx, sess, loadPlan(t), 90)
}
