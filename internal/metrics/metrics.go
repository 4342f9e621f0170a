// Package metrics exposes a process's counters in the Prometheus text
// exposition format (version 0.0.4) with health and readiness probes, for
// autorep's long-running processes (dealer today; serve can adopt it the
// same way, see Endpoint).
//
// It is the standard library only, not github.com/prometheus/client_golang:
// the processes need counters, gauges and a few histograms whose values
// mostly already live in their own Stats (read at scrape time through
// CounterFunc and GaugeFunc), which is a page of code; the client library
// would add about ten modules (protobuf among them) to a module that has
// two dependencies, for features (push gateway, exemplars, protobuf
// exposition, runtime collectors) the service does not use. The text
// format is stable and what every Prometheus-compatible scraper reads.
//
// A Registry holds metrics in registration order; Endpoint serves
// /metrics, /healthz (the process is alive: 200) and /readyz (200 while
// Ready reports true, else 503: a draining process is taken out of load
// balancing before it stops).
package metrics

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Registry holds named metrics. Safe for concurrent use.
type Registry struct {
	mu    sync.Mutex
	names map[string]bool
	items []metric
}

type metric struct {
	name, help, typ string
	write           func(w *bufio.Writer, name string)
}

var nameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{names: map[string]bool{}} }

func (r *Registry) add(name, help, typ string, write func(*bufio.Writer, string)) {
	if !nameRE.MatchString(name) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", name)) // a programming error, caught by any test that registers it
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[name] {
		panic(fmt.Sprintf("metrics: %q registered twice", name))
	}
	r.names[name] = true
	r.items = append(r.items, metric{name, help, typ, write})
}

// Counter is a monotonically increasing count.
type Counter struct{ v atomic.Int64 }

// Add adds n (n ≥ 0).
func (c *Counter) Add(n int64) { c.v.Add(n) }

// Inc adds 1.
func (c *Counter) Inc() { c.v.Add(1) }

// Value is the count.
func (c *Counter) Value() int64 { return c.v.Load() }

// Counter registers and returns a new counter.
func (r *Registry) Counter(name, help string) *Counter {
	c := &Counter{}
	r.CounterFunc(name, help, func() float64 { return float64(c.Value()) })
	return c
}

// CounterFunc registers a counter read from f at each scrape (a count the
// process keeps anyway, e.g. in its Stats).
func (r *Registry) CounterFunc(name, help string, f func() float64) {
	r.add(name, help, "counter", func(w *bufio.Writer, n string) { sample(w, n, "", f()) })
}

// GaugeFunc registers a gauge read from f at each scrape.
func (r *Registry) GaugeFunc(name, help string, f func() float64) {
	r.add(name, help, "gauge", func(w *bufio.Writer, n string) { sample(w, n, "", f()) })
}

// LabeledCounterFunc registers a counter with one label whose values and
// counts f returns at each scrape (e.g. refusals by cause), written in
// sorted label order.
func (r *Registry) LabeledCounterFunc(name, help, label string, f func() map[string]float64) {
	if !nameRE.MatchString(label) || strings.HasPrefix(label, "__") {
		panic(fmt.Sprintf("metrics: invalid label name %q", label))
	}
	r.add(name, help, "counter", func(w *bufio.Writer, n string) {
		m := f()
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			sample(w, n, label+`="`+escapeLabel(k)+`"`, m[k])
		}
	})
}

// Histogram counts observations in cumulative buckets (upper bounds,
// "le"), with their sum and count. Safe for concurrent use.
type Histogram struct {
	bounds []float64
	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative; last is +Inf
	sum    float64
	n      uint64
}

// NewHistogram returns a histogram with the given increasing upper
// bounds (+Inf is implicit).
func NewHistogram(bounds []float64) *Histogram {
	if !slices.IsSorted(bounds) || slices.ContainsFunc(bounds, func(b float64) bool { return math.IsNaN(b) || math.IsInf(b, 0) }) {
		panic("metrics: histogram bounds must be finite and increasing")
	}
	return &Histogram{bounds: slices.Clone(bounds), counts: make([]uint64, len(bounds)+1)}
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v) // first bound ≥ v: v ≤ le
	h.mu.Lock()
	h.counts[i]++
	h.sum += v
	h.n++
	h.mu.Unlock()
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// Histogram registers h.
func (r *Registry) Histogram(name, help string, h *Histogram) {
	r.add(name, help, "histogram", func(w *bufio.Writer, n string) {
		h.mu.Lock()
		counts, sum, cnt := slices.Clone(h.counts), h.sum, h.n
		h.mu.Unlock()
		var cum uint64
		for i, b := range h.bounds {
			cum += counts[i]
			sample(w, n+"_bucket", `le="`+formatFloat(b)+`"`, float64(cum))
		}
		sample(w, n+"_bucket", `le="+Inf"`, float64(cnt))
		sample(w, n+"_sum", "", sum)
		sample(w, n+"_count", "", float64(cnt))
	})
}

// RegisterProcess adds the process's resident memory, heap and goroutine
// count (process_resident_memory_bytes from /proc/self/statm where it
// exists; go_memstats_heap_inuse_bytes; go_goroutines) and its start time.
func (r *Registry) RegisterProcess() {
	start := float64(time.Now().UnixNano()) / 1e9
	if _, err := rss(); err == nil {
		r.GaugeFunc("process_resident_memory_bytes", "Resident memory size in bytes.", func() float64 {
			v, _ := rss()
			return float64(v)
		})
	}
	r.GaugeFunc("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.", func() float64 { return start })
	r.GaugeFunc("go_memstats_heap_inuse_bytes", "Bytes in in-use heap spans.", func() float64 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return float64(m.HeapInuse)
	})
	r.GaugeFunc("go_goroutines", "Number of goroutines that currently exist.", func() float64 { return float64(runtime.NumGoroutine()) })
}

// rss reads the resident set size from /proc/self/statm (pages).
func rss() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, errors.New("metrics: malformed /proc/self/statm")
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("metrics: /proc/self/statm: %w", err)
	}
	return pages * int64(os.Getpagesize()), nil
}

// WriteText writes every metric in the text exposition format.
func (r *Registry) WriteText(w io.Writer) error {
	r.mu.Lock()
	items := slices.Clone(r.items)
	r.mu.Unlock()
	bw := bufio.NewWriter(w)
	for _, m := range items {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", m.name, escapeHelp(m.help), m.name, m.typ)
		m.write(bw, m.name)
	}
	return bw.Flush()
}

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Handler serves the registry at any path (mount it at /metrics).
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		r.WriteText(w)
	})
}

func sample(w *bufio.Writer, name, labels string, v float64) {
	w.WriteString(name)
	if labels != "" {
		w.WriteString("{" + labels + "}")
	}
	w.WriteString(" " + formatFloat(v) + "\n")
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// Endpoint is a process's metrics and probes.
type Endpoint struct {
	// Registry is served at /metrics.
	Registry *Registry
	// Ready reports readiness for /readyz (nil: always ready).
	Ready func() bool
}

// Handler serves /metrics, /healthz and /readyz.
func (e *Endpoint) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", e.Registry.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if e.Ready != nil && !e.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	return mux
}

// Listen listens on addr (host:port) for the endpoint and serves it in the
// background until ctx ends; it returns the bound address. Metrics carry
// no secrets but describe the load: bind it to a private interface.
func (e *Endpoint) Listen(ctx context.Context, addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	go srv.Serve(ln)
	context.AfterFunc(ctx, func() { srv.Close() })
	return ln.Addr(), nil
}
