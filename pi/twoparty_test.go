package pi

import (
	"context"
	"fmt"
	"github.com/autorep/autorep/mpc/dealer"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

// runTwoParty serves plan with the two-party suite to a client over a
// pipe and infers each batch in turn.
func runTwoParty(t testing.TB, plan *Plan, batches ...*tensor.Tensor) secureResult {
	t.Helper()
	c0, c1 := transport.Pipe()
	return runSuiteOn(t, plan, SuiteTwoParty, c0, c1, batches...)
}

// checkTwoPartyExact runs x through the two-party suite and requires the
// logits to equal the fixed-point executor's bit for bit.
func checkTwoPartyExact(t *testing.T, plan *Plan, x *tensor.Tensor) secureResult {
	t.Helper()
	want, err := plan.EvalFixed(x)
	if err != nil {
		t.Fatal(err)
	}
	res := runTwoParty(t, plan, x)
	got := res.logits[0]
	for i := range want.Data {
		if got.Data[i] != want.Data[i] {
			t.Fatalf("logit %d: twoparty %v, EvalFixed %v (all: %v vs %v)", i, got.Data[i], want.Data[i], got.Data, want.Data)
		}
	}
	st := res.stats[0]
	if st.Online.Bytes() == 0 || st.Online.Rounds == 0 || res.client.Setup.Offline.Bytes() == 0 {
		t.Errorf("no traffic recorded: online %+v, setup %+v", st.Online, res.client.Setup)
	}
	if st.Material != 0 || res.client.Setup.Material != 0 {
		t.Errorf("dealer material %d / %d without a dealer", st.Material, res.client.Setup.Material)
	}
	var sum int64
	for _, l := range st.Layers {
		sum += l.Bytes
	}
	if sum != st.Online.Bytes() {
		t.Errorf("per-step online bytes sum to %d, online total %d", sum, st.Online.Bytes())
	}
	if s := res.server[0]; s.Online.Bytes() != st.Online.Bytes() {
		t.Errorf("server saw %d online bytes, client %d", s.Online.Bytes(), st.Online.Bytes())
	}
	return res
}

// TestTwoPartyExactSynthetic: a LeNet with random weights, a mixed
// ReLU/polynomial activation and max pooling, two random images in one
// request at ℓ = 64 and at the smallest ℓ MinEll gives for them, equals
// EvalFixed exactly (no data needed).
func TestTwoPartyExactSynthetic(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 21)
	installPoly(m, 0.5, 1, 22)
	x := randomImages(23, 2, m.Input)
	p8, err := Compile(m, Config{FracBits: 8})
	if err != nil {
		t.Fatal(err)
	}
	ell, err := p8.MinEll(x)
	if err != nil {
		t.Fatal(err)
	}
	if ell < 2*8+2 || ell >= 64 {
		t.Fatalf("MinEll = %d at f = 8, want a width in 18..63", ell)
	}
	for _, cfg := range []Config{{FracBits: 12, Suite: SuiteTwoParty}, {FracBits: 8, Ell: ell, Suite: SuiteTwoParty}} {
		plan, err := Compile(m, cfg)
		if err != nil {
			t.Fatal(err)
		}
		res := checkTwoPartyExact(t, plan, x)
		t.Logf("frac %d ell %d: online %d B, %d rounds; inline offline %d B; setup %d B",
			cfg.FracBits, plan.Public.Ell, res.stats[0].Online.Bytes(), res.stats[0].Online.Rounds,
			res.stats[0].OfflineInline.Bytes(), res.client.Setup.Offline.Bytes())
	}
}

// TestTwoPartyExactMNIST: the committed LeNet-5 models (all ReLU, and the
// AutoReP one with polynomials) on two MNIST test images equal EvalFixed
// exactly.
func TestTwoPartyExactMNIST(t *testing.T) {
	set := loadSet(t, "mnist")
	for _, name := range []string{"lenet-mnist.safetensors", "lenet-mnist-autorep10.safetensors"} {
		m := loadCommitted(t, name)
		plan, err := Compile(m, Config{Suite: SuiteTwoParty})
		if err != nil {
			t.Fatal(err)
		}
		x := batch(set, []int{0, 1})
		checkTwoPartyExact(t, plan, x)
	}
}

