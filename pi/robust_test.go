package pi

import (
	"context"
	"github.com/autorep/autorep/mpc/dealer"
	"math"
	"testing"
	"time"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

// FuzzUnmarshalPublic: decoding arbitrary bytes never panics, and whatever
// decodes is valid, re-encodes to the same hash and has a plan input the
// executor accepts.
func FuzzUnmarshalPublic(f *testing.F) {
	m := newModel(f, "lenet", 10, [3]int{1, 28, 28}, 3)
	plan, err := Compile(m, Config{})
	if err != nil {
		f.Fatal(err)
	}
	b, _ := plan.Public.MarshalBinary()
	f.Add(b)
	f.Add([]byte(`{"version":1,"frac":16,"ell":64,"classes":1,"input":[1,1,1],"steps":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := UnmarshalPublic(b)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("decoded plan does not validate: %v", err)
		}
		b2, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		q, err := UnmarshalPublic(b2)
		if err != nil || q.Hash() != p.Hash() {
			t.Fatalf("re-encoding changes the plan: %v", err)
		}
		p.ReLUs()
	})
}

// TestPeerFailure: a client whose server disappears mid-session, and a
// server whose client disappears, return errors instead of hanging.
func TestPeerFailure(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	plan, err := Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	x := randomImages(4, 1, m.Input)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The server answers the handshake, then its connection closes while
	// the client waits for the setup messages.
	p0, p1 := dealer.LocalProviders(dealer.NewGenerator(ring.Seed{9}))
	c0, c1 := transport.Pipe()
	go func() {
		c0.Recv()
		c0.Send([]byte(msgOK))
		c0.Close()
	}()
	cl := &Client{Public: plan.Public, Provider: p1}
	if _, _, err := cl.Infer(ctx, c1, x); err == nil {
		t.Error("client succeeded without a server")
	}

	// The client leaves after the setup: the server's Run returns an error.
	p0, p1 = dealer.LocalProviders(dealer.NewGenerator(ring.Seed{10}))
	c0, c1 = transport.Pipe()
	done := make(chan error, 1)
	go func() { done <- (&Server{Plan: plan, Provider: p0}).Run(ctx, c0) }()
	cl = &Client{Public: plan.Public, Provider: p1}
	if err := cl.Connect(ctx, c1); err != nil {
		t.Fatal(err)
	}
	c1.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("server returned nil after its client vanished")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server hangs after its client vanished")
	}

	// A client cancelled while waiting for a silent server returns.
	_, p1 = dealer.LocalProviders(dealer.NewGenerator(ring.Seed{11}))
	_, c1 = transport.Pipe()
	cctx, ccancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, _, err := (&Client{Public: plan.Public, Provider: p1}).Infer(cctx, c1, x)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	ccancel()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("cancelled client returned nil")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cancelled client hangs")
	}
}

func TestEncodeInputErrors(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	plan, err := Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	x := randomImages(1, 1, m.Input)
	x.Data[5] = float32(math.NaN())
	if _, err := plan.EvalFixed(x); err == nil {
		t.Error("NaN input accepted")
	}
	for _, bad := range []*tensor.Tensor{nil, tensor.New(1, 28, 28), tensor.New(1, 1, 28, 27), {Shape: []int{1, 1, 28, 28}, Data: make([]float32, 3)}} {
		if _, err := plan.EvalFixed(bad); err == nil {
			t.Errorf("input %v accepted", bad)
		}
	}
	if _, err := plan.Public.DecodeOutput(make([]uint64, 9), 1); err == nil {
		t.Error("short output accepted")
	}
}
