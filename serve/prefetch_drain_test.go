package serve

import (
	"context"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"testing"
	"time"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/serve/dealer"
	"github.com/autorep/autorep/serve/secnet"
)

// TestShutdownDuringPoolPrefetch: a server whose pool is fetching a
// session's material from a dealer that makes it wait (its memory bound
// is reached: each request waits a minute) shuts down at once: the
// shutdown closes the dealer connection and the prefetch returns. (The
// dealer sees the party gone once it has read the requests the party
// pipelined before closing: docs/SECURITY.md §8.)
func TestShutdownDuringPoolPrefetch(t *testing.T) {
	plan := loadPlan(t)
	ln, err := secnet.Listen("127.0.0.1:0", insecure, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	d := &dealer.Server{Generator: mpcdealer.NewGenerator(ring.Seed{3}), MaxMemory: 1, MemoryWait: time.Minute, Grace: -1, Logf: t.Logf}
	dctx, dcancel := context.WithCancel(context.Background())
	dr := &running{addr: ln.Addr().String(), cancel: dcancel, done: make(chan error, 1)}
	go func() { dr.done <- d.Serve(dctx, ln) }()
	defer dr.stop(t)
	srv, _ := startServer(t, plan, dr.addr, 1, insecure, insecure)
	if !eventually(func() bool { return d.Stats().Open == 1 && d.Stats().Generated > 0 }) {
		t.Fatalf("the pool's dealer session did not start: %+v", d.Stats())
	}
	time.Sleep(200 * time.Millisecond) // the prefetch now waits for memory
	t0 := time.Now()
	srv.stop(t)
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("shutdown took %v while the pool was prefetching", took)
	}
}
