package serve

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autorep/autorep/serve/dealer"
	"github.com/autorep/autorep/transport"
)

// TestDealerPinning: a client joins only the dealer it pinned, dialed with
// its own dialer; a server advertising another dealer, or any dealer to a
// client that neither pinned one nor trusts the server's, is refused
// before the client contacts a dealer (issue 19, finding 1).
func TestDealerPinning(t *testing.T) {
	plan := loadPlan(t)
	mine, mineSrv := startDealer(t, "127.0.0.1:0", insecure) // the client's choice
	defer mine.stop(t)
	theirs, theirsSrv := startDealer(t, "127.0.0.1:0", insecure) // the server's
	defer theirs.stop(t)
	srv, _ := startServer(t, plan, theirs.addr, 0, insecure, insecure)
	defer srv.stop(t)
	ctx, cancel := testCtx(t)
	defer cancel()

	var dealerDials atomic.Int64
	ownDial := func(ctx context.Context, addr string) (transport.Conn, error) {
		dealerDials.Add(1)
		return dialer(insecure)(ctx, addr)
	}
	joined := theirsSrv.Stats().Sessions
	_, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), Dealer: mine.addr, DialDealer: ownDial})
	if !errors.Is(err, ErrUntrustedDealer) || !strings.Contains(err.Error(), theirs.addr) || !strings.Contains(err.Error(), mine.addr) {
		t.Fatalf("advertised dealer differs from the pinned one: %v, want an untrusted-dealer error naming both", err)
	}
	_, err = Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), DialDealer: ownDial})
	if !errors.Is(err, ErrUntrustedDealer) || !strings.Contains(err.Error(), "--trust-server-dealer") {
		t.Fatalf("unpinned dealer without trust: %v, want an untrusted-dealer error", err)
	}
	if n := dealerDials.Load(); n != 0 {
		t.Errorf("the client dialed a dealer %d times while refusing", n)
	}
	if st := mineSrv.Stats(); st.Sessions != 0 {
		t.Errorf("the pinned dealer saw %d joins", st.Sessions)
	}
	// The server joined its dealer for each refused session; the client's
	// half was never asked for.
	eventually(func() bool { return theirsSrv.Stats().Open == 0 })
	if got := theirsSrv.Stats().Sessions - joined; got != 2 {
		t.Errorf("the server's dealer saw %d joins for two refused sessions, want the server's 2 only", got)
	}

	// Pinning the dealer the server uses works, through the client's own
	// dialer only.
	sess, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), Dealer: theirs.addr, DialDealer: ownDial})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if sess.Suite != suiteDealer || sess.DealerAddr != theirs.addr || dealerDials.Load() != 1 {
		t.Errorf("session suite %q dealer %q, %d dials of the client's dealer dialer", sess.Suite, sess.DealerAddr, dealerDials.Load())
	}
	x := randImage(21, plan.Public.Input)
	r, err := sess.Infer(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	if want := fixedLabel(t, plan, x); r.Label != want {
		t.Errorf("label %d, want %d", r.Label, want)
	}
}

