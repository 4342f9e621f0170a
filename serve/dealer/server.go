package dealer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/autorep/autorep/fss"
	"github.com/autorep/autorep/internal/frame"
	"github.com/autorep/autorep/internal/metrics"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/serve/internal/acceptloop"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

// Defaults of Server.
const (
	DefaultMaxSessions = 4096
	DefaultMaxUsed     = 1 << 20
	DefaultGrace       = 10 * time.Second
	DefaultMemoryWait  = 30 * time.Second
	// DefaultMaxRequestElems bounds one request's elements (2^24: 16 Mi,
	// 256 images of a 64-channel 32×32 layer).
	DefaultMaxRequestElems = 1 << 24
	// DefaultMaxRequestMACs bounds one linear request's multiply-adds:
	// 2^35, 256 times ResNet-50's largest convolution (about 2^27 per
	// image), whose generation took 0.10-0.13 s on a loaded 2-core machine
	// (BenchmarkGenerateLinear), so about half a minute at most.
	DefaultMaxRequestMACs = 1 << 35
	// DefaultMaxRequestBytes bounds one request's encoded material, both
	// parties' halves (8 GiB).
	DefaultMaxRequestBytes = 8 << 30
	// DefaultMaxSessionCPU bounds the time one session's requests spend
	// generating.
	DefaultMaxSessionCPU = 30 * time.Minute
	// DefaultIdleTimeout ends a session that asked for no material for
	// this long (pings do not count).
	DefaultIdleTimeout = 15 * time.Minute
	// DefaultMaxPending and DefaultMaxPendingPerHost bound the
	// connections not yet in a session (see Server.MaxPending).
	DefaultMaxPending        = 1024
	DefaultMaxPendingPerHost = 64
	// DefaultHelloTimeout bounds the wait for a connection's hello.
	DefaultHelloTimeout = 10 * time.Second
)

