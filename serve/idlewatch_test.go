package serve

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/autorep/autorep/transport"
)

// TestWatchIdleBusy: a session whose server is busy with a request (the
// twoparty suite's offline phase moves no byte for seconds) is not idle,
// however long that lasts; once the request is done, the idle bound
// applies again.
func TestWatchIdleBusy(t *testing.T) {
	a, b := transport.Pipe()
	defer a.Close()
	defer b.Close()
	transport.SetPhase(a, transport.PhaseOffline)
	var busy atomic.Bool
	busy.Store(true)
	fired := make(chan time.Duration, 1)
	const timeout = 200 * time.Millisecond
	stop := watchIdle(a, func() int64 { return 0 }, busy.Load, func() time.Duration { return timeout },
		func(d time.Duration) { fired <- d })
	defer stop()
	select {
	case d := <-fired:
		t.Fatalf("idle after %v while the server was busy", d)
	case <-time.After(5 * timeout):
	}
	busy.Store(false)
	select {
	case d := <-fired:
		if d < timeout {
			t.Errorf("idle after %v, below the bound %v", d, timeout)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("not idle 30 s after the request ended")
	}
}
