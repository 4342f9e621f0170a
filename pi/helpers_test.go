package pi

import (
	"context"
	"github.com/autorep/autorep/mpc/dealer"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

// dataDir returns $AUTOREP_DATA or skips the test.
func dataDir(t testing.TB) string {
	t.Helper()
	d := os.Getenv("AUTOREP_DATA")
	if d == "" {
		t.Skip("AUTOREP_DATA is not set: skipping the test on real data (set it to the datasets directory)")
	}
	if _, err := os.Stat(d); err != nil {
		t.Skipf("AUTOREP_DATA=%s is not accessible (%v): skipping", d, err)
	}
	return d
}

// loadSet loads a test split or skips when the dataset is absent.
func loadSet(t testing.TB, name string) *data.Set {
	t.Helper()
	dir := dataDir(t)
	s, err := data.Load(dir, name, false)
	if err != nil {
		t.Skipf("dataset %s not available under %s: %v", name, dir, err)
	}
	return s
}

// batch stacks normalised images idx of s into [N, C, H, W].
func batch(s *data.Set, idx []int) *tensor.Tensor {
	x := tensor.New(len(idx), s.C, s.H, s.W)
	per := s.C * s.H * s.W
	for k, i := range idx {
		copy(x.Data[k*per:], s.Normalized(i).Data)
	}
	return x
}

// randomImages returns n images of N(0,1) values.
func randomImages(seed int64, n int, in [3]int) *tensor.Tensor {
	r := rand.New(rand.NewSource(seed))
	x := tensor.New(n, in[0], in[1], in[2])
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	return x
}

// newModel builds an architecture in evaluation mode with batch-norm
// statistics and affine parameters randomised (so folding is exercised).
func newModel(t testing.TB, arch string, classes int, in [3]int, seed int64) *models.Model {
	t.Helper()
	m, err := models.NewSeeded(arch, classes, in, seed)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(seed))
	for _, n := range m.Net.Nodes {
		if bn, ok := n.Op.(*nn.BatchNorm2d); ok {
			for c := 0; c < bn.C; c++ {
				bn.Weight.Value.Data[c] = float32(0.5 + r.Float64())
				bn.Bias.Value.Data[c] = float32(0.2 * r.NormFloat64())
				bn.RunningMean.Data[c] = float32(0.1 * r.NormFloat64())
				bn.RunningVar.Data[c] = float32(0.5 + r.Float64())
			}
		}
	}
	m.SetTraining(false)
	return m
}

// installPoly replaces the activation of every site with an nn.PolyMask
// keeping each position as ReLU with probability keep and, elsewhere, a
// per-channel quadratic near DaPa's fit for N(0, 1) inputs (c0 = c2 =
// 0.19947, c1 = 0.5) with c2 scaled by curv (deep networks of random
// quadratics blow up unless the curvature is small).
func installPoly(m *models.Model, keep, curv float64, seed int64) {
	r := rand.New(rand.NewSource(seed))
	for _, s := range m.Sites {
		p := nn.NewPolyMask(s.Shape, 2)
		for i := range p.Mask {
			if r.Float64() >= keep {
				p.Mask[i] = 0
			}
		}
		for c := range p.Coef {
			p.Coef[c] = []float32{float32(0.19947 + 0.05*r.NormFloat64()), float32(0.5 + 0.05*r.NormFloat64()), float32(curv * (0.19947 + 0.05*r.NormFloat64()))}
		}
		s.Act = p
	}
}

// secureResult is one secure run's output.
type secureResult struct {
	logits []*tensor.Tensor
	stats  []Stats
	server []Stats
	client *Client
}

// runSecure compiles nothing: it serves plan to a client over a pipe (or
// loopback TCP) with an in-process dealer and infers each batch in turn.
func runSecure(t testing.TB, plan *Plan, tcp bool, batches ...*tensor.Tensor) secureResult {
	t.Helper()
	c0, c1 := connPair(t, tcp)
	return runSecureOn(t, plan, c0, c1, batches...)
}

// runSecureOn is runSecure over the server's and the client's given
// connections (closed at the end).
func runSecureOn(t testing.TB, plan *Plan, c0, c1 transport.Conn, batches ...*tensor.Tensor) secureResult {
	t.Helper()
	return runSuiteOn(t, plan, SuiteDealer, c0, c1, batches...)
}

// runSuiteOn is runSecureOn in the given suite (the dealer suite gets an
// in-process dealer, the twoparty suite none).
func runSuiteOn(t testing.TB, plan *Plan, suite string, c0, c1 transport.Conn, batches ...*tensor.Tensor) secureResult {
	t.Helper()
	var p0, p1 corr.Provider
	if suite == SuiteDealer {
		var sd ring.Seed
		sd[0] = 7
		p0, p1 = dealer.LocalProviders(dealer.NewGenerator(sd))
	}
	defer c0.Close()
	defer c1.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var res secureResult
	var mu sync.Mutex
	srv := &Server{Plan: plan, Suite: suite, Provider: p0, OnInference: func(s Stats) {
		mu.Lock()
		res.server = append(res.server, s)
		mu.Unlock()
	}}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, c0) }()
	cl := &Client{Public: plan.Public, Suite: suite, Provider: p1}
	res.client = cl
	for _, x := range batches {
		y, st, err := cl.Infer(ctx, c1, x)
		if err != nil {
			t.Fatalf("infer: %v (server: %v)", err, drain(done))
		}
		res.logits = append(res.logits, y)
		res.stats = append(res.stats, st)
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
	return res
}

func drain(done chan error) error {
	select {
	case err := <-done:
		return err
	case <-time.After(2 * time.Second):
		return nil
	}
}

// connPair returns two connected Conns: a pipe or loopback TCP.
func connPair(t testing.TB, tcp bool) (transport.Conn, transport.Conn) {
	t.Helper()
	if !tcp {
		return transport.Pipe()
	}
	l, err := transport.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	acc := make(chan transport.Conn, 1)
	errc := make(chan error, 1)
	go func() {
		c, err := l.Accept(ctx)
		if err != nil {
			errc <- err
			return
		}
		acc <- c
	}()
	c1, err := transport.Dial(ctx, l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case c0 := <-acc:
		return c0, c1
	case err := <-errc:
		t.Fatal(err)
	}
	return nil, nil
}

// maxAbs is the largest |a − b|.
func maxAbs(a, b *tensor.Tensor) float64 { return tensor.MaxAbsDiff(a, b) }

// argmax of row i of logits [N, K].
func argmax(t *tensor.Tensor, i int) (best int, margin float64) {
	k := t.Shape[1]
	row := t.Data[i*k : (i+1)*k]
	second := math.Inf(-1)
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	for j, v := range row {
		if j != best && float64(v) > second {
			second = float64(v)
		}
	}
	return best, float64(row[best]) - second
}

// loadCommitted loads a model shipped in models/ or fails.
func loadCommitted(t testing.TB, file string) *models.Model {
	t.Helper()
	path := modelFile(file)
	if path == "" {
		t.Fatalf("models/%s is missing", file)
	}
	m, err := models.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// modelFile returns the path of a trained model shipped in models/, or "".
func modelFile(name string) string {
	p := filepath.Join("..", "models", name)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}
