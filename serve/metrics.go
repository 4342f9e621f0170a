package serve

import (
	"encoding/hex"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/autorep/autorep/internal/metrics"
	"github.com/autorep/autorep/serve/dealer"
	"github.com/autorep/autorep/transport"
)

// Refusal causes (ServerStats.Refused, autorep_serve_refused_total): why a
// connection was turned away before its session started.
const (
	CauseMalformed   = "malformed"    // no hello, a malformed one, or an unsupported version
	CausePlan        = "plan"         // the client expects another public-plan hash
	CauseSuite       = "suite"        // the client insists on another suite
	CauseAuth        = "auth"         // no valid client token (Server.Clients)
	CauseQuota       = "quota"        // the client's sessions at once or query budget are spent
	CauseBusy        = "busy"         // all MaxSessions slots taken
	CauseDealer      = "dealer"       // the dealer session could not be opened
	CausePending     = "pending"      // MaxPending connections already in their handshake
	CausePendingHost = "pending_host" // MaxPendingPerHost from this address
)

// Causes for which the server ends a running session
// (autorep_serve_sessions_closed_total).
const (
	ClosedIdle       = "idle"       // IdleTimeout (or OpenTimeout) passed with nothing moving
	ClosedInferences = "inferences" // MaxInferences reached
	ClosedBudget     = "budget"     // the client's daily query budget reached
	ClosedDraining   = "draining"   // the server is shutting down: closed after an inference
)

// counters are a server's event counts beyond ServerStats' totals.
type counters struct {
	mu      sync.Mutex
	refused map[string]int64
	closed  map[string]int64
	bytes   atomic.Int64 // client connections, both directions
	rounds  atomic.Int64
	latency *metrics.Histogram
}

// latencyBounds are the buckets of the inference time histogram, in
// seconds (LeNet takes tens of ms, ResNet-20 seconds).
var latencyBounds = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60}

func (c *counters) count(m *map[string]int64, cause string) {
	c.mu.Lock()
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[cause]++
	c.mu.Unlock()
}

// snapshot copies *m under the lock: count may replace the map itself,
// so the field is read under the lock too.
func (c *counters) snapshot(m *map[string]int64) map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(*m)
}

func (c *counters) hist() *metrics.Histogram {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.latency == nil {
		c.latency = metrics.NewHistogram(latencyBounds)
	}
	return c.latency
}

// connMeter adds a connection's traffic to the counters as it grows.
type connMeter struct {
	c           *counters
	conn        transport.Conn
	bytes, rnds int64
}

// flush adds the traffic since the previous flush.
func (m *connMeter) flush() {
	t := m.conn.Stats().Total()
	b, r := t.Bytes(), t.Rounds
	m.c.bytes.Add(b - m.bytes)
	m.c.rounds.Add(r - m.rnds)
	m.bytes, m.rnds = b, r
}

// Ready reports whether the server takes new sessions: Serve has started
// and its context has not ended (for /readyz: a draining server is taken
// out of load balancing first).
func (s *Server) Ready() bool { return s.started.Load() && !s.draining.Load() }

// Register adds the server's metrics to r (names autorep_serve_*; see
// docs/SECURITY.md). Values are read from the server at scrape time.
func (s *Server) Register(r *metrics.Registry) {
	stat := func(f func(ServerStats) float64) func() float64 { return func() float64 { return f(s.Stats()) } }
	r.LabeledCounterFunc("autorep_serve_sessions_total", "Client sessions started, by suite.", "suite", func() map[string]float64 {
		st := s.Stats()
		return map[string]float64{st.Suite: float64(st.Sessions)}
	})
	r.GaugeFunc("autorep_serve_sessions_open", "Client sessions running now.", stat(func(st ServerStats) float64 { return float64(st.Active) }))
	r.CounterFunc("autorep_serve_sessions_failed_total", "Sessions that ended with an error.", stat(func(st ServerStats) float64 { return float64(st.Failed) }))
	r.CounterFunc("autorep_serve_inferences_total", "Inference requests served.", stat(func(st ServerStats) float64 { return float64(st.Inferences) }))
	r.CounterFunc("autorep_serve_bytes_total", "Bytes on client connections, both directions (added after each inference and at session end).", stat(func(st ServerStats) float64 { return float64(st.Bytes) }))
	r.CounterFunc("autorep_serve_rounds_total", "Send rounds on client connections.", stat(func(st ServerStats) float64 { return float64(st.Rounds) }))
	r.Histogram("autorep_serve_inference_seconds", "Server time of one inference request (material wait and online phase).", s.counters.hist())
	labeled := func(f func(ServerStats) map[string]int64) func() map[string]float64 {
		return func() map[string]float64 {
			m := map[string]float64{}
			for k, v := range f(s.Stats()) {
				m[k] = float64(v)
			}
			return m
		}
	}
	r.LabeledCounterFunc("autorep_serve_refused_total", "Connections refused before their session, by cause.", "cause", labeled(func(st ServerStats) map[string]int64 { return st.Refused }))
	r.LabeledCounterFunc("autorep_serve_sessions_closed_total", "Sessions the server ended by its limits or drain, by cause.", "cause", labeled(func(st ServerStats) map[string]int64 { return st.Closed }))
	r.GaugeFunc("autorep_serve_material_held_bytes", "Dealer material fetched and not yet used, pooled and running sessions.", stat(func(st ServerStats) float64 { return float64(st.MaterialHeld) }))
	r.GaugeFunc("autorep_serve_sessions_pooled", "Dealer sessions prepared ahead of clients.", stat(func(st ServerStats) float64 { return float64(st.Pooled) }))
	r.GaugeFunc("autorep_serve_ready", "1 while the server takes new sessions, 0 while starting or draining.", func() float64 {
		if s.Ready() {
			return 1
		}
		return 0
	})
}

// logger returns the structured logger (Logger, or one writing to Logf),
// with the plan hash on every record.
func (s *Server) logger() *slog.Logger {
	s.logOnce.Do(func() {
		l := slog.New(slog.DiscardHandler)
		switch {
		case s.Logger != nil:
			l = s.Logger
		case s.Logf != nil:
			l = dealer.LogfLogger("serve: ", s.Logf)
		}
		h := s.Plan.Public.Hash()
		s.log = l.With("plan", hex.EncodeToString(h[:8]))
	})
	return s.log
}