// TestSuiteMismatch: a client and a server of different suites refuse each
// other with an error naming both suites, either way round; a plan is
// compiled for one suite (its name in the plan and its hash), and a party
// of the other refuses it, naming both.
func TestSuiteMismatch(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	plans := map[string]*Plan{}
	for _, suite := range []string{SuiteDealer, SuiteTwoParty} {
		p, err := Compile(m, Config{Suite: suite})
		if err != nil {
			t.Fatal(err)
		}
		if p.Public.Suite != suite {
			t.Fatalf("plan compiled for %s says suite %q", suite, p.Public.Suite)
		}
		plans[suite] = p
	}
	plan := plans[SuiteDealer]
	if plan.PublicHash() == plans[SuiteTwoParty].PublicHash() {
		t.Error("the dealer and twoparty plans of one model hash alike")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range []struct{ server, client string }{{SuiteDealer, SuiteTwoParty}, {SuiteTwoParty, ""}} {
		p0, p1 := dealer.LocalProviders(dealer.NewGenerator(ring.Seed{5}))
		c0, c1 := transport.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- (&Server{Plan: plans[suiteName(c.server)], Provider: p0, Suite: c.server}).Run(ctx, c0)
		}()
		err := (&Client{Public: plans[suiteName(c.client)].Public, Provider: p1, Suite: c.client}).Connect(ctx, c1)
		want := "client wants suite " + suiteName(c.client) + ", server runs " + suiteName(c.server)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("client %q, server %q: client error %v, want %q", c.client, c.server, err, want)
		}
		if serr := <-done; serr == nil || !strings.Contains(serr.Error(), want) {
			t.Errorf("client %q, server %q: server error %v, want %q", c.client, c.server, serr, want)
		}
		c0.Close()
		c1.Close()
	}
	// A party given the other suite's plan refuses it before any message.
	for _, c := range []struct{ plan, party string }{{SuiteDealer, SuiteTwoParty}, {SuiteTwoParty, SuiteDealer}} {
		p0, p1 := dealer.LocalProviders(dealer.NewGenerator(ring.Seed{5}))
		want := "the plan is compiled for the " + c.plan + " suite, the %s runs the " + c.party + " suite"
		err := (&Server{Plan: plans[c.plan], Provider: p0, Suite: c.party}).Run(ctx, nil)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf(want, "server")) {
			t.Errorf("server of %s, plan for %s: %v", c.party, c.plan, err)
		}
		err = (&Client{Public: plans[c.plan].Public, Provider: p1, Suite: c.party}).Connect(ctx, nil)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf(want, "client")) {
			t.Errorf("client of %s, plan for %s: %v", c.party, c.plan, err)
		}
	}
	if err := ValidSuite("fss"); err == nil || !strings.Contains(err.Error(), SuiteTwoParty) {
		t.Errorf("ValidSuite(fss) = %v", err)
	}
	if err := (&Client{Public: plan.Public, Suite: "fss"}).Connect(ctx, nil); err == nil {
		t.Error("client accepted an unknown suite")
	}
}

// TestTwoPartyPeerFailure: a client whose server vanishes in the middle of
// an inference, and a server whose client does, return an error instead of
// hanging.
func TestTwoPartyPeerFailure(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	plan, err := Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	x := randomImages(4, 1, m.Input)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, side := range []string{"server", "client"} {
		c0, c1 := transport.Pipe()
		// Close one side once its party has sent some online traffic
		// (the first step's messages).
		victim := c0
		if side == "client" {
			victim = c1
		}
		go func() {
			for victim.Stats().Snapshot().Phases[transport.PhaseOnline].MsgsSent < 3 {
				time.Sleep(time.Millisecond)
			}
			victim.Close()
		}()
		done := make(chan error, 1)
		go func() { done <- (&Server{Plan: plan, Suite: SuiteTwoParty}).Run(ctx, c0) }()
		cerr := make(chan error, 1)
		go func() {
			_, _, err := (&Client{Public: plan.Public, Suite: SuiteTwoParty}).Infer(ctx, c1, x)
			cerr <- err
		}()
		for _, ch := range []chan error{done, cerr} {
			select {
			case err := <-ch:
				if err == nil {
					t.Errorf("%s closed mid-inference: a party returned nil", side)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s closed mid-inference: a party hangs", side)
			}
		}
		c0.Close()
		c1.Close()
	}
}