// Server is the network dealer. Each connection serves one party of one
// session; sessions are independent (a failing connection only ends its
// own session's material). Safe for concurrent use; Serve may be called
// once.
//
// Admission and quotas: every check that can refuse a party is made
// before anything is generated for it, and each refusal is counted by
// cause (Stats.Refused). A hello must name a valid role (with a client
// certificate for the server role when RequireServerCert; with a ticket
// when TicketKey is set); a request must be within MaxRequestElems,
// MaxRequestMACs and MaxRequestBytes; a request that generates waits
// while its session holds MaxSessionHeld of unclaimed material or the
// dealer MaxMemory, fails when its session has generated for
// MaxSessionCPU, and runs when one of MaxGenerating slots is free. A
// session idle for IdleTimeout is ended, and the generations it waits for
// are abandoned.
type Server struct {
	// Generator generates the material (NewRandomGenerator in production).
	Generator *mpcdealer.Generator
	// MaxSessions bounds the sessions open at once (default 4096).
	MaxSessions int
	// MaxUsed bounds the remembered ended session ids used to refuse
	// replays (default 2^20; the oldest are forgotten first).
	MaxUsed int
	// Grace is how long Serve drains after ctx ends: it reports not ready
	// (Ready), refuses new sessions, lets the open ones go on (their
	// parties may still join and fetch) until none is left or Grace has
	// passed, then closes the rest (default 10 s; negative: close at once).
	Grace time.Duration
	// MaxMemory bounds the material held in memory: the halves generated
	// for one party and waiting until it asks for them (what a pooled
	// session costs before its client arrives; about 0.5 GB for an
	// all-ReLU ResNet-20 inference). A request that would generate new
	// material while this much is held waits up to MemoryWait for it to
	// fall, then fails its session with ErrMemory (the other sessions go
	// on). The check is made before each generation, so concurrent
	// generations may exceed the bound by one request's material each.
	// 0: DefaultMaxMemory(); negative: no bound.
	MaxMemory int64
	// MaxSessionHeld bounds the unclaimed material of one session, as
	// MaxMemory does for all (same wait, then ErrMemory), so that one
	// session (a party that prefetches and whose peer never comes) cannot
	// take the whole of MaxMemory from the others. 0: half of MaxMemory
	// (none without a MaxMemory); negative: no bound.
	MaxSessionHeld int64
	// MemoryWait is how long a request waits for memory (default 30 s;
	// keep it below the parties' read timeouts).
	MemoryWait time.Duration
	// MaxRequestElems, MaxRequestMACs and MaxRequestBytes bound one
	// request (see Cost): its elements, its multiply-adds and its encoded
	// material (both halves). A request above any of them is refused with
	// ErrRequestLimit, nothing generated. 0: the defaults; negative: no
	// bound (mpc's own validation still applies).
	MaxRequestElems, MaxRequestMACs, MaxRequestBytes int64
	// MaxSessionCPU bounds the time one session's requests spend
	// generating (wall time of the generations its parties caused; a
	// generation runs on one goroutine, so about its CPU time). A request
	// that would generate after that fails its session with ErrQuota.
	// 0: DefaultMaxSessionCPU; negative: no bound.
	MaxSessionCPU time.Duration
	// IdleTimeout ends a session (closing its parties' connections) when
	// neither party has asked for material for this long; pings do not
	// count. 0: DefaultIdleTimeout; negative: never.
	IdleTimeout time.Duration
	// MaxGenerating bounds the generations running at once over all
	// sessions (0: GOMAXPROCS), so that a burst of sessions shares the
	// CPU instead of multiplying its working memory; a waiting request
	// gives up when its session ends.
	MaxGenerating int
	// MaxPending and MaxPendingPerHost bound the connections that have not
	// joined a session yet (TLS handshake and hello), overall and per
	// source IP address; more are closed at once (refusal causes
	// "pending", "pending_host"). 0: DefaultMaxPending and
	// DefaultMaxPendingPerHost; negative: no bound.
	MaxPending, MaxPendingPerHost int
	// HelloTimeout is how long a connection may take to send its hello
	// (default 10 s): with MaxPendingPerHost, it bounds how long stalled
	// connections from one host can keep others from that host out.
	HelloTimeout time.Duration
	// RequireServerCert reserves the server role (party 0) to peers that
	// presented a client certificate verified by the listener's
	// secnet.Config.ClientCAFile (--server-ca); Serve refuses to start
	// when the listener does not verify client certificates.
	RequireServerCert bool
	// RequirePlan refuses every request of a session until its server
	// has registered the session's plan (Provider.RegisterPlan); with or
	// without it, a registered plan is enforced.
	RequirePlan bool
	// TicketKey, if set (at least MinTicketKey bytes, from a file: see
	// ReadSecretFile), makes every hello carry its party's Ticket, except
	// a server authenticated by its certificate under RequireServerCert.
	TicketKey []byte
	// Logger receives one structured record per session event (attributes
	// session, party, cause, ...). If nil, Logf receives them as text
	// lines; if both are nil nothing is logged.
	Logger *slog.Logger
	// Logf, if set and Logger is nil, receives one line per session event.
	Logf func(format string, args ...any)

	mu        sync.Mutex
	sessions  map[SessionID]*session
	used      map[SessionID]struct{}
	usedOrder []SessionID
	draining  atomic.Bool
	started   atomic.Bool
	stopped   atomic.Bool

	genOnce sync.Once
	genSem  chan struct{}
	logOnce sync.Once
	log     *slog.Logger

	served    atomic.Int64
	material  atomic.Int64
	requests  atomic.Int64
	generated atomic.Int64
	genBytes  atomic.Int64
	genNanos  atomic.Int64
	reaped    atomic.Int64
	refusedMu sync.Mutex
	refused   map[string]int64
	genHist   *metrics.Histogram
}

// Refusal causes (Stats.Refused keys, the "cause" log attribute).
const (
	CauseHello         = "hello"          // no hello, or malformed
	CausePending       = "pending"        // MaxPending connections not yet in a session
	CausePendingHost   = "pending_host"   // MaxPendingPerHost from the peer's address
	CauseAuth          = "auth"           // server role without a verified certificate
	CauseTicket        = "ticket"         // missing or wrong ticket
	CauseReplay        = "replay"         // session id already used
	CauseSessions      = "sessions"       // MaxSessions open
	CauseDraining      = "draining"       // new session while draining
	CauseHash          = "hash"           // plan hash differs from the other party's
	CauseRequest       = "request"        // malformed request
	CauseRequestLimit  = "request_limit"  // request above a MaxRequest* bound
	CauseMemory        = "memory"         // MaxMemory held for MemoryWait
	CauseSessionMemory = "session_memory" // MaxSessionHeld held for MemoryWait
	CauseSessionCPU    = "session_cpu"    // MaxSessionCPU spent
	CauseMismatch      = "mismatch"       // the parties asked for different material
	CausePlan          = "plan"           // request outside the registered plan, or a bad registration
)

