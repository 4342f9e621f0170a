package serve

import (
	"context"
	"fmt"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"math/rand"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/serve/dealer"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

// Test models: a reduced LeNet with both ReLU and polynomial positions
// and the all-ReLU LeNet (less dealer material per inference).
const (
	testModel = "../models/lenet-mnist-autorep2.safetensors"
	baseModel = "../models/lenet-mnist.safetensors"
)

var (
	planMu sync.Mutex
	plans  = map[string]*pi.Plan{}
)

// loadPlan compiles the reduced test model once for the dealer suite.
func loadPlan(t testing.TB) *pi.Plan { return loadPlanFile(t, testModel) }

// loadPlanFile compiles a model file once for the dealer suite.
func loadPlanFile(t testing.TB, path string) *pi.Plan { return loadPlanSuite(t, path, suiteDealer) }

// twoPartyPlan is loadPlan for the twoparty suite (in the default forms,
// as loadPlan's).
func twoPartyPlan(t testing.TB) *pi.Plan { return loadPlanSuite(t, testModel, suiteTwoParty) }

// loadPlanSuite compiles a model file once per suite, in the default
// forms (the plans differ in the suite they name only).
func loadPlanSuite(t testing.TB, path, suite string) *pi.Plan {
	t.Helper()
	planMu.Lock()
	defer planMu.Unlock()
	key := suite + " " + path
	if p := plans[key]; p != nil {
		return p
	}
	m, err := models.Load(path)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	p, err := pi.Compile(m, pi.Config{Suite: suite})
	if err != nil {
		t.Fatalf("compiling %s: %v", path, err)
	}
	plans[key] = p
	return p
}

// randImage returns a random normalised image for the plan's input.
func randImage(seed int64, in [3]int) *tensor.Tensor {
	r := rand.New(rand.NewSource(seed))
	x := tensor.New(1, in[0], in[1], in[2])
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	return x
}

// checkLabel infers a random image (seed) on sess and requires the
// fixed-point executor's label.
func checkLabel(t testing.TB, ctx context.Context, sess *Session, plan *pi.Plan, seed int64) {
	t.Helper()
	x := randImage(seed, plan.Public.Input)
	r, err := sess.Infer(ctx, x)
	if err != nil {
		t.Fatalf("inference: %v", err)
	}
	if want := fixedLabel(t, plan, x); r.Label != want {
		t.Fatalf("label %d, want %d", r.Label, want)
	}
}

func fixedLabel(t testing.TB, p *pi.Plan, x *tensor.Tensor) int {
	t.Helper()
	y, err := p.EvalFixed(x)
	if err != nil {
		t.Fatal(err)
	}
	best := 0
	for i, v := range y.Data {
		if v > y.Data[best] {
			best = i
		}
	}
	return best
}

// testOpts are short timeouts for tests.
func testOpts() transport.Options {
	o := transport.DefaultOptions()
	o.ReadTimeout = 90 * time.Second
	o.WriteTimeout = 90 * time.Second
	return o
}

var insecure = secnet.Config{Insecure: true}

func dialer(cfg secnet.Config) DialFunc {
	return func(ctx context.Context, addr string) (transport.Conn, error) {
		return secnet.Dial(ctx, addr, cfg, testOpts())
	}
}

// running is a process-like service started by a test.
type running struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
}

func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("shutdown of %s: %v", r.addr, err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("%s did not shut down", r.addr)
	}
}

// startDealer runs a dealer on addr (127.0.0.1:0 for a free port).
func startDealer(t testing.TB, addr string, cfg secnet.Config, logf ...func(string, ...any)) (*running, *dealer.Server) {
	t.Helper()
	ln, err := secnet.Listen(addr, cfg, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	d := &dealer.Server{Generator: mpcdealer.NewGenerator(ring.Seed{1, 2, 3}), Grace: -1, Logf: t.Logf}
	if len(logf) > 0 {
		d.Logf = logf[0]
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Serve(ctx, ln) }()
	return r, d
}

// startServer runs a model server using the dealer at dealerAddr.
func startServer(t testing.TB, plan *pi.Plan, dealerAddr string, pool int, cfg, dcfg secnet.Config, opts ...func(*Server)) (*running, *Server) {
	t.Helper()
	s := &Server{Plan: plan, Dealer: &DealerConfig{Addr: dealerAddr, Dial: dialer(dcfg), Pool: pool}, Grace: 5 * time.Second, Logf: t.Logf}
	return runServer(t, s, cfg, opts...)
}

// startTwoParty runs a model server of the twoparty suite (no dealer).
func startTwoParty(t testing.TB, plan *pi.Plan, cfg secnet.Config, opts ...func(*Server)) (*running, *Server) {
	t.Helper()
	s := &Server{Plan: plan, Suite: suiteTwoParty, Grace: 5 * time.Second, Logf: t.Logf}
	return runServer(t, s, cfg, opts...)
}

// runServer applies opts to s and serves it on a fresh loopback port.
func runServer(t testing.TB, s *Server, cfg secnet.Config, opts ...func(*Server)) (*running, *Server) {
	t.Helper()
	ln, err := secnet.Listen("127.0.0.1:0", cfg, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Serve(ctx, ln) }()
	return r, s
}

// eventually polls cond for up to 10 s and reports whether it came true.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// settleGoroutines waits until the goroutine count is back to at most
// base (plus slack) and reports a leak otherwise.
func settleGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base+2 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutine leak: %d goroutines, %d before\n%s", n, base, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runtimeGoroutines() int { return runtime.NumGoroutine() }

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// tlsPair writes a self-signed certificate for 127.0.0.1 to dir and
// returns the listener and dialer TLS configs.
func tlsPair(t testing.TB, dir string) (listen, dial secnet.Config) {
	t.Helper()
	cert, key, err := secnet.GenerateSelfSigned(dir, []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return secnet.Config{CertFile: cert, KeyFile: key, CAFile: cert}, secnet.Config{CAFile: cert}
}
