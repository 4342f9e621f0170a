package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/autorep/autorep/internal/frame"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/serve/internal/acceptloop"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

// Defaults of Server.
const (
	DefaultMaxSessions = 64
	DefaultPoolTTL     = 5 * time.Minute
	DefaultGrace       = 10 * time.Second
	helloTimeout       = 10 * time.Second
	// DefaultMaxImages bounds the images of one inference request: one,
	// so a request never makes the server hold (or fetch from the dealer)
	// the material of a batch before the client has shown any work.
	DefaultMaxImages = 1
	// DefaultIdleTimeout closes a session that waits this long for its
	// next request with nothing moving, so idle clients cannot hold the
	// session slots.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultOpenTimeout is the idle bound before a session's first
	// request: longer, since the client may be fetching the dealer
	// material of several inferences then, which the server cannot see.
	DefaultOpenTimeout = 2 * time.Minute
	// DefaultMaxInferences bounds the inference requests of one session.
	DefaultMaxInferences = 1000
	// DefaultRetryAfter is the wait a busy server suggests.
	DefaultRetryAfter = 5 * time.Second
	// DefaultMaxPending and DefaultMaxPendingPerHost bound the connections
	// still in their TLS handshake or hello, overall and per source IP
	// address (as the dealer's).
	DefaultMaxPending        = 1024
	DefaultMaxPendingPerHost = 64
)

// DialFunc opens a framed connection to addr.
type DialFunc func(ctx context.Context, addr string) (transport.Conn, error)

// Server serves private inference of one compiled model to many clients
// at once, one session per connection, in one protocol suite. Set the
// fields, then call Serve once.
type Server struct {
	// Plan is the compiled model.
	Plan *pi.Plan
	// Suite is the protocol suite: "dealer" (also "") or "twoparty".
	Suite string
	// Dealer is the network dealer of the dealer suite (required there;
	// must be nil with twoparty, which has no third party).
	Dealer *DealerConfig
	// Correlations, if set, is the suite's source of correlations (a
	// plug-in: DealerCorrelations, TwoPartyCorrelations or another
	// suite's); Suite is then its suite ("" or the same name) and Dealer
	// nil. If nil, Suite and Dealer select one of the two.
	Correlations Correlations
	// MaxSessions bounds concurrent client sessions (default 64); further
	// clients are refused with "busy" and a time to retry after
	// (RetryAfter, default 5 s; a client sees a *BusyError).
	MaxSessions int
	RetryAfter  time.Duration
	// MaxImages bounds the images of one inference request (default 1,
	// at most pi.MaxBatch).
	MaxImages int
	// IdleTimeout closes a session whose connection moves nothing (and,
	// in the dealer suite, receives no dealer material) for this long
	// while it waits for its next request (default 30 s; negative: never);
	// OpenTimeout (default 2 min) is that bound before the first request,
	// while the client may still be prefetching its material. The online
	// phase is bounded by the connection's own timeouts instead.
	IdleTimeout time.Duration
	OpenTimeout time.Duration
	// MaxInferences bounds the inference requests of one session (default
	// 1000; negative: none); the session ends after the last one and the
	// client opens a new one.
	MaxInferences int
	// MaxPending and MaxPendingPerHost bound the connections that have not
	// yet had their hello accepted, overall and per source IP (0:
	// DefaultMaxPending, DefaultMaxPendingPerHost; negative: no bound);
	// more are closed at once, so a flood of stalled connections costs a
	// bounded number of goroutines (issue 19, finding 3).
	MaxPending, MaxPendingPerHost int
	// HelloTimeout is how long a connection may take to send its hello
	// (default 10 s): with MaxPendingPerHost, it bounds how long stalled
	// connections from one host can keep others from that host out.
	HelloTimeout time.Duration
	// Grace is how long Serve lets in-flight sessions finish after ctx
	// ends before cancelling them (default 10 s; negative: at once).
	// While draining, Ready is false and each session is closed after
	// its next inference (ClosedDraining), so a long session does not
	// hold the shutdown for the whole grace period.
	Grace time.Duration
	// Logger receives one structured record per session event (attributes
	// plan, session, remote, cause, inferences, ...). If nil, Logf receives
	// them as text lines.
	Logger *slog.Logger
	// Logf, if set and Logger is nil, receives one line per session event.
	Logf func(format string, args ...any)
	// Clients, if set, are the only clients served: a hello without a
	// listed token is refused (CauseAuth) before any session state or
	// dealer work, and each client's Quota holds (CauseQuota, ClosedBudget).
	Clients *Clients
	// OnInference, if set, receives the server's statistics of every
	// served inference request.
	OnInference func(pi.Stats)

	suite    string
	suitesMu sync.Mutex // Stats may run while Serve sets suites
	suites   Correlations
	hash     [32]byte
	plan     []byte
	active   atomic.Int64
	sessions atomic.Int64
	failed   atomic.Int64
	served   atomic.Int64
	counters counters
	started  atomic.Bool // Serve is accepting
	draining atomic.Bool // Serve's context ended
	logOnce  sync.Once
	log      *slog.Logger
}