// TestSuiteConfig: a server's suite and dealer settings are checked when
// it starts, a client's suite before it dials.
func TestSuiteConfig(t *testing.T) {
	plan := loadPlan(t)
	dcfg := &DealerConfig{Addr: "127.0.0.1:1", Dial: dialer(insecure)}
	for _, c := range []struct {
		s    *Server
		want string
	}{
		{&Server{Plan: plan, Suite: suiteTwoParty, Dealer: dcfg}, "uses no dealer"},
		{&Server{Plan: plan, Suite: "threeparty"}, `unknown suite "threeparty"`},
		{&Server{Plan: plan}, "needs a dealer"},
		{&Server{Plan: plan, Suite: suiteDealer, Dealer: &DealerConfig{Addr: "127.0.0.1:1"}}, "needs a dealer"},
		// The plan names its suite: the other suite's server refuses it.
		{&Server{Plan: plan, Suite: suiteTwoParty}, "the plan is compiled for the dealer suite, the server runs the twoparty suite"},
		{&Server{Plan: twoPartyPlan(t), Dealer: dcfg}, "the plan is compiled for the twoparty suite, the server runs the dealer suite"},
		{&Server{Plan: plan, Correlations: TwoPartyCorrelations()}, "the plan is compiled for the dealer suite, the server runs the twoparty suite"},
		// A plug-in carries its suite and configuration.
		{&Server{Plan: plan, Suite: suiteTwoParty, Correlations: DealerCorrelations(dcfg)}, "Suite is twoparty, the correlations plug-in's suite dealer"},
		{&Server{Plan: plan, Correlations: DealerCorrelations(dcfg), Dealer: dcfg}, "a correlations plug-in (suite dealer) and a Dealer are both set"},
		{&Server{Plan: plan, Correlations: DealerCorrelations(nil)}, "needs a dealer"},
	} {
		if err := c.s.init(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("suite %q, dealer %+v: %v, want an error with %q", c.s.Suite, c.s.Dealer, err, c.want)
		}
	}
	dials := 0
	_, err := Dial(context.Background(), ClientConfig{Server: "127.0.0.1:1", Suite: "fss", Dial: func(context.Context, string) (transport.Conn, error) {
		dials++
		return nil, errors.New("dialed")
	}})
	if err == nil || !strings.Contains(err.Error(), `unknown suite "fss"`) || dials != 0 {
		t.Errorf("client suite fss: %v after %d dials", err, dials)
	}
}

// TestSuiteMismatch: a client insisting on the suite the server does not
// run is refused with both names, and the server goes on serving.
func TestSuiteMismatch(t *testing.T) {
	plan := loadPlan(t)
	d, _ := startDealer(t, "127.0.0.1:0", insecure)
	defer d.stop(t)
	srv, s := startServer(t, plan, d.addr, 0, insecure, insecure)
	defer srv.stop(t)
	two, s2 := startTwoParty(t, twoPartyPlan(t), insecure)
	defer two.stop(t)
	ctx, cancel := testCtx(t)
	defer cancel()
	for _, c := range []struct {
		addr, suite, runs string
		s                 *Server
	}{{srv.addr, suiteTwoParty, suiteDealer, s}, {two.addr, suiteDealer, suiteTwoParty, s2}} {
		_, err := Dial(ctx, ClientConfig{Server: c.addr, Dial: dialer(insecure), Suite: c.suite, TrustServerDealer: true})
		want := "client wants suite " + c.suite + ", server runs " + c.runs
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("client wants %s from a %s server: %v, want %q", c.suite, c.runs, err, want)
		}
		if st := c.s.Stats(); st.Sessions != 0 || st.Failed != 0 {
			t.Errorf("a refused hello counted as a session: %+v", st)
		}
	}
	checkServes(t, srv.addr, 22)
}

// TestDealerSessionTag: two dealer replicas behind one advertised name
// give the parties different dealer sessions; the client compares the
// server's dealer session tag with its own before setup and stops with an
// error naming both, instead of running on unrelated material (issue 19,
// finding 6). The same name reaching the server's dealer works.
func TestDealerSessionTag(t *testing.T) {
	plan := loadPlan(t)
	a, _ := startDealer(t, "127.0.0.1:0", insecure)
	defer a.stop(t)
	b, bSrv := startDealer(t, "127.0.0.1:0", insecure)
	defer b.stop(t)
	const name = "dealer.example:7001"
	srv, srvS := startServer(t, plan, a.addr, 0, insecure, insecure, func(s *Server) { s.Dealer.Advertise = name })
	defer srv.stop(t)
	ctx, cancel := testCtx(t)
	defer cancel()
	to := func(addr string) DialFunc {
		return func(ctx context.Context, _ string) (transport.Conn, error) { return dialer(insecure)(ctx, addr) }
	}
	_, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), Dealer: name, DialDealer: to(b.addr)})
	if !errors.Is(err, ErrDealerSession) || strings.Count(err.Error(), "…") != 2 {
		t.Fatalf("client reached another dealer replica: %v, want a dealer-session error naming both tags", err)
	}
	if bSrv.Stats().Sessions != 1 {
		t.Errorf("the replica saw %d joins, want the client's 1", bSrv.Stats().Sessions)
	}
	if !eventually(func() bool { return srvS.Stats().Active == 0 }) || srvS.Stats().Inferences != 0 {
		t.Errorf("server after the mismatch: %+v, want no session left and no inference", srvS.Stats())
	}

	sess, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), Dealer: name, DialDealer: to(a.addr)})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	x := randImage(22, plan.Public.Input)
	r, err := sess.Infer(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	if want := fixedLabel(t, plan, x); r.Label != want {
		t.Errorf("label %d, want %d", r.Label, want)
	}
}

