package serve

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/internal/metrics"
)

// scrape returns the endpoint's metrics text and a reader of one sample.
func scrape(t *testing.T, addr string) (string, func(sample string) float64) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	return text, func(sample string) float64 {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(text)
		if m == nil {
			return -1
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatalf("%s: %v", sample, err)
		}
		return v
	}
}

func probe(t *testing.T, addr, path string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestMetricsAndDrain: the endpoint's counters move during a session
// (sessions, inferences, bytes, rounds, latency, material held, refusals
// by cause); on shutdown /readyz turns 503 at once, the open session gets
// its next inference and is then closed by the server, and Serve returns
// long before its grace period. Both suites.
func TestMetricsAndDrain(t *testing.T) {
	for _, suite := range []string{suiteDealer, suiteTwoParty} {
		t.Run(suite, func(t *testing.T) { testMetricsAndDrain(t, suite) })
	}
}

func testMetricsAndDrain(t *testing.T, suite string) {
	plan := loadPlanSuite(t, testModel, suite)
	log := &logSink{t: t}
	opts := func(s *Server) { s.Grace = 3 * time.Minute; s.Logf = log.logf }
	if suite == suiteTwoParty {
		skipShortTwoParty(t)
	}
	srv, s := startSuite(t, plan, suite, 1, opts)
	reg := metrics.NewRegistry()
	s.Register(reg)
	mctx, mcancel := context.WithCancel(context.Background())
	defer mcancel()
	a, err := (&metrics.Endpoint{Registry: reg, Ready: s.Ready}).Listen(mctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	maddr := a.String()
	if !eventually(s.Ready) || probe(t, maddr, "/readyz") != 200 || probe(t, maddr, "/healthz") != 200 {
		t.Fatal("server not ready")
	}
	// Generous: a twoparty inference takes seconds on a loaded machine.
	ctx, cancel := testCtx(t)
	defer cancel()

	// A refusal: the client expects another plan.
	other := [32]byte{1}
	if _, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), TrustServerDealer: true, Hash: &other}); err == nil {
		t.Fatal("a client expecting another plan was served")
	}
	if !eventually(func() bool { return s.Stats().Refused[CausePlan] == 1 }) {
		t.Errorf("refusals %v, want one by plan", s.Stats().Refused)
	}
	// The pool's session holds material before any client.
	if suite == suiteDealer && !eventually(func() bool { _, v := scrape(t, maddr); return v("autorep_serve_material_held_bytes") > 0 }) {
		t.Error("no material held by the pooled session")
	}

	sess, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), TrustServerDealer: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var last map[string]float64
	for i := range 2 {
		x := randImage(int64(80+i), plan.Public.Input)
		r, err := sess.Infer(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		if want := fixedLabel(t, plan, x); r.Label != want {
			t.Errorf("label %d, want %d", r.Label, want)
		}
		// The server counts a request once its side is done, which in
		// the twoparty suite may be just after the client has its logits;
		// a drain before that would take this request as the last.
		eventually(func() bool { return s.Stats().Inferences == int64(i+1) })
		text, v := scrape(t, maddr)
		now := map[string]float64{}
		sessions := `autorep_serve_sessions_total{suite="` + suite + `"}`
		for _, name := range []string{sessions, "autorep_serve_sessions_open", "autorep_serve_inferences_total",
			"autorep_serve_bytes_total", "autorep_serve_rounds_total", "autorep_serve_inference_seconds_count", `autorep_serve_refused_total{cause="plan"}`, "autorep_serve_ready"} {
			now[name] = v(name)
		}
		want := map[string]float64{sessions: 1, "autorep_serve_sessions_open": 1, "autorep_serve_inferences_total": float64(i + 1),
			"autorep_serve_inference_seconds_count": float64(i + 1), `autorep_serve_refused_total{cause="plan"}`: 1, "autorep_serve_ready": 1}
		for k, w := range want {
			if now[k] != w {
				t.Errorf("after inference %d: %s = %v, want %v\n%s", i+1, k, now[k], w, text)
			}
		}
		for _, k := range []string{"autorep_serve_bytes_total", "autorep_serve_rounds_total"} {
			if now[k] <= last[k] {
				t.Errorf("after inference %d: %s = %v, did not grow from %v", i+1, k, now[k], last[k])
			}
		}
		last = now
	}
	log.waitFor(t, "session opened", "session="+sess.ID.String(), "plan=")

	// Drain: not ready at once; the open session gets one more inference,
	// then the server closes it and Serve returns.
	t0 := time.Now()
	srv.cancel()
	if !eventually(func() bool { return probe(t, maddr, "/readyz") == http.StatusServiceUnavailable }) {
		t.Error("/readyz still 200 while draining")
	}
	x := randImage(90, plan.Public.Input)
	if r, err := sess.Infer(ctx, x); err != nil {
		t.Fatalf("an open session's inference while draining: %v", err)
	} else if want := fixedLabel(t, plan, x); r.Label != want {
		t.Errorf("label %d, want %d", r.Label, want)
	}
	if _, err := sess.Infer(ctx, randImage(91, plan.Public.Input)); err == nil {
		t.Error("a second inference while draining was served")
	}
	select {
	case err := <-srv.done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve still draining 20 s after its last session was closed (grace 3 min)")
	}
	if took := time.Since(t0); took > 90*time.Second {
		t.Errorf("drain took %v, want well within the 3 min grace (one inference)", took)
	}
	text, v := scrape(t, maddr)
	if v(`autorep_serve_sessions_closed_total{cause="draining"}`) != 1 || v("autorep_serve_ready") != 0 || v("autorep_serve_sessions_open") != 0 {
		t.Errorf("after the drain:\n%s", text)
	}
	if !strings.Contains(text, "autorep_serve_inference_seconds_bucket") {
		t.Errorf("no latency histogram:\n%s", text)
	}
}