// ServerStats are a server's counters.
type ServerStats struct {
	// Sessions is the number of sessions that started (handshake accepted).
	Sessions int64 `json:"sessions"`
	// Failed is the number of sessions that ended with an error.
	Failed int64 `json:"failed"`
	// Inferences is the number of inference requests served.
	Inferences int64 `json:"inferences"`
	// Active is the number of sessions running now.
	Active int64 `json:"active"`
	// Pooled is the number of prepared sessions waiting for clients.
	Pooled int `json:"pooled"`
	// Suite is the server's protocol suite ("" before Serve).
	Suite string `json:"suite"`
	// Bytes and Rounds are the traffic of client connections (both
	// directions; added after each inference and at each session's end).
	Bytes  int64 `json:"bytes"`
	Rounds int64 `json:"rounds"`
	// MaterialHeld is the dealer material fetched and not yet used by the
	// pooled and running sessions (encoded bytes).
	MaterialHeld int64 `json:"material_held_bytes"`
	// Refused counts connections refused before their session, by cause
	// (Cause*); Closed counts sessions the server ended, by cause (Closed*).
	Refused map[string]int64 `json:"refused"`
	Closed  map[string]int64 `json:"closed"`
}

// Stats returns the counters.
func (s *Server) Stats() ServerStats {
	p, held := 0, int64(0)
	s.suitesMu.Lock()
	if s.suites != nil {
		p, held = s.suites.Pooled(), s.suites.Held()
	}
	suite := s.suite
	s.suitesMu.Unlock()
	c := &s.counters
	return ServerStats{Sessions: s.sessions.Load(), Failed: s.failed.Load(), Inferences: s.served.Load(), Active: s.active.Load(), Pooled: p,
		Suite: suite, Bytes: c.bytes.Load(), Rounds: c.rounds.Load(), MaterialHeld: held,
		Refused: c.snapshot(&c.refused), Closed: c.snapshot(&c.closed)}
}

// logf logs a free-form event (pool and accept-loop messages) through the
// structured logger.
func (s *Server) logf(format string, args ...any) {
	s.logger().Info(strings.TrimPrefix(fmt.Sprintf(format, args...), "serve: "))
}

func (s *Server) init() error {
	if s.Plan == nil || s.Plan.Public == nil {
		return errors.New("serve: no plan")
	}
	if err := s.Plan.Public.Validate(); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	corr, err := s.correlations()
	if err != nil {
		return err
	}
	suite := corr.Suite()
	if ps := s.Plan.Public.Suite; ps != suite {
		return fmt.Errorf("serve: the plan is compiled for the %s suite, the server runs the %s suite", ps, suite)
	}
	s.suitesMu.Lock()
	s.suite = suite
	s.suitesMu.Unlock()
	// A plan registration grants the session's inferences of one image
	// each: with larger requests, or no limit, there is none.
	images := 0
	if l := s.limits(); s.maxImages() == 1 && l.inferences > 0 {
		images = int(min(l.inferences, 1<<20))
	}
	if err := corr.Init(CorrelationsEnv{Plan: s.Plan, Images: images, Logf: s.logf}); err != nil {
		return err
	}
	s.setSuites(corr)
	plan, err := s.Plan.Public.MarshalBinary()
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	s.hash, s.plan = s.Plan.Public.Hash(), plan
	return nil
}

func (s *Server) setSuites(ss Correlations) {
	s.suitesMu.Lock()
	s.suites = ss
	s.suitesMu.Unlock()
}

// Hash returns the public-plan hash clients must present.
func (s *Server) Hash() [32]byte { return s.Plan.Public.Hash() }

