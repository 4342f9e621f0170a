package dealer

import (
	"context"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

// bigGate is a request whose generation takes seconds here (half a million
// 64-bit ReLU keys), so that it is still running when it is interrupted.
var bigGate = fssgates.GateRequest(fssgates.KindReLU, "big", 1<<19, 0, 0)

// waitGenerationEnded waits until the dealer has spent time generating
// (the generation returned) and fails unless that happened within limit
// and nothing completed, and unless any allocation it abandoned was done
// within a minute.
func waitGenerationEnded(t *testing.T, srv *Server, since time.Time, limit time.Duration) {
	t.Helper()
	for srv.Stats().GenerateSeconds == 0 && time.Since(since) < 30*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(since)
	st := srv.Stats()
	t.Logf("generation ended %v after the interruption (%.2f s generating), %d completed", took, st.GenerateSeconds, st.Generated)
	if st.GenerateSeconds == 0 || took > limit || st.Generated != 0 {
		t.Errorf("generation ended %v after the interruption (limit %v), %d completed", took, limit, st.Generated)
	}
	// A key batch above the pool's bound abandoned mid-allocation counts
	// (against MaxMemory) until the runtime has finished it, then not.
	for srv.Stats().Abandoned != 0 && time.Since(since) < 60*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	if a := srv.Stats().Abandoned; a != 0 {
		t.Errorf("%d bytes of abandoned key memory still counted a minute after the interruption", a)
	}
}

// TestGenerationInterrupted: a party that disconnects while the dealer
// generates its large request ends that generation within a bounded
// time (its connection is read ahead), also when it had pipelined more
// requests behind it before it closed, and a drain
// whose grace expires does too, Serve returning without waiting for it;
// no goroutine is left.
func TestGenerationInterrupted(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Run("party disconnects", func(t *testing.T) {
		debug.FreeOSMemory() // the keys' memory comes fresh: its clearing is not the generation
		srv := &Server{Generator: mpcdealer.NewGenerator(ring.Seed{5})}
		addr := serveTest(t, srv, secnet.Config{})
		p0, err := joinAt(t, addr, secnet.Config{}, mpc.Server, mustSID(t), [32]byte{}, Ticket{})
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { _, err := p0.Get(bigGate); errc <- err }()
		time.Sleep(100 * time.Millisecond)
		t0 := time.Now()
		p0.Close()
		if err := <-errc; err == nil {
			t.Error("the closed party got its material")
		}
		waitGenerationEnded(t, srv, t0, 3*time.Second)
	})
	t.Run("party pipelines then disconnects", func(t *testing.T) {
		// The party sends its large request and three more behind it, then
		// closes: the dealer must see the closure behind the queued
		// requests while it generates the first, not after it (issue 19).
		debug.FreeOSMemory()
		srv := &Server{Generator: mpcdealer.NewGenerator(ring.Seed{8})}
		addr := serveTest(t, srv, secnet.Config{})
		p0, err := joinAt(t, addr, secnet.Config{}, mpc.Server, mustSID(t), [32]byte{}, Ticket{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []corr.Request{bigGate,
			fssgates.GateRequest(fssgates.KindReLU, "a", 16, 0, 0), fssgates.GateRequest(fssgates.KindReLU, "b", 16, 0, 0),
			fssgates.GateRequest(fssgates.KindDReLU, "c", 16, 0, 0)} {
			b, err := r.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if err := p0.Conn().Send(b); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(100 * time.Millisecond)
		t0 := time.Now()
		p0.Close()
		waitGenerationEnded(t, srv, t0, 3*time.Second)
	})
	t.Run("drain expires", func(t *testing.T) {
		debug.FreeOSMemory()
		ln, err := secnet.Listen("127.0.0.1:0", secnet.Config{Insecure: true}, transport.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		srv := &Server{Generator: mpcdealer.NewGenerator(ring.Seed{6}), Grace: 100 * time.Millisecond, Logf: t.Logf}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, ln) }()
		p0, err := joinAt(t, ln.Addr().String(), secnet.Config{}, mpc.Server, mustSID(t), [32]byte{}, Ticket{})
		if err != nil {
			t.Fatal(err)
		}
		go p0.Get(bigGate)
		time.Sleep(100 * time.Millisecond)
		t0 := time.Now()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Serve waited for the generation")
		}
		t.Logf("Serve returned %v after the drain started (grace 100 ms)", time.Since(t0))
		waitGenerationEnded(t, srv, t0, 3*time.Second)
	})
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutine leak: %d goroutines, %d before\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}