// TestCheckTag: a missing or different server tag is an error naming the
// tag prefixes; the same tag passes.
func TestCheckTag(t *testing.T) {
	var c dealer.SessionTag
	c[0], c[31] = 0xab, 1
	s := c
	s[31] = 2
	if err := checkTag(c[:], c); err != nil {
		t.Errorf("same tag: %v", err)
	}
	if err := checkTag(nil, c); !errors.Is(err, ErrDealerSession) || !strings.Contains(err.Error(), "ab00") {
		t.Errorf("no server tag: %v", err)
	}
	// The prefixes shown may coincide; the full tags differ.
	if err := checkTag(s[:], c); !errors.Is(err, ErrDealerSession) {
		t.Errorf("different tags: %v", err)
	}
}

// countingCorrelations is a Correlations plug-in built, as another
// suite's would be, on the exported interface alone: it counts the
// sessions it opens and closes around the suite it wraps.
type countingCorrelations struct {
	Correlations
	opened, closed atomic.Int64
}

func (c *countingCorrelations) Open(ctx context.Context) (*CorrelationSession, error) {
	cs, err := c.Correlations.Open(ctx)
	if err != nil {
		return nil, err
	}
	c.opened.Add(1)
	inner := cs.Close
	cs.Close = func() {
		c.closed.Add(1)
		if inner != nil {
			inner()
		}
	}
	return cs, nil
}

// TestCorrelationsPlugin: a server given its suite's correlations as a
// plug-in (Server.Correlations, no Suite or Dealer fields) serves that
// suite: the handshake names it, the dealer address goes to the client in
// the dealer suite only, the labels equal the fixed-point executor's, and
// the plug-in opens and closes one session per client.
func TestCorrelationsPlugin(t *testing.T) {
	d, _ := startDealer(t, "127.0.0.1:0", insecure)
	defer d.stop(t)
	for _, suite := range []string{suiteDealer, suiteTwoParty} {
		t.Run(suite, func(t *testing.T) {
			plan := loadPlanSuite(t, testModel, suite)
			inner := TwoPartyCorrelations()
			if suite == suiteDealer {
				inner = DealerCorrelations(&DealerConfig{Addr: d.addr, Dial: dialer(insecure)})
			}
			cc := &countingCorrelations{Correlations: inner}
			srv, s := runServer(t, &Server{Plan: plan, Correlations: cc, Grace: 5 * time.Second, Logf: t.Logf}, insecure)
			defer srv.stop(t)
			ctx, cancel := testCtx(t)
			defer cancel()
			sess, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), Suite: suite, TrustServerDealer: true})
			if err != nil {
				t.Fatal(err)
			}
			if sess.Suite != suite || (sess.DealerAddr != "") != (suite == suiteDealer) {
				t.Errorf("session of suite %q, dealer %q", sess.Suite, sess.DealerAddr)
			}
			checkLabel(t, ctx, sess, plan, 61)
			sess.Close()
			if !eventually(func() bool { return cc.closed.Load() == 1 }) || cc.opened.Load() != 1 {
				t.Errorf("plug-in opened %d sessions, closed %d; want 1, 1", cc.opened.Load(), cc.closed.Load())
			}
			if st := s.Stats(); st.Suite != suite {
				t.Errorf("server stats name suite %q", st.Suite)
			}
		})
	}
}
