package dealer

import (
	"context"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/internal/metrics"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

// TestDrain: after its context ends the dealer reports not ready, refuses
// new sessions, still serves the open one (its second party may even join
// now), and Serve returns as soon as that session ends, well before Grace.
func TestDrain(t *testing.T) {
	ln, err := secnet.Listen("127.0.0.1:0", secnet.Config{Insecure: true}, transport.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Generator: mpcdealer.NewGenerator(ring.Seed{8}), Grace: time.Minute, Logf: t.Logf}
	reg := metrics.NewRegistry()
	srv.Register(reg)
	if srv.Ready() {
		t.Error("ready before Serve")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	addr := ln.Addr().String()
	deadline := time.Now().Add(5 * time.Second)
	for !srv.Ready() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !srv.Ready() {
		t.Fatal("not ready after Serve started")
	}
	sid := mustSID(t)
	p0, err := joinAt(t, addr, secnet.Config{}, mpc.Server, sid, [32]byte{}, Ticket{})
	if err != nil {
		t.Fatal(err)
	}
	req := corr.Request{Kind: mpc.KindSquare, Label: "s", N: 4}
	if _, err := p0.Get(req); err != nil {
		t.Fatal(err)
	}
	cancel()
	for srv.Ready() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var b strings.Builder
	reg.WriteText(&b)
	if srv.Ready() || !strings.Contains(b.String(), "autorep_dealer_ready 0\n") {
		t.Errorf("still ready while draining:\n%s", b.String())
	}
	if _, err := joinAt(t, addr, secnet.Config{}, mpc.Server, mustSID(t), [32]byte{}, Ticket{}); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("new session while draining: %v", err)
	}
	p1, err := joinAt(t, addr, secnet.Config{}, mpc.Client, sid, [32]byte{}, Ticket{})
	if err != nil {
		t.Fatalf("the open session's client while draining: %v", err)
	}
	if _, err := p1.Get(req); err != nil {
		t.Errorf("material while draining: %v", err)
	}
	p0.Close()
	p1.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still draining 10 s after its last session ended (grace 1 min)")
	}
	if st := srv.Stats(); st.Refused[CauseDraining] != 1 {
		t.Errorf("draining refusals: %v", st.Refused)
	}
}
