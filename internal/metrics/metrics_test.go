package metrics

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestTextFormat checks the exposition of every metric type byte for byte:
// help and type lines, escaping, sorted labels, cumulative buckets with
// +Inf, _sum and _count.
func TestTextFormat(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("jobs_total", "Jobs done.\nSecond line \\ backslash.")
	c.Add(3)
	c.Inc()
	r.GaugeFunc("queue_depth", "Items queued.", func() float64 { return 2.5 })
	r.LabeledCounterFunc("refused_total", "Refusals by cause.", "cause", func() map[string]float64 {
		return map[string]float64{"ticket": 2, "auth": 1, `we"ird\`: 7}
	})
	h := NewHistogram([]float64{0.1, 1, 10})
	for _, v := range []float64{0.05, 0.1, 0.5, 3, 100} {
		h.Observe(v)
	}
	r.Histogram("gen_seconds", "Generation time.", h)
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP jobs_total Jobs done.\nSecond line \\ backslash.
# TYPE jobs_total counter
jobs_total 4
# HELP queue_depth Items queued.
# TYPE queue_depth gauge
queue_depth 2.5
# HELP refused_total Refusals by cause.
# TYPE refused_total counter
refused_total{cause="auth"} 1
refused_total{cause="ticket"} 2
refused_total{cause="we\"ird\\"} 7
# HELP gen_seconds Generation time.
# TYPE gen_seconds histogram
gen_seconds_bucket{le="0.1"} 2
gen_seconds_bucket{le="1"} 3
gen_seconds_bucket{le="10"} 4
gen_seconds_bucket{le="+Inf"} 5
gen_seconds_sum 103.65
gen_seconds_count 5
`
	if b.String() != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", b.String(), want)
	}
	if h.Count() != 5 {
		t.Errorf("count %d", h.Count())
	}
	for _, bad := range []func(){
		func() { r.Counter("jobs_total", "again") },
		func() { r.Counter("bad-name", "") },
		func() { r.LabeledCounterFunc("x_total", "", "__reserved", nil) },
		func() { NewHistogram([]float64{1, 0.5}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("invalid registration accepted")
				}
			}()
			bad()
		}()
	}
}

// TestEndpoint serves the probes over HTTP: /metrics with the exposition
// content type and the process metrics, /healthz always 200, /readyz 200
// or 503 following Ready.
func TestEndpoint(t *testing.T) {
	r := NewRegistry()
	r.RegisterProcess()
	r.Counter("x_total", "x").Inc()
	var ready atomic.Bool
	e := &Endpoint{Registry: r, Ready: ready.Load}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := e.Listen(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string, string) {
		resp, err := http.Get("http://" + addr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	code, ct, body := get("/metrics")
	if code != 200 || ct != ContentType || !strings.Contains(body, "\nx_total 1\n") || !strings.Contains(body, "go_goroutines ") {
		t.Errorf("/metrics: %d %q\n%s", code, ct, body)
	}
	if strings.Contains(body, "process_resident_memory_bytes 0\n") {
		t.Error("resident memory reads 0")
	}
	if code, _, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code, _, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while not ready: %d", code)
	}
	ready.Store(true)
	if code, _, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz when ready: %d", code)
	}
	if code, _, _ := get("/nothing"); code != http.StatusNotFound {
		t.Errorf("/nothing: %d", code)
	}
}
