package pi

import (
	"context"
	"encoding/json"
	"github.com/autorep/autorep/mpc/dealer"
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

// customModel builds a small graph exercising every compile path: a conv
// whose batch norm folds, a conv read by a batch norm and an add (the
// batch norm becomes a depthwise affine), 2×2 average pooling (power-of-two
// divisor), 3×3 average pooling with stride 1 and padding (divisor 9,
// removed before an activation by a multiply-and-truncate), max pooling
// with padding, an add of values at different scales, dropout, a mixed
// ReLU/polynomial site, global average pooling, flatten and a dense layer.
func customModel(t testing.TB) *models.Model {
	t.Helper()
	r := rand.New(rand.NewSource(11))
	g := &nn.Graph{}
	bn := func(c int) *nn.BatchNorm2d {
		b := nn.NewBatchNorm2d(c)
		for k := 0; k < c; k++ {
			b.Weight.Value.Data[k] = float32(0.5 + r.Float64())
			b.Bias.Value.Data[k] = float32(0.2 * r.NormFloat64())
			b.RunningMean.Data[k] = float32(0.1 * r.NormFloat64())
			b.RunningVar.Data[k] = float32(0.5 + r.Float64())
		}
		return b
	}
	c1 := g.Add("conv1", nn.NewConv2d(r, 3, 8, 3, 1, 1, 1, true), -1) // 8x12x12
	g.Add("bn1", bn(8), c1)
	s1 := g.Add("relu1", &nn.Site{Name: "relu1"})
	c2 := g.Add("conv2", nn.NewConv2d(r, 8, 8, 3, 1, 1, 2, false), s1) // grouped
	b2 := g.Add("bn2", bn(8), c2)                                      // conv2 also feeds add1: not foldable
	a1 := g.Add("add1", &nn.Add{}, b2, c2)
	g.Add("avg1", &nn.AvgPool2d{Kernel: 2}, a1) // 8x6x6, divisor 4
	s2 := g.Add("relu2", &nn.Site{Name: "relu2"})
	g.Add("avg2", &nn.AvgPool2d{Kernel: 3, Stride: 1, Pad: 1}, s2) // divisor 9
	s3 := g.Add("relu3", &nn.Site{Name: "relu3"})
	mp := g.Add("pool", &nn.MaxPool2d{Kernel: 3, Stride: 2, Pad: 1}, s3) // 8x3x3
	a2 := g.Add("add2", &nn.Add{}, mp, g.Add("conv3", nn.NewConv2d(r, 8, 8, 1, 1, 0, 1, true), mp))
	g.Add("drop", nn.NewDropout(0.5, 1), a2)
	g.Add("relu4", &nn.Site{Name: "relu4"})
	g.Add("gap", &nn.GlobalAvgPool{})
	g.Add("flatten", &nn.Flatten{})
	g.Add("fc", nn.NewLinear(r, 8, 5, true))
	m := &models.Model{Arch: "custom", Classes: 5, Input: [3]int{3, 12, 12}, Net: g}
	for _, n := range g.Nodes {
		if s, ok := n.Op.(*nn.Site); ok {
			m.Sites = append(m.Sites, s)
		}
	}
	m.SetTraining(false)
	if _, err := ReferenceLogits(m, randomImages(1, 1, m.Input)); err != nil { // fills site shapes
		t.Fatal(err)
	}
	p := nn.NewPolyMask(m.Sites[2].Shape, 2)
	for i := range p.Mask {
		if i%3 == 0 {
			p.Mask[i] = 0
		}
	}
	for c := range p.Coef {
		p.Coef[c] = []float32{0.1, 0.5, float32(0.2 + 0.01*float64(c))}
	}
	m.Sites[2].Act = p
	return m
}

func TestCompileCustomGraph(t *testing.T) {
	m := customModel(t)
	plan, err := Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[Op]int{}
	for _, st := range plan.Public.Steps {
		ops[st.Op]++
	}
	// conv1(+bn1), conv2, bn2 (affine), conv3, fc; relu1..4; 1 maxpool;
	// 2 sumpools; 1 globalsum; 2 adds.
	want := map[Op]int{OpLinear: 5, OpAct: 4, OpMaxPool: 1, OpSumPool: 2, OpGlobalSum: 1, OpAdd: 2}
	for op, n := range want {
		if ops[op] != n {
			t.Errorf("%d %s steps, want %d (plan ops %v)", ops[op], op, n, ops)
		}
	}
	if ops[OpTrunc] == 0 || ops[OpScale] == 0 {
		t.Errorf("expected truncation and scaling steps, got %v", ops)
	}
	var mulTrunc bool
	for _, st := range plan.Public.Steps {
		if st.Op == OpTrunc && st.Mul > 1 {
			mulTrunc = true
		}
	}
	if !mulTrunc {
		t.Error("the divisor 9 should be removed by a multiply-and-truncate step")
	}
	x := randomImages(2, 2, m.Input)
	fl, err := ReferenceLogits(m, x)
	if err != nil {
		t.Fatal(err)
	}
	fx, err := plan.EvalFixed(x)
	if err != nil {
		t.Fatal(err)
	}
	if d := tensor.MaxAbsDiff(fx, fl); d > 5e-3 {
		t.Errorf("fixed point vs float: %g", d)
	}
	res := runSecure(t, plan, false, x, x)
	for _, y := range res.logits {
		if d := tensor.MaxAbsDiff(y, fx); d > 1e-3 {
			t.Errorf("secure vs fixed point: %g", d)
		}
	}
	if a, b := res.stats[0].Online, res.stats[1].Online; a.Bytes() != b.Bytes() || a.Rounds != b.Rounds {
		t.Errorf("two identical requests cost %+v and %+v", a, b)
	}
}

func TestPublicHashAndValidation(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	p1, err := Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if p1.PublicHash() != p2.PublicHash() {
		t.Error("compiling twice gives different public hashes")
	}
	// Weights are secret but for the public bound on their width:
	// changing a weight within the bound must not change the hash,
	// widening the widest weight must.
	w := m.Net.Find("conv1").Op.(*nn.Conv2d).Weight.Value.Data
	w[0] = -w[0] / 2
	p3, err := Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if p3.Public.WeightBits != p1.Public.WeightBits || p3.PublicHash() != p1.PublicHash() {
		t.Errorf("the public hash depends on a weight within the bound (bound %d, was %d)", p3.Public.WeightBits, p1.Public.WeightBits)
	}
	w0 := w[0]
	// 3·2^(wb−1) at Frac bits: two bits more than the bound wb.
	w[0] = 3 * float32(math.Exp2(float64(p1.Public.WeightBits-1-int(p1.Public.Frac))))
	pw, err := Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if pw.Public.WeightBits != p1.Public.WeightBits+2 || pw.PublicHash() == p1.PublicHash() {
		t.Errorf("a weight of 3·2^(wb−1): bound %d (was %d), hash changed %v", pw.Public.WeightBits, p1.Public.WeightBits, pw.PublicHash() != p1.PublicHash())
	}
	w[0] = w0
	installPoly(m, 0.5, 1, 1)
	p4, err := Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if p4.PublicHash() == p1.PublicHash() {
		t.Error("the public hash ignores the ReLU masks")
	}
	if p5, _ := Compile(m, Config{FracBits: 12}); p5 == nil || p5.PublicHash() == p4.PublicHash() {
		t.Error("the public hash ignores the fixed-point precision")
	}
	b, err := p4.Public.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	q, err := UnmarshalPublic(b)
	if err != nil {
		t.Fatal(err)
	}
	if q.Hash() != p4.PublicHash() {
		t.Error("public plan does not round-trip")
	}
	// Corruptions are rejected.
	corrupt := []func(p *Public){
		func(p *Public) { p.Steps[0].In = []int{3} },
		func(p *Public) { p.Steps[1].Mask = p.Steps[1].Mask[1:] },
		func(p *Public) { p.Steps[1].ReLUs++ },
		func(p *Public) { p.Steps[0].Conv.K = 7 },
		func(p *Public) { p.Steps[0].Conv = nil },
		func(p *Public) { p.Steps[2].Pool.K = 0 },
		func(p *Public) { p.Steps[0].Frac = 64 },
		func(p *Public) { p.Steps[0].Shape = []int{-1} },
		func(p *Public) { p.Steps[0].Op = "softmax" },
		func(p *Public) { p.Steps[3].Name = p.Steps[0].Name },
		func(p *Public) { p.Classes = 11 },
		func(p *Public) { p.Version = 99 },
		func(p *Public) { p.Steps = nil },
		func(p *Public) { p.Input[1] = 1 << 30 },
	}
	for i, f := range corrupt {
		var c Public
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		f(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("corruption %d accepted", i)
		}
	}
	for _, s := range []string{"", "{", "null", `{"version":1}`, string(b[:len(b)/2])} {
		if _, err := UnmarshalPublic([]byte(s)); err == nil {
			t.Errorf("UnmarshalPublic(%.20q) accepted", s)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	if _, err := Compile(nil, Config{}); err == nil {
		t.Error("nil model accepted")
	}
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	if _, err := Compile(m, Config{FracBits: 30}); err == nil {
		t.Error("30 fractional bits accepted")
	}
	if _, err := Compile(m, Config{Ell: 20}); err == nil {
		t.Error("gate width below 2f accepted")
	}
	// Polynomial of degree 3.
	installPoly(m, 0.5, 1, 1)
	p := m.Sites[0].Act.(*nn.PolyMask)
	p.Coef[0] = append(p.Coef[0], 0.5)
	if _, err := Compile(m, Config{}); err == nil || !strings.Contains(err.Error(), "degree") {
		t.Errorf("degree-3 polynomial: %v", err)
	}
	p.Coef[0] = p.Coef[0][:3]
	p.Mask[0] = 0.5
	if _, err := Compile(m, Config{}); err == nil || !strings.Contains(err.Error(), "mask") {
		t.Errorf("non-binary mask: %v", err)
	}
	p.Mask[0] = 1
	p.Coef[1][2] = 1e30
	if _, err := Compile(m, Config{}); err == nil {
		t.Error("unencodable coefficient accepted")
	}
	// Unsupported operation and activation.
	m2 := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	m2.Net.Nodes[1].Op = unsupported{}
	if _, err := Compile(m2, Config{}); err == nil || !strings.Contains(err.Error(), "unsupported") {
		t.Errorf("unsupported op: %v", err)
	}
	m3 := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	m3.Sites[1].Act = otherAct{}
	if _, err := Compile(m3, Config{}); err == nil || !strings.Contains(err.Error(), "activation") {
		t.Errorf("unsupported activation: %v", err)
	}
	m4 := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	m4.Net.Find("conv2").Op.(*nn.Conv2d).Weight.Value.Data[3] = float32(1e20)
	if _, err := Compile(m4, Config{}); err == nil || !strings.Contains(err.Error(), "weight") {
		t.Errorf("unencodable weight: %v", err)
	}
}

type unsupported struct{}

func (unsupported) Forward(x *autograd.Var) *autograd.Var { return x }

type otherAct struct{}

func (otherAct) Apply(x *autograd.Var) *autograd.Var { return x }

// serve starts a server for plan on one end of a pipe and returns the
// other end and the server's result channel.
func serve(t *testing.T, plan *Plan, prov corr.Provider) (transport.Conn, chan error) {
	t.Helper()
	c0, c1 := transport.Pipe()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		done <- (&Server{Plan: plan, Provider: prov}).Run(ctx, c0)
		c0.Close()
	}()
	return c1, done
}

func TestHandshake(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	plan, err := Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	other := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	installPoly(other, 0.5, 1, 2)
	otherPlan, err := Compile(other, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	x := randomImages(3, 1, m.Input)

	// Mismatched public plan: both sides fail cleanly.
	p0, p1 := dealer.LocalProviders(dealer.NewGenerator(ring.Seed{1}))
	conn, done := serve(t, plan, p0)
	cl := &Client{Public: otherPlan.Public, Provider: p1}
	if _, _, err := cl.Infer(ctx, conn, x); err == nil || !strings.Contains(err.Error(), "mismatch") {
		t.Errorf("client with another plan: %v", err)
	}
	if err := <-done; err == nil {
		t.Error("server accepted another plan")
	}

	// A client without the plan fetches it.
	p0, p1 = dealer.LocalProviders(dealer.NewGenerator(ring.Seed{2}))
	conn, done = serve(t, plan, p0)
	cl = &Client{Provider: p1}
	y, _, err := cl.Infer(ctx, conn, x)
	if err != nil {
		t.Fatal(err)
	}
	if cl.Public.Hash() != plan.PublicHash() {
		t.Error("fetched plan differs")
	}
	fx, _ := plan.EvalFixed(x)
	if d := tensor.MaxAbsDiff(y, fx); d > 1e-3 {
		t.Errorf("secure vs fixed point after fetching the plan: %g", d)
	}
	if _, _, err := cl.Infer(ctx, conn, randomImages(3, 1, [3]int{3, 28, 28})); err == nil {
		t.Error("wrongly shaped input accepted")
	}
	cl.Close()
	if err := <-done; err != nil {
		t.Errorf("server: %v", err)
	}

	// Malformed messages end the server with an error, no panic or hang.
	for i, msg := range [][]byte{nil, []byte("PIH1"), []byte("XXXX" + strings.Repeat("\x00", 32))} {
		p0, _ = dealer.LocalProviders(dealer.NewGenerator(ring.Seed{3}))
		conn, done = serve(t, plan, p0)
		conn.Send(msg)
		if err := <-done; err == nil {
			t.Errorf("malformed hello %d accepted", i)
		}
	}
	h := plan.PublicHash()
	for i, req := range [][]byte{[]byte("PIQ1"), []byte("PIQ1\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), []byte("PIQ1\x01\x00"), []byte("PIQ1\x80\x80\x04"), []byte("PIQ1\x41")} {
		p0, _ = dealer.LocalProviders(dealer.NewGenerator(ring.Seed{4}))
		conn, done = serve(t, plan, p0)
		conn.Send(append([]byte("PIH1"), h[:]...))
		for {
			b, err := conn.Recv() // the OK and the setup messages
			if err != nil {
				t.Fatal(err)
			}
			if len(b) == 4 {
				break
			}
		}
		conn.Send(req)
		if err := <-done; err == nil {
			t.Errorf("malformed request %d accepted", i)
		}
	}

	// Cancelling the context stops a server waiting for its client.
	p0, _ = dealer.LocalProviders(dealer.NewGenerator(ring.Seed{5}))
	c0, _ := transport.Pipe()
	cctx, cancel := context.WithCancel(ctx)
	done = make(chan error, 1)
	go func() { done <- (&Server{Plan: plan, Provider: p0}).Run(cctx, c0) }()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("cancelled server returned nil")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled server did not return")
	}
}

// TestCompileAllArchitectures compiles every architecture of package models
// (random weights) and checks the plan's ReLU count against the model's.
func TestCompileAllArchitectures(t *testing.T) {
	for _, a := range models.Names() {
		in := [3]int{3, 32, 32}
		if a == "lenet" {
			in = [3]int{1, 28, 28}
		}
		m, err := models.New(a, 10, in)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(m, Config{})
		if err != nil {
			t.Errorf("%s: %v", a, err)
			continue
		}
		relus, _ := p.Public.ReLUs()
		if _, want := m.ReLUCount(); relus != want {
			t.Errorf("%s: plan has %d ReLUs, model %d", a, relus, want)
		}
	}
}

// TestWeightBound: Compile records the smallest public weight bound that
// holds every linear weight (checked against a plain search), old plans
// without one read it as ℓ, the bound is range-checked, and a plan with
// a weight one past its bound is refused before serving, while weights
// at both ends of the bound run exactly in the two-party suite with
// helinear's parameters at that bound.
func TestWeightBound(t *testing.T) {
	for _, c := range []struct {
		v    int64
		ell  int
		want int
	}{{0, 28, 1}, {-1, 28, 1}, {1, 28, 2}, {-2, 28, 2}, {2, 28, 3}, {1<<27 - 1, 28, 28}, {-1 << 27, 28, 28},
		{1 << 27, 28, 28}, {1<<28 + 3, 28, 3}, {-1 << 63, 64, 64}, {1<<63 - 1, 64, 64}, {-1 << 40, 64, 41}} {
		if got := weightBits(uint64(c.v), c.ell); got != c.want {
			t.Errorf("weightBits(%d, ℓ = %d) = %d, want %d", c.v, c.ell, got, c.want)
		}
	}
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 31)
	plan, err := Compile(m, Config{FracBits: 8, Ell: 40, Suite: SuiteTwoParty})
	if err != nil {
		t.Fatal(err)
	}
	pub := plan.Public
	// The plain search: the smallest w with −2^(w−1) ≤ c < 2^(w−1) for
	// every weight c (mod 2^ℓ, centred), over all linear steps.
	want := 0
	for i := range pub.Steps {
		if pub.Steps[i].Op != OpLinear {
			continue
		}
		for _, v := range plan.Secret.Steps[i].W {
			c := int64(v<<24) >> 24
			w := 1
			for c < -(int64(1)<<(w-1)) || c >= int64(1)<<(w-1) {
				w++
			}
			want = max(want, w)
		}
	}
	if pub.WeightBits != want || pub.WeightBound() != want {
		t.Fatalf("WeightBits %d, WeightBound %d, want %d", pub.WeightBits, pub.WeightBound(), want)
	}
	if hp, err := heParams(pub, 40); err != nil || hp.WeightBits != uint(want) || hp.Ell != 40 {
		t.Fatalf("helinear parameters %+v, %v: want ℓ = 40 and a %d-bit weight bound", hp, err, want)
	}
	t.Logf("LeNet (random weights) at f = 8, ℓ = 40: %d-bit weight bound", want)

	// A plan from before the bound (no weight_bits) means ℓ.
	b, err := pub.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["weight_bits"] != float64(want) {
		t.Fatalf("weight_bits in the JSON: %v", raw["weight_bits"])
	}
	delete(raw, "weight_bits")
	b, _ = json.Marshal(raw)
	old, err := UnmarshalPublic(b)
	if err != nil {
		t.Fatal(err)
	}
	if old.WeightBits != 0 || old.WeightBound() != 40 || old.Hash() == pub.Hash() {
		t.Errorf("plan without a bound: WeightBits %d, WeightBound %d (want 0, 40), same hash %v", old.WeightBits, old.WeightBound(), old.Hash() == pub.Hash())
	}
	// A wider bound on request; one the weights do not fit is refused.
	if p, err := Compile(m, Config{FracBits: 8, Ell: 40, WeightBits: 40}); err != nil || p.Public.WeightBits != 40 {
		t.Errorf("Config.WeightBits 40: %v", err)
	}
	for _, wb := range []int{want - 1, 41, -1} {
		if _, err := Compile(m, Config{FracBits: 8, Ell: 40, WeightBits: wb}); err == nil || !strings.Contains(err.Error(), "weight bound") {
			t.Errorf("Config.WeightBits %d with %d-bit weights at ℓ = 40: %v", wb, want, err)
		}
	}
	for _, wb := range []int{-1, 41} {
		q := *pub
		q.WeightBits = wb
		if err := q.Validate(); err == nil || !strings.Contains(err.Error(), "weight bound") {
			t.Errorf("weight bound %d at ℓ = 40: %v", wb, err)
		}
	}

	// Weights at both ends of the bound: accepted, exact in the two-party suite.
	lin := -1
	for i := range pub.Steps {
		if pub.Steps[i].Op == OpLinear {
			lin = i
			break
		}
	}
	w := plan.Secret.Steps[lin].W
	top, bottom := uint64(1)<<(want-1)-1, -(uint64(1) << (want - 1))
	w[0], w[1] = top, bottom
	if err := plan.check(); err != nil {
		t.Fatalf("weights at the ends of the bound: %v", err)
	}
	x := randomImages(32, 1, m.Input)
	bound := checkTwoPartyExact(t, plan, x).stats[0].OfflineMsgs.Bytes()
	// The session's HE layers use the bound: without it (an old plan's
	// ℓ) their ciphertexts are larger.
	pub.WeightBits = 0
	unbounded := runTwoParty(t, plan, x).stats[0].OfflineMsgs.Bytes()
	pub.WeightBits = want
	t.Logf("offline (HE) bytes per image: %d with the %d-bit bound, %d without", bound, want, unbounded)
	if bound >= unbounded {
		t.Errorf("offline bytes %d with the %d-bit weight bound, %d without: the bound does not reach helinear", bound, want, unbounded)
	}

	// One past the bound: refused before serving, by either suite.
	w[0] = top + 1
	if _, err := plan.EvalFixed(x); err == nil || !strings.Contains(err.Error(), "public weight bound") {
		t.Errorf("weight 2^%d with a %d-bit bound, EvalFixed: %v", want-1, want, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c0, c1 := transport.Pipe()
	defer c1.Close()
	err = (&Server{Plan: plan, Suite: SuiteTwoParty}).Run(ctx, c0)
	if err == nil || !strings.Contains(err.Error(), "public weight bound") || !strings.Contains(err.Error(), pub.Steps[lin].Name) {
		t.Errorf("server with a weight of 2^%d and a %d-bit bound: %v", want-1, want, err)
	}
	w[0], w[1] = top, bottom-1
	if err := plan.check(); err == nil {
		t.Errorf("weight −2^%d − 1 with a %d-bit bound accepted", want-1, want)
	}
}
