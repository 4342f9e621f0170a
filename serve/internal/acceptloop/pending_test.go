package acceptloop

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/autorep/autorep/transport"
)

// closedByPeer reports whether the server closed nc within wait without
// sending anything (a refused connection), as opposed to keeping it open.
// A connection expected to stay open is watched briefly; one expected to
// be closed gets seconds, for a loaded machine.
func closedByPeer(t *testing.T, nc net.Conn, wait time.Duration) bool {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(wait))
	_, err := nc.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err == io.EOF || err != nil
}

// TestPendingCaps: connections that have not authenticated are capped per
// source host and overall: one above a cap is closed at once (Rejected
// says which cap), a connection that authenticates or ends frees its slot,
// and an authenticated connection is not counted however long it stays.
func TestPendingCaps(t *testing.T) {
	for _, perHost := range []bool{true, false} {
		ln := listen(t)
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var rejected []bool
		l := &Loop{Name: "test", Grace: -1,
			Handle: func(ctx context.Context, conn *transport.FramedConn) {
				b, err := conn.Recv() // the "hello"
				if err != nil {
					return
				}
				if string(b) == "auth" {
					Authenticated(ctx)
					Authenticated(ctx) // twice: no effect
				}
				conn.Send(b)
				conn.Recv() // stay open until the peer leaves
			},
			Rejected: func(_ string, ph bool) { mu.Lock(); rejected = append(rejected, ph); mu.Unlock() },
		}
		if perHost {
			l.MaxPendingPerHost = 3
		} else {
			l.MaxPending = 3
		}
		res := run(ctx, l, ln)
		addr := ln.Addr().String()
		raw := func() net.Conn {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { nc.Close() })
			return nc
		}
		stalled := []net.Conn{raw(), raw(), raw()}
		for _, nc := range stalled {
			if closedByPeer(t, nc, 300*time.Millisecond) {
				t.Fatalf("perHost=%v: a connection within the cap was closed", perHost)
			}
		}
		if over := raw(); !closedByPeer(t, over, 10*time.Second) {
			t.Errorf("perHost=%v: a fourth pending connection was kept", perHost)
		}
		mu.Lock()
		if len(rejected) != 1 || rejected[0] != perHost {
			t.Errorf("perHost=%v: Rejected calls %v", perHost, rejected)
		}
		mu.Unlock()
		// One stalled peer leaves: its slot frees, and a connection that
		// authenticates stays without holding one.
		stalled[0].Close()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			l.pmu.Lock()
			p := l.pending
			l.pmu.Unlock()
			if p < 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("perHost=%v: the closed peer's slot not freed in 10 s", perHost)
			}
		}
		authed := dial(t, ln)
		if err := authed.Send([]byte("auth")); err != nil {
			t.Fatal(err)
		}
		if b, err := authed.Recv(); err != nil || string(b) != "auth" {
			t.Fatalf("perHost=%v: authenticating connection: %q %v", perHost, b, err)
		}
		if next := raw(); closedByPeer(t, next, 300*time.Millisecond) {
			t.Errorf("perHost=%v: slot of the authenticated connection not freed", perHost)
		}
		cancel()
		if err := wait(t, res); err != nil {
			t.Fatal(err)
		}
	}
}