// Serve accepts clients on ln until ctx ends; then it stops accepting,
// lets in-flight sessions finish for Grace, cancels the rest, empties the
// pool and returns (nil after a shutdown, else the accept error).
func (s *Server) Serve(ctx context.Context, ln *secnet.Listener) error {
	if err := s.init(); err != nil {
		ln.Close()
		return err
	}
	maxS := s.MaxSessions
	if maxS <= 0 {
		maxS = DefaultMaxSessions
	}
	slots := make(chan struct{}, maxS)
	var once sync.Once
	stopSuite := s.suites.Start(ctx)
	defer once.Do(stopSuite)
	grace := orDefault(s.Grace, DefaultGrace)
	s.started.Store(true)
	defer s.started.Store(false)
	// Serve returns only after the drain notice, if it started, is done:
	// nothing logs after Serve has returned.
	drained := make(chan struct{})
	stopDrain := context.AfterFunc(ctx, func() {
		defer close(drained)
		s.draining.Store(true)
		s.logger().Info("draining", "sessions", s.active.Load(), "grace", grace)
	})
	defer func() {
		if !stopDrain() {
			<-drained
		}
	}()
	loop := &acceptloop.Loop{
		Name:              "serve",
		Grace:             grace,
		MaxPending:        pendingBound(s.MaxPending, DefaultMaxPending),
		MaxPendingPerHost: pendingBound(s.MaxPendingPerHost, DefaultMaxPendingPerHost),
		Handle: func(ctx context.Context, conn *transport.FramedConn) {
			s.handle(ctx, conn, slots)
		},
		Stopped: func() { once.Do(stopSuite) },
		Expired: func() {
			s.logger().Warn("cancelling sessions still running after the grace period", "sessions", s.active.Load(), "grace", grace)
		},
		Rejected: func(host string, perHost bool) {
			s.counters.count(&s.counters.refused, map[bool]string{false: CausePending, true: CausePendingHost}[perHost])
		},
		Logf: s.logf,
	}
	return loop.Run(ctx, ln)
}

// handle runs one client session on a connection past its handshake.
func (s *Server) handle(ctx context.Context, conn *transport.FramedConn, slots chan struct{}) {
	remote := conn.RemoteAddr().String()
	err := s.session(ctx, conn, slots)
	var r *refusal
	switch {
	case err == nil:
	case errors.As(err, &r):
		s.counters.count(&s.counters.refused, r.cause)
		s.logger().Info("refused", "remote", remote, "cause", r.cause, "err", r.err)
	default:
		s.failed.Add(1)
		s.logger().Warn("session failed", "remote", remote, "err", err)
	}
}

// refusal is a connection turned away before its session, for a cause
// (Cause*).
type refusal struct {
	cause string
	err   error
}

func (r *refusal) Error() string { return "refused: " + r.err.Error() }

func refuse(cause string, err error) error { return &refusal{cause, err} }

