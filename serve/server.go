package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
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
	// MaxSessions bounds concurrent client sessions (default 64); further
	// clients are refused with "busy".
	MaxSessions int
	// Grace is how long Serve lets in-flight sessions finish after ctx
	// ends before cancelling them (default 10 s; negative: at once).
	Grace time.Duration
	// Logf, if set, receives one line per session event.
	Logf func(format string, args ...any)
	// OnInference, if set, receives the server's statistics of every
	// served inference request.
	OnInference func(pi.Stats)

	suite    string
	suites   suiteServer
	hash     [32]byte
	plan     []byte
	active   atomic.Int64
	sessions atomic.Int64
	failed   atomic.Int64
	served   atomic.Int64
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
}

// Stats returns the counters.
func (s *Server) Stats() ServerStats {
	p := 0
	if s.suites != nil {
		p = s.suites.pooled()
	}
	return ServerStats{Sessions: s.sessions.Load(), Failed: s.failed.Load(), Inferences: s.served.Load(), Active: s.active.Load(), Pooled: p}
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

func (s *Server) init() error {
	if s.Plan == nil || s.Plan.Public == nil {
		return errors.New("serve: no plan")
	}
	if err := s.Plan.Public.Validate(); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	suite, err := checkSuite(s.Suite)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	s.suite = suite
	switch suite {
	case suiteDealer:
		if s.suites, err = newDealerSuite(s.Dealer, s.Plan, s.logf); err != nil {
			return err
		}
	default:
		if s.Dealer != nil {
			return fmt.Errorf("serve: suite %s uses no dealer, but a dealer is configured", suite)
		}
		s.suites = twoParty{}
	}
	plan, err := s.Plan.Public.MarshalBinary()
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	s.hash, s.plan = s.Plan.Public.Hash(), plan
	return nil
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
	stopSuite := s.suites.start(ctx)
	defer once.Do(stopSuite)
	grace := s.Grace
	if grace == 0 {
		grace = DefaultGrace
	}
	loop := &acceptloop.Loop{
		Name:  "serve",
		Grace: grace,
		Handle: func(ctx context.Context, conn *transport.FramedConn) {
			s.handle(ctx, conn, slots)
		},
		Stopped: func() { once.Do(stopSuite) },
		Expired: func() {
			s.logf("serve: cancelling %d sessions still running after %v", s.active.Load(), grace)
		},
		Logf: s.Logf,
	}
	return loop.Run(ctx, ln)
}

// handle runs one client session on a connection past its handshake.
func (s *Server) handle(ctx context.Context, conn *transport.FramedConn, slots chan struct{}) {
	remote := conn.RemoteAddr()
	err := s.session(ctx, conn, slots)
	switch {
	case err == nil:
	case errors.Is(err, errRefused):
		s.logf("serve: %v: %v", remote, err)
	default:
		s.failed.Add(1)
		s.logf("serve: %v: session failed: %v", remote, err)
	}
}

var errRefused = errors.New("refused")

func (s *Server) session(ctx context.Context, conn *transport.FramedConn, slots chan struct{}) error {
	timer := time.AfterFunc(helloTimeout, func() { conn.Close() })
	b, err := conn.Recv()
	timer.Stop()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: closed before the hello", errRefused)
		}
		return fmt.Errorf("%w: no hello: %v", errRefused, err)
	}
	want, suite, err := parseClientHello(b)
	if err == nil && want != ([32]byte{}) && !bytes.Equal(want[:], s.hash[:]) {
		err = fmt.Errorf("model hash mismatch: client expects %x, this server serves %x", want[:8], s.hash[:8])
	}
	if err == nil && suite != "" && suite != s.suite {
		if _, bad := checkSuite(suite); bad != nil {
			suite = strconv.Quote(suite) // the peer's bytes
		}
		err = fmt.Errorf("client wants suite %s, server runs %s", suite, s.suite)
	}
	if err != nil {
		conn.Send(frame.Error(tagError, err.Error()))
		return fmt.Errorf("%w: %v", errRefused, err)
	}
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	default:
		conn.Send(frame.Error(tagError, "server busy"))
		return fmt.Errorf("%w: busy (%d sessions)", errRefused, cap(slots))
	}
	ss, err := s.suites.open(ctx)
	if err != nil {
		if s.suite == suiteDealer {
			conn.Send(frame.Error(tagError, "dealer unavailable"))
			return fmt.Errorf("joining the dealer: %w", err)
		}
		conn.Send(frame.Error(tagError, "session unavailable"))
		return err
	}
	defer ss.close()
	n := 0
	srv := piServer(s.Plan, s.suite, ss, 0, func(st pi.Stats) {
		n++
		s.served.Add(1)
		if s.OnInference != nil {
			s.OnInference(st)
		}
	})
	if err := conn.Send(okAnswer{sid: ss.sid, suite: s.suite, dealer: ss.advertise, plan: s.plan}.encode()); err != nil {
		return err
	}
	s.sessions.Add(1)
	s.active.Add(1)
	defer s.active.Add(-1)
	t0 := time.Now()
	if err := srv.Run(ctx, conn); err != nil {
		return fmt.Errorf("session %s (%s) after %d inferences: %w", ss.sid, s.suite, n, err)
	}
	s.logf("serve: session %s (%s): %d inferences in %v", ss.sid, s.suite, n, time.Since(t0).Round(time.Millisecond))
	return nil
}
