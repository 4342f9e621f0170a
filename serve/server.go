package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/autorep/autorep/internal/frame"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/serve/dealer"
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
// at once, one session per connection. Set the fields, then call Serve
// once.
type Server struct {
	// Plan is the compiled model.
	Plan *pi.Plan
	// Dealer is the dealer's address and DialDealer opens a connection
	// to it (one per session).
	Dealer     string
	DialDealer DialFunc
	// Advertise is the dealer address sent to clients (default Dealer).
	Advertise string
	// Pool is the number of sessions kept ready: dealer session joined and
	// the material of the setup and of one single-image inference fetched
	// before a client arrives (0: fetch on demand). Pooled material is for
	// single-image inference requests, which is what Session.Infer sends;
	// a pi client batching several images per request needs Pool 0 (the
	// dealer would otherwise see the parties ask for different material).
	// Later inferences of a session are fetched one single-image request
	// list at a time (dealer.Provider.Refill).
	Pool int
	// PoolTTL discards pooled sessions older than this (default 5 min).
	PoolTTL time.Duration
	// MaxSessions bounds concurrent client sessions (default 64); further
	// clients are refused with "busy".
	MaxSessions int
	// Grace is how long Serve lets in-flight sessions finish after ctx
	// ends before cancelling them (default 10 s; negative: at once).
	Grace time.Duration
	// KeepAlive is the idle time after which a session's dealer
	// connection is pinged (default 30 s; must be below the dealer's read
	// timeout; negative: never).
	KeepAlive time.Duration
	// Logf, if set, receives one line per session event.
	Logf func(format string, args ...any)
	// OnInference, if set, receives the server's statistics of every
	// served inference request.
	OnInference func(pi.Stats)

	hash     [32]byte
	plan     []byte
	setup    []mpc.Request
	infer    []mpc.Request
	pool     chan *pooled
	active   atomic.Int64
	sessions atomic.Int64
	failed   atomic.Int64
	served   atomic.Int64
}

// pooled is a dealer session prepared ahead of a client.
type pooled struct {
	sid     dealer.SessionID
	prov    *dealer.Provider
	created time.Time
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
	if s.pool != nil {
		p = len(s.pool)
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
	if s.DialDealer == nil || s.Dealer == "" {
		return errors.New("serve: no dealer")
	}
	plan, err := s.Plan.Public.MarshalBinary()
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	s.hash, s.plan = s.Plan.Public.Hash(), plan
	s.setup = pi.SetupRequests(s.Plan.Public, mpc.Server)
	s.infer = pi.InferenceRequests(s.Plan.Public, 1)
	if s.Advertise == "" {
		s.Advertise = s.Dealer
	}
	if len(s.Advertise) > maxAddr {
		return fmt.Errorf("serve: dealer address of %d bytes", len(s.Advertise))
	}
	s.pool = make(chan *pooled, max(s.Pool, 0))
	return nil
}

// Hash returns the public-plan hash clients must present.
func (s *Server) Hash() [32]byte { return s.Plan.Public.Hash() }

// newSession joins a fresh dealer session; with prefetch, it also fetches
// the material of the setup and of one single-image inference.
func (s *Server) newSession(ctx context.Context, prefetch bool) (*pooled, error) {
	sid, err := dealer.NewSessionID()
	if err != nil {
		return nil, err
	}
	conn, err := s.DialDealer(ctx, s.Dealer)
	if err != nil {
		return nil, fmt.Errorf("dealer %s: %w", s.Dealer, err)
	}
	prov, err := dealer.Join(ctx, conn, mpc.Server, sid, s.hash)
	if err != nil {
		conn.Close()
		return nil, err
	}
	prov.Refill = func() []mpc.Request { return s.infer }
	prov.KeepAlive(keepAlive(s.KeepAlive))
	if prefetch {
		if err := prov.Prefetch(append(append([]mpc.Request(nil), s.setup...), s.infer...)); err != nil {
			prov.Close()
			return nil, err
		}
	}
	return &pooled{sid: sid, prov: prov, created: time.Now()}, nil
}

// DefaultKeepAlive is the default idle time before a dealer ping.
const DefaultKeepAlive = 30 * time.Second

func keepAlive(d time.Duration) time.Duration {
	if d == 0 {
		return DefaultKeepAlive
	}
	return d
}

// fillPool keeps the pool full until ctx ends, retrying with back-off
// while the dealer is unreachable.
func (s *Server) fillPool(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		p, err := s.newSession(ctx, true)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.logf("serve: pool: %v (retrying in %v)", err, backoff)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		select {
		case s.pool <- p:
		case <-ctx.Done():
			p.prov.Close()
			return
		}
	}
}

// take returns a pooled session that still answers, or a new one.
func (s *Server) take(ctx context.Context) (*pooled, error) {
	ttl := s.PoolTTL
	if ttl <= 0 {
		ttl = DefaultPoolTTL
	}
	for {
		select {
		case p := <-s.pool:
			if time.Since(p.created) > ttl {
				p.prov.Close()
				continue
			}
			if err := p.prov.Ping(); err != nil {
				s.logf("serve: pooled session %s is dead: %v", p.sid, err)
				p.prov.Close()
				continue
			}
			return p, nil
		default:
			return s.newSession(ctx, false)
		}
	}
}

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
	poolCtx, stopPool := context.WithCancel(ctx)
	defer stopPool()
	var poolWG sync.WaitGroup
	if s.Pool > 0 {
		poolWG.Add(1)
		go func() { defer poolWG.Done(); s.fillPool(poolCtx) }()
	}
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
		Stopped: func() {
			stopPool()
			poolWG.Wait()
			for len(s.pool) > 0 {
				(<-s.pool).prov.Close()
			}
		},
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
	want, err := parseClientHello(b)
	if err == nil && want != ([32]byte{}) && !bytes.Equal(want[:], s.hash[:]) {
		err = fmt.Errorf("model hash mismatch: client expects %x, this server serves %x", want[:8], s.hash[:8])
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
	p, err := s.take(ctx)
	if err != nil {
		conn.Send(frame.Error(tagError, "dealer unavailable"))
		return fmt.Errorf("joining the dealer: %w", err)
	}
	defer p.prov.Close()
	if err := conn.Send(okMessage(p.sid, s.Advertise, s.plan)); err != nil {
		return err
	}
	s.sessions.Add(1)
	s.active.Add(1)
	defer s.active.Add(-1)
	t0 := time.Now()
	n := 0
	srv := &pi.Server{Plan: s.Plan, Provider: p.prov, OnInference: func(st pi.Stats) {
		n++
		s.served.Add(1)
		if s.OnInference != nil {
			s.OnInference(st)
		}
	}}
	if err := srv.Run(ctx, conn); err != nil {
		return fmt.Errorf("session %s after %d inferences: %w", p.sid, n, err)
	}
	s.logf("serve: session %s: %d inferences in %v", p.sid, n, time.Since(t0).Round(time.Millisecond))
	return nil
}