func (s *Server) session(ctx context.Context, conn *transport.FramedConn, slots chan struct{}) error {
	hto := s.HelloTimeout
	if hto <= 0 {
		hto = helloTimeout
	}
	timer := time.AfterFunc(hto, func() { conn.Close() })
	b, err := transport.RecvMax(conn, maxHello)
	timer.Stop()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return refuse(CauseMalformed, errors.New("closed before the hello"))
		}
		return refuse(CauseMalformed, fmt.Errorf("no hello: %v", err))
	}
	cause := CauseMalformed
	want, suite, token, err := parseClientHello(b)
	var client string
	var spend func(images int) bool
	if err == nil && s.Clients != nil {
		var release func()
		if client, spend, release, err = s.Clients.admit(token); err == nil {
			defer release()
		} else if errors.Is(err, errQuota) {
			cause = CauseQuota
		} else {
			cause = CauseAuth
		}
	}
	if err == nil && want != ([32]byte{}) && !bytes.Equal(want[:], s.hash[:]) {
		cause, err = CausePlan, fmt.Errorf("model hash mismatch: client expects %x, this server serves %x", want[:8], s.hash[:8])
	}
	if err == nil && suite != "" && suite != s.suite {
		if _, bad := checkSuite(suite); bad != nil {
			suite = strconv.Quote(suite) // the peer's bytes
		}
		cause, err = CauseSuite, fmt.Errorf("client wants suite %s, server runs %s", suite, s.suite)
	}
	if err != nil {
		conn.Send(frame.Error(tagError, err.Error()))
		return refuse(cause, err)
	}
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	default:
		conn.Send(frame.Error(tagError, busyReason(cap(slots), orDefault(s.RetryAfter, DefaultRetryAfter))))
		return refuse(CauseBusy, fmt.Errorf("busy (%d sessions)", cap(slots)))
	}
	ss, err := s.suites.Open(ctx)
	if err != nil {
		if s.suite == suiteDealer {
			conn.Send(frame.Error(tagError, "dealer unavailable"))
			return refuse(CauseDealer, fmt.Errorf("joining the dealer: %w", err))
		}
		conn.Send(frame.Error(tagError, "session unavailable"))
		return err
	}
	defer ss.close()
	log := s.logger().With("session", ss.ID.String(), "remote", conn.RemoteAddr().String())
	if client != "" {
		log = log.With("client", client)
	}
	lim := s.limits()
	var ended atomic.Value // why (Closed*) the server ended the session, if it did
	end := func(cause string) {
		ended.CompareAndSwap(nil, cause)
		conn.Close()
	}
	var served, busy atomic.Bool
	n := 0
	meter := &connMeter{c: &s.counters, conn: conn}
	defer meter.flush()
	hist := s.counters.hist()
	srv := piServer(s.Plan, s.suite, ss, s.maxImages(), func(st pi.Stats) {
		busy.Store(false)
		served.Store(true)
		n++
		s.served.Add(1)
		meter.flush()
		hist.Observe((st.OfflineTime + st.OnlineTime).Seconds())
		if s.OnInference != nil {
			s.OnInference(st)
		}
		// The logits are sent: Close delivers them, then pi's wait for
		// the next request fails and the session ends.
		switch {
		case spend != nil && spend(st.Images):
			end(ClosedBudget)
		case lim.inferences > 0 && uint64(n) >= lim.inferences:
			end(ClosedInferences)
		case s.draining.Load():
			end(ClosedDraining)
		}
	})
	// A prepare (twoparty) is work too: idle again once it is done.
	srv.OnRequest = func(int) { busy.Store(true) }
	srv.OnPrepare = func(pi.Stats) {
		busy.Store(false)
		meter.flush()
	}
	if err := conn.Send(okAnswer{sid: ss.ID, suite: s.suite, dealer: ss.Advertise, ticket: ss.Ticket, tag: ss.Tag, limits: lim, plan: s.plan}.encode()); err != nil {
		return err
	}
	acceptloop.Authenticated(ctx) // past the hello: the session slot bounds it now
	s.sessions.Add(1)
	s.active.Add(1)
	defer s.active.Add(-1)
	log.Info("session opened", "suite", s.suite)
	t0 := time.Now()
	if open := orDefault(s.OpenTimeout, DefaultOpenTimeout); lim.idleMS > 0 || open > 0 {
		timeout := func() time.Duration {
			if served.Load() {
				return time.Duration(lim.idleMS) * time.Millisecond
			}
			return open
		}
		stop := watchIdle(conn, ss.activity, busy.Load, timeout, func(time.Duration) { end(ClosedIdle) })
		defer stop()
	}
	if ss.Tag != nil {
		// Parties in different dealer sessions would compute garbage on
		// unrelated material: the server stops too, not only the client.
		if err := recvTag(conn, ss.Tag); err != nil {
			return fmt.Errorf("session %s: dealer %s: %w", ss.ID, ss.Advertise, err)
		}
	}
	err = srv.Run(ctx, conn)
	took := time.Since(t0).Round(time.Millisecond)
	if why, _ := ended.Load().(string); why != "" && ctx.Err() == nil {
		s.counters.count(&s.counters.closed, why)
		log.Info("session closed by the server", "cause", why, "inferences", n, "time", took)
		return nil
	}
	if err != nil {
		return fmt.Errorf("session %s (%s) after %d inferences: %w", ss.ID, s.suite, n, err)
	}
	log.Info("session done", "inferences", n, "time", took)
	return nil
}

// pendingBound resolves a MaxPending field (acceptloop: 0 is no bound).
func pendingBound(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func (s *Server) maxImages() int {
	if s.MaxImages <= 0 {
		return DefaultMaxImages
	}
	return min(s.MaxImages, pi.MaxBatch)
}

// limits are the session limits the server enforces and announces.
func (s *Server) limits() sessionLimits {
	var l sessionLimits
	switch {
	case s.MaxInferences == 0:
		l.inferences = DefaultMaxInferences
	case s.MaxInferences > 0:
		l.inferences = uint64(s.MaxInferences)
	}
	if d := orDefault(s.IdleTimeout, DefaultIdleTimeout); d > 0 {
		l.idleMS = uint64(max(d.Milliseconds(), 1))
	}
	return l
}

// watchIdle calls idle once if conn spends timeout() (≤ 0: no bound) in
// the offline phase (setup, or waiting for a request) with no byte moving
// on it, no change in activity (the dealer material received) and the
// server not busy with a request (the twoparty suite's offline phase
// computes for seconds without traffic); the online phase is left to the
// connection's read timeout. stop ends the watch.
func watchIdle(conn transport.Conn, activity func() int64, busy func() bool, timeout func() time.Duration, idle func(time.Duration)) (stop func()) {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		last, lastAct, since := conn.Stats().Total().Bytes(), activity(), time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				b, a := conn.Stats().Total().Bytes(), activity()
				if b != last || a != lastAct || busy() || conn.Stats().Phase() != transport.PhaseOffline {
					last, lastAct, since = b, a, now
					continue
				}
				if d, t := now.Sub(since), timeout(); t > 0 && d >= t {
					idle(d)
					return
				}
			}
		}
	}()
	return func() { close(done) }
}