type session struct {
	hub    *mpcdealer.Pairing
	hash   [32]byte
	tag    SessionTag
	joined [2]bool
	active int
	ctx    context.Context
	cancel context.CancelCauseFunc
	last   atomic.Int64 // unix nanoseconds of the last request (or the join)
	cpu    atomic.Int64 // nanoseconds spent generating
	plan   atomic.Pointer[plan]
}

// Stats are a dealer's counters.
type Stats struct {
	// Sessions is the number of party connections that joined a session.
	Sessions int64 `json:"sessions"`
	// MaterialBytes is the encoded material sent.
	MaterialBytes int64 `json:"material_bytes"`
	// Requests is the number of material requests served.
	Requests int64 `json:"requests"`
	// Generated is the number of generations (a pair of halves each), and
	// GeneratedBytes their encoded material, both halves.
	Generated      int64 `json:"generated"`
	GeneratedBytes int64 `json:"generated_bytes"`
	// GenerateSeconds is the time spent generating.
	GenerateSeconds float64 `json:"generate_seconds"`
	// Open is the number of sessions open now.
	Open int `json:"open"`
	// Held is the material held in memory for parties now (see
	// Server.MaxMemory).
	Held int64 `json:"held_bytes"`
	// Abandoned is the key memory still being allocated for generations
	// that ended first (fss.AbandonedBytes; counted against MaxMemory).
	Abandoned int64 `json:"abandoned_alloc_bytes"`
	// MemoryRefused is the number of sessions failed by the memory bounds
	// (Refused["memory"] + Refused["session_memory"]).
	MemoryRefused int64 `json:"memory_refused"`
	// Reaped is the number of sessions ended by IdleTimeout.
	Reaped int64 `json:"reaped"`
	// Refused counts refused hellos and requests by cause (the Cause*
	// constants).
	Refused map[string]int64 `json:"refused"`
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	open := len(s.sessions)
	s.mu.Unlock()
	st := Stats{Sessions: s.served.Load(), MaterialBytes: s.material.Load(), Requests: s.requests.Load(),
		Generated: s.generated.Load(), GeneratedBytes: s.genBytes.Load(),
		GenerateSeconds: time.Duration(s.genNanos.Load()).Seconds(),
		Open:            open, Held: s.held(), Abandoned: abandonedBytes(), Reaped: s.reaped.Load(), Refused: map[string]int64{}}
	s.refusedMu.Lock()
	for k, v := range s.refused {
		st.Refused[k] = v
	}
	s.refusedMu.Unlock()
	st.MemoryRefused = st.Refused[CauseMemory] + st.Refused[CauseSessionMemory]
	return st
}

// Ready reports whether the dealer takes new sessions: Serve has started
// and is not draining (the readiness probe).
func (s *Server) Ready() bool { return s.started.Load() && !s.draining.Load() && !s.stopped.Load() }

// Register adds the dealer's metrics to r (names autorep_dealer_*; see
// docs/SECURITY.md for what each means to an operator).
func (s *Server) Register(r *metrics.Registry) {
	s.genOnce.Do(s.initGen)
	stat := func(f func(Stats) float64) func() float64 { return func() float64 { return f(s.Stats()) } }
	r.CounterFunc("autorep_dealer_party_sessions_total", "Party connections that joined a session.", stat(func(st Stats) float64 { return float64(st.Sessions) }))
	r.GaugeFunc("autorep_dealer_sessions_open", "Sessions open now.", stat(func(st Stats) float64 { return float64(st.Open) }))
	r.CounterFunc("autorep_dealer_requests_total", "Material requests served.", stat(func(st Stats) float64 { return float64(st.Requests) }))
	r.CounterFunc("autorep_dealer_material_sent_bytes_total", "Encoded material sent to parties.", stat(func(st Stats) float64 { return float64(st.MaterialBytes) }))
	r.CounterFunc("autorep_dealer_generations_total", "Generations (both halves of one request each).", stat(func(st Stats) float64 { return float64(st.Generated) }))
	r.CounterFunc("autorep_dealer_generated_bytes_total", "Encoded material generated, both halves.", stat(func(st Stats) float64 { return float64(st.GeneratedBytes) }))
	r.GaugeFunc("autorep_dealer_material_held_bytes", "Generated halves held until their party fetches them.", stat(func(st Stats) float64 { return float64(st.Held) }))
	r.GaugeFunc("autorep_dealer_abandoned_alloc_bytes", "Key memory still being allocated for generations that ended first (counted against --max-memory).", stat(func(st Stats) float64 { return float64(st.Abandoned) }))
	r.CounterFunc("autorep_dealer_sessions_reaped_total", "Sessions ended by the idle timeout.", stat(func(st Stats) float64 { return float64(st.Reaped) }))
	r.LabeledCounterFunc("autorep_dealer_refused_total", "Hellos and requests refused, by cause.", "cause", func() map[string]float64 {
		m := map[string]float64{}
		for k, v := range s.Stats().Refused {
			m[k] = float64(v)
		}
		return m
	})
	r.Histogram("autorep_dealer_generate_seconds", "Time of one generation.", s.genHist)
	r.GaugeFunc("autorep_dealer_ready", "1 while the dealer takes new sessions, 0 while starting or draining.", func() float64 {
		if s.Ready() {
			return 1
		}
		return 0
	})
}

// Errors returned (and sent to the party) by the admission checks.
var (
	// ErrMemory: a request would generate material while the dealer holds
	// MaxMemory, or its session MaxSessionHeld, for longer than
	// MemoryWait.
	ErrMemory = errors.New("dealer memory limit reached")
	// ErrRequestLimit: a request above MaxRequestElems, MaxRequestMACs
	// or MaxRequestBytes.
	ErrRequestLimit = errors.New("request above the dealer's per-request limit")
	// ErrQuota: a session spent MaxSessionCPU generating.
	ErrQuota = errors.New("session generation quota spent")
	// ErrNotServer: a hello claiming the server role without the client
	// certificate RequireServerCert asks for.
	ErrNotServer = errors.New("the server role needs a client certificate signed by the dealer's --server-ca")
	// ErrReplay: a session id already joined by the same party or ended.
	ErrReplay = errors.New("session id already used (replay refused)")
	// ErrDraining: a new session while the dealer shuts down.
	ErrDraining = errors.New("dealer shutting down; no new sessions")
	// errIdle ends a session idle for IdleTimeout.
	errIdle = errors.New("session idle too long")
)

// refusal is an error with its cause for the counters.
type refusal struct {
	cause string
	err   error
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

func refuse(cause string, err error) error { return &refusal{cause, err} }

// count records a refusal.
func (s *Server) count(cause string) {
	s.refusedMu.Lock()
	defer s.refusedMu.Unlock()
	if s.refused == nil {
		s.refused = map[string]int64{}
	}
	s.refused[cause]++
}

// held returns the material held for parties over all open sessions.
func (s *Server) held() int64 {
	s.mu.Lock()
	hubs := make([]*mpcdealer.Pairing, 0, len(s.sessions))
	for _, se := range s.sessions {
		hubs = append(hubs, se.hub)
	}
	s.mu.Unlock()
	var n int64
	for _, h := range hubs {
		n += h.Pending()
	}
	return n
}

// bound resolves a limit: v if positive, def for 0, none (-1) if negative.
func bound(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return -1
	}
	return v
}

// maxMemory is the effective bound (negative: none).
func (s *Server) maxMemory() int64 { return bound(s.MaxMemory, DefaultMaxMemory()) }

// maxSessionHeld is the effective per-session bound (negative: none).
func (s *Server) maxSessionHeld() int64 {
	def := int64(-1)
	if m := s.maxMemory(); m > 0 {
		def = max(m/2, 1)
	}
	return bound(s.MaxSessionHeld, def)
}

// checkRequest applies the per-request bounds.
func (s *Server) checkRequest(req corr.Request, c Cost) error {
	for _, l := range []struct {
		what     string
		got, max int64
		flag     string
	}{
		{"elements", c.Elems, bound(s.MaxRequestElems, DefaultMaxRequestElems), "--max-request-elems"},
		{"multiply-adds", c.MACs, bound(s.MaxRequestMACs, DefaultMaxRequestMACs), "--max-request-macs"},
		{"bytes of material", c.Total(), bound(s.MaxRequestBytes, DefaultMaxRequestBytes), "--max-request-bytes"},
	} {
		if l.max >= 0 && l.got > l.max {
			return refuse(CauseRequestLimit, fmt.Errorf("%w: %v %q: %d %s, limit %d (dealer %s)", ErrRequestLimit, req.Kind, req.Label, l.got, l.what, l.max, l.flag))
		}
	}
	return nil
}

// abandonedBytes is fss.AbandonedBytes (a variable for the tests).
var abandonedBytes = fss.AbandonedBytes

// admit waits until a request that generates may: while the dealer holds
// MaxMemory or the session MaxSessionHeld, for at most MemoryWait; and it
// fails when the session has spent MaxSessionCPU. Key memory still being
// allocated for generations that ended first (a party that asked for a
// batch above the buffer pool's bound and left: the runtime's clearing of
// it cannot be stopped) counts against MaxMemory until it is done, so such
// allocations cannot pile up beyond it.
func (s *Server) admit(ctx context.Context, se *session) error {
	if q := time.Duration(bound(int64(s.MaxSessionCPU), int64(DefaultMaxSessionCPU))); q >= 0 {
		if spent := time.Duration(se.cpu.Load()); spent >= q {
			return refuse(CauseSessionCPU, fmt.Errorf("%w: %v of generation (limit %v, dealer --session-cpu)", ErrQuota, spent.Round(time.Millisecond), q))
		}
	}
	limit, sessLimit := s.maxMemory(), s.maxSessionHeld()
	wait := s.MemoryWait
	if wait <= 0 {
		wait = DefaultMemoryWait
	}
	deadline := time.Now().Add(wait)
	for {
		var err error
		if h := se.hub.Pending(); sessLimit >= 0 && h >= sessLimit {
			err = refuse(CauseSessionMemory, fmt.Errorf("%w: this session holds %s of material its other party has not fetched (limit %s per session) for %v; retry later", ErrMemory, FormatBytes(h), FormatBytes(sessLimit), wait))
		} else if h := s.held() + abandonedBytes(); limit >= 0 && h >= limit {
			err = refuse(CauseMemory, fmt.Errorf("%w: %s of material waiting for parties or still being allocated for ended generations (limit %s) for %v; retry later", ErrMemory, FormatBytes(h), FormatBytes(limit), wait))
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

func (s *Server) initGen() {
	n := s.MaxGenerating
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	s.genSem = make(chan struct{}, n)
	s.genHist = metrics.NewHistogram(GenerateBuckets)
}

// GenerateBuckets are the bounds (seconds) of the generation-time
// histogram: 1 ms to about 30 s.
var GenerateBuckets = []float64{0.001, 0.004, 0.016, 0.064, 0.25, 1, 4, 16, 32}

// generate runs hub.GetContext for a request that generates, holding one
// of the MaxGenerating slots, and charges its time to the session. The
// generation stops early when ctx ends (the session ends, the party's
// connection fails, the drain's grace expires).
func (s *Server) generate(ctx context.Context, se *session, p mpc.Party, req corr.Request, c Cost) (*corr.Material, error) {
	s.genOnce.Do(s.initGen)
	select {
	case s.genSem <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	start := time.Now()
	m, err := se.hub.GetContext(ctx, p, req)
	el := time.Since(start)
	<-s.genSem
	se.cpu.Add(int64(el))
	s.genNanos.Add(int64(el))
	s.genHist.Observe(el.Seconds())
	if err == nil {
		s.generated.Add(1)
		s.genBytes.Add(c.Total())
	}
	return m, err
}

// logger returns the structured logger (Logger, or one writing to Logf).
func (s *Server) logger() *slog.Logger {
	s.logOnce.Do(func() {
		switch {
		case s.Logger != nil:
			s.log = s.Logger
		case s.Logf != nil:
			s.log = LogfLogger("dealer: ", s.Logf)
		default:
			s.log = slog.New(slog.DiscardHandler)
		}
	})
	return s.log
}

// LogfLogger returns a structured text logger writing each record, without
// its time (the sink adds its own), as one line to logf after prefix:
// for processes and tests that pass a Logf function (t.Logf, log.Printf).
func LogfLogger(prefix string, logf func(format string, args ...any)) *slog.Logger {
	return slog.New(slog.NewTextHandler(logfWriter{prefix, logf}, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
}

// logfWriter adapts a Logf function to the io.Writer of a slog handler
// (one record per Write).
type logfWriter struct {
	prefix string
	logf   func(format string, args ...any)
}

func (w logfWriter) Write(b []byte) (int, error) {
	w.logf("%s%s", w.prefix, strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// join registers party p in session h.sid, creating the session for its
// first party.
func (s *Server) join(h helloMsg, p mpc.Party) (*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions == nil {
		s.sessions = map[SessionID]*session{}
		s.used = map[SessionID]struct{}{}
	}
	if _, ok := s.used[h.sid]; ok {
		return nil, refuse(CauseReplay, ErrReplay)
	}
	se, ok := s.sessions[h.sid]
	if !ok {
		if s.draining.Load() {
			return nil, refuse(CauseDraining, ErrDraining)
		}
		maxS := s.MaxSessions
		if maxS <= 0 {
			maxS = DefaultMaxSessions
		}
		if len(s.sessions) >= maxS {
			return nil, refuse(CauseSessions, fmt.Errorf("too many open sessions (%d)", maxS))
		}
		se = &session{hub: mpcdealer.NewPairing(s.Generator), hash: h.hash}
		if _, err := rand.Read(se.tag[:]); err != nil {
			return nil, fmt.Errorf("session tag: %w", err)
		}
		se.ctx, se.cancel = context.WithCancelCause(context.Background())
		s.sessions[h.sid] = se
	}
	if se.joined[p] {
		return nil, refuse(CauseReplay, ErrReplay)
	}
	if se.hash != h.hash {
		return nil, refuse(CauseHash, fmt.Errorf("public plan hash %x differs from the other party's %x", h.hash[:8], se.hash[:8]))
	}
	se.joined[p] = true
	se.active++
	se.last.Store(time.Now().UnixNano())
	return se, nil
}

// leave ends party p's connection to sid; the session ends (its id is
// remembered as used, its waiting work is cancelled) when no party is
// connected.
func (s *Server) leave(sid SessionID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.sessions[sid]
	if !ok {
		return
	}
	se.active--
	if se.active > 0 {
		return
	}
	se.cancel(errors.New("session ended"))
	delete(s.sessions, sid)
	s.used[sid] = struct{}{}
	s.usedOrder = append(s.usedOrder, sid)
	maxU := s.MaxUsed
	if maxU <= 0 {
		maxU = DefaultMaxUsed
	}
	for len(s.usedOrder) > maxU {
		delete(s.used, s.usedOrder[0])
		s.usedOrder = s.usedOrder[1:]
	}
}

// reap ends the sessions idle for longer than the idle timeout and
// returns how many.
func (s *Server) reap(now time.Time, idle time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for sid, se := range s.sessions {
		if se.ctx.Err() == nil && now.Sub(time.Unix(0, se.last.Load())) > idle {
			se.cancel(fmt.Errorf("%w (no request for %v)", errIdle, idle))
			s.reaped.Add(1)
			s.logger().Info("session reaped", "session", sid.String(), "idle", idle.String())
			n++
		}
	}
	return n
}

// Serve accepts parties on ln until ctx ends, then drains (see Grace). It
// closes ln and returns nil after a shutdown, or the accept error.
func (s *Server) Serve(ctx context.Context, ln *secnet.Listener) error {
	if s.Generator == nil {
		return errors.New("dealer: no mpcdealer.Generator")
	}
	if s.RequireServerCert && !ln.VerifiesClients() {
		ln.Close()
		return errors.New("dealer: RequireServerCert needs a TLS listener with ClientCAFile (--server-ca)")
	}
	if s.TicketKey != nil && len(s.TicketKey) < MinTicketKey {
		ln.Close()
		return fmt.Errorf("dealer: ticket key of %d bytes, want at least %d", len(s.TicketKey), MinTicketKey)
	}
	if !s.started.CompareAndSwap(false, true) {
		ln.Close()
		return errors.New("dealer: Serve called twice")
	}
	defer s.stopped.Store(true)
	grace := s.Grace
	if grace == 0 {
		grace = DefaultGrace
	}
	loopCtx, stopLoop := context.WithCancel(context.Background())
	defer stopLoop()
	go func() {
		select {
		case <-ctx.Done():
		case <-loopCtx.Done():
			return
		}
		s.drain(grace)
		stopLoop()
	}()
	if idle := time.Duration(bound(int64(s.IdleTimeout), int64(DefaultIdleTimeout))); idle > 0 {
		go func() {
			t := time.NewTicker(min(max(idle/4, 10*time.Millisecond), time.Minute))
			defer t.Stop()
			for {
				select {
				case <-loopCtx.Done():
					return
				case now := <-t.C:
					s.reap(now, idle)
				}
			}
		}()
	}
	// The drain already gave the sessions their grace: close what is left.
	loopLog := func(format string, args ...any) { s.logger().Info(fmt.Sprintf(format, args...)) }
	loop := &acceptloop.Loop{Name: "dealer", Grace: -1, Handle: s.handle, Logf: loopLog,
		MaxPending: int(bound(int64(s.MaxPending), DefaultMaxPending)), MaxPendingPerHost: int(bound(int64(s.MaxPendingPerHost), DefaultMaxPendingPerHost)),
		Rejected: func(host string, perHost bool) {
			cause := CausePending
			if perHost {
				cause = CausePendingHost
			}
			s.count(cause)
		}}
	return loop.Run(loopCtx, ln)
}

// drain marks the dealer not ready, refuses new sessions, and waits up to
// grace for the open ones to end.
func (s *Server) drain(grace time.Duration) {
	s.draining.Store(true)
	if grace <= 0 {
		return
	}
	open := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.sessions)
	}
	s.logger().Info("draining", "open_sessions", open(), "grace", grace.String())
	deadline := time.Now().Add(grace)
	for open() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// authenticate checks that the hello's party may take its role.
func (s *Server) authenticate(conn *transport.FramedConn, h helloMsg) error {
	p := mpc.Party(h.party)
	if p == mpc.Server && s.RequireServerCert {
		if _, ok := secnet.PeerVerified(conn); !ok {
			return refuse(CauseAuth, ErrNotServer)
		}
		return nil // the certificate admits the server; no ticket needed
	}
	if s.TicketKey != nil {
		if err := VerifyTicket(s.TicketKey, p, h.sid, h.hash, h.ticket); err != nil {
			return refuse(CauseTicket, err)
		}
	}
	return nil
}

// handle serves one party connection past its handshake.
func (s *Server) handle(ctx context.Context, conn *transport.FramedConn) {
	log := s.logger().With("peer", conn.RemoteAddr().String())
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	hto := s.HelloTimeout
	if hto <= 0 {
		hto = DefaultHelloTimeout
	}
	timer := time.AfterFunc(hto, func() { conn.Close() })
	b, err := transport.RecvMax(conn, helloLen) // a longer hello is refused unread
	timer.Stop()
	if err != nil {
		s.count(CauseHello)
		log.Info("no hello", "cause", CauseHello, "err", err)
		return
	}
	h, err := parseHello(b)
	if err == nil {
		err = s.authenticate(conn, h)
	} else {
		err = refuse(CauseHello, err)
	}
	var se *session
	if err == nil {
		se, err = s.join(h, mpc.Party(h.party))
	}
	if err != nil {
		cause := "error"
		if r := (*refusal)(nil); errors.As(err, &r) {
			cause = r.cause
		}
		s.count(cause)
		log.Info("refused", "session", h.sid.String(), "party", int(h.party), "cause", cause, "err", err)
		conn.Send(frame.Error(tagError, err.Error()))
		return
	}
	acceptloop.Authenticated(ctx) // in a session: no longer counts as pending
	p := mpc.Party(h.party)
	defer s.leave(h.sid)
	log = log.With("session", h.sid.String(), "party", p.String())
	// The connection ends with its session (idle, quota, drain).
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopS := context.AfterFunc(se.ctx, func() { cancel(context.Cause(se.ctx)); conn.Close() })
	defer stopS()
	s.served.Add(1)
	log.Info("joined", "tag", se.tag.String()[:16])
	if err := conn.Send(append([]byte(tagOK), se.tag[:]...)); err != nil {
		return
	}
	var items, bytes int64
	err = s.loop(cctx, conn, se, p, &items, &bytes)
	switch {
	case err == nil, errors.Is(err, io.EOF):
		log.Info("done", "items", items, "bytes", bytes)
	case context.Cause(cctx) != nil && context.Cause(cctx) != context.Canceled:
		log.Info("ended", "cause", context.Cause(cctx).Error(), "items", items, "bytes", bytes)
	default:
		cause := ""
		if r := (*refusal)(nil); errors.As(err, &r) {
			cause = r.cause
		}
		log.Info("failed", "cause", cause, "err", err, "items", items)
	}
}

// registerPlan records the plan party p registered for session se.
func (s *Server) registerPlan(se *session, p mpc.Party, b []byte) error {
	if p != mpc.Server {
		return refuse(CausePlan, errors.New("only the server registers the plan"))
	}
	pl, err := parsePlan(b, func(r corr.Request) error { return s.checkRequest(r, RequestCost(r)) })
	if err != nil {
		return refuse(CausePlan, err)
	}
	if !se.plan.CompareAndSwap(nil, pl) {
		return refuse(CausePlan, errors.New("plan already registered"))
	}
	return nil
}

// requestFrame bounds a request frame: its ReLU mask has a bit per
// position, at most the request's elements.
func (s *Server) requestFrame() int {
	if e := bound(s.MaxRequestElems, DefaultMaxRequestElems); e >= 0 && e < corr.MaxMaterialElems {
		return maxRequestFrame - corr.MaxMaterialElems/8 + int(e+7)/8
	}
	return maxRequestFrame
}

// loop answers requests and pings until the party leaves.
func (s *Server) loop(ctx context.Context, conn transport.Conn, se *session, p mpc.Party, items, bytes *int64) error {
	maxFrame := s.requestFrame()
	if p == mpc.Server && se.plan.Load() == nil {
		maxFrame = max(maxFrame, maxPlanFrame) // until the plan is registered
	}
	fail := func(err error) error {
		if r := (*refusal)(nil); errors.As(err, &r) {
			s.count(r.cause)
		}
		conn.Send(frame.Error(tagError, err.Error()))
		return err
	}
	// The connection is read ahead (readahead.go): a party that
	// disconnects, even after pipelining requests, ends the wait or the
	// generation for it through gctx at once instead of being noticed
	// only when its material is sent or its queued requests are read.
	gctx, gone := context.WithCancelCause(ctx)
	defer gone(nil)
	ahead := startReadAhead(conn, maxFrame, func(err error) { gone(fmt.Errorf("party %v: %w", p, err)) })
	defer ahead.stop()
	for {
		b, err := ahead.next()
		if err != nil {
			return err
		}
		if string(b) == tagPing {
			if err := conn.Send([]byte(tagPing)); err != nil {
				return err
			}
			continue
		}
		if len(b) >= len(tagPlan) && string(b[:len(tagPlan)]) == tagPlan {
			if err := s.registerPlan(se, p, b); err != nil {
				return fail(err)
			}
			ahead.setLimit(s.requestFrame())
			if err := conn.Send([]byte(tagPlan)); err != nil {
				return err
			}
			continue
		}
		req, err := corr.UnmarshalRequest(b)
		if err != nil {
			return fail(refuse(CauseRequest, err))
		}
		c := RequestCost(req)
		if err := s.checkRequest(req, c); err != nil {
			return fail(err)
		}
		if pl := se.plan.Load(); pl != nil {
			if err := pl.allow(p, req); err != nil {
				return fail(err)
			}
		} else if s.RequirePlan {
			return fail(refuse(CausePlan, fmt.Errorf("%w: the server has not registered one (dealer requires it)", ErrPlan)))
		}
		se.last.Store(time.Now().UnixNano())
		var m *corr.Material
		if se.hub.Generates(p, req) {
			if err := s.admit(gctx, se); err != nil {
				return fail(err)
			}
			m, err = s.generate(gctx, se, p, req, c)
		} else {
			m, err = se.hub.GetContext(gctx, p, req)
		}
		if err != nil {
			if strings.Contains(err.Error(), "different material") {
				err = refuse(CauseMismatch, err)
			}
			return fail(err)
		}
		if err := context.Cause(gctx); err != nil { // the session or the party ended during the generation
			m.Release()
			return err
		}
		// The FSS keys go out from their own memory (no encoded copy of
		// the material is built).
		head, body, err := m.MarshalParts()
		if err != nil {
			return fail(err)
		}
		if err := transport.SendParts(conn, head, body); err != nil {
			return err
		}
		n := int64(len(head) + len(body))
		m.Release() // sent, and held by nobody else: recycle the keys' memory
		*items++
		*bytes += n
		s.requests.Add(1)
		s.material.Add(n)
	}
}
