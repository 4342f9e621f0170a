package acceptloop

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

func listen(t *testing.T) *secnet.Listener {
	t.Helper()
	ln, err := secnet.Listen("127.0.0.1:0", secnet.Config{Insecure: true}, transport.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func dial(t *testing.T, ln *secnet.Listener) *transport.FramedConn {
	t.Helper()
	c, err := secnet.Dial(context.Background(), ln.Addr().String(), secnet.Config{Insecure: true}, transport.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// run starts l.Run and returns its result channel.
func run(ctx context.Context, l *Loop, ln *secnet.Listener) chan error {
	res := make(chan error, 1)
	go func() { res <- l.Run(ctx, ln) }()
	return res
}

func wait(t *testing.T, res chan error) error {
	t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// TestShutdownCancelsAfterGrace: a handler still running when the grace
// period ends is cancelled and its connection closed; Stopped runs before
// Expired and Run returns nil.
func TestShutdownCancelsAfterGrace(t *testing.T) {
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var order []string
	started, cancelled := make(chan struct{}), make(chan struct{})
	l := &Loop{
		Name:  "test",
		Grace: 50 * time.Millisecond,
		Handle: func(ctx context.Context, conn *transport.FramedConn) {
			b, err := conn.Recv()
			if err != nil {
				t.Errorf("recv: %v", err)
				return
			}
			if err := conn.Send(b); err != nil {
				t.Errorf("send: %v", err)
			}
			close(started)
			<-ctx.Done()
			close(cancelled)
		},
		Stopped: func() { order = append(order, "stopped") },
		Expired: func() { order = append(order, "expired") },
	}
	res := run(ctx, l, ln)
	c := dial(t, ln)
	if err := c.Send([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Recv(); err != nil || string(b) != "hi" {
		t.Fatalf("echo: %q, %v", b, err)
	}
	<-started
	cancel()
	if err := wait(t, res); err != nil {
		t.Fatalf("Run after a shutdown: %v", err)
	}
	select {
	case <-cancelled:
	default:
		t.Fatal("handler's context not cancelled")
	}
	if len(order) != 2 || order[0] != "stopped" || order[1] != "expired" {
		t.Fatalf("hooks ran as %v, want [stopped expired]", order)
	}
	if _, err := c.Recv(); err == nil {
		t.Fatal("connection still open after the shutdown")
	}
}

// TestShutdownWaitsForHandlers: handlers that finish within the grace
// period are not cancelled, and Expired does not run.
func TestShutdownWaitsForHandlers(t *testing.T) {
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var expired, finished atomic.Bool
	started := make(chan struct{})
	l := &Loop{
		Name:  "test",
		Grace: 10 * time.Second,
		Handle: func(ctx context.Context, conn *transport.FramedConn) {
			close(started)
			time.Sleep(20 * time.Millisecond)
			if ctx.Err() != nil {
				t.Error("handler cancelled within the grace period")
			}
			finished.Store(true)
		},
		Expired: func() { expired.Store(true) },
	}
	res := run(ctx, l, ln)
	dial(t, ln)
	<-started
	cancel()
	if err := wait(t, res); err != nil {
		t.Fatal(err)
	}
	if !finished.Load() || expired.Load() {
		t.Fatalf("finished %v, expired %v; want true, false", finished.Load(), expired.Load())
	}
}

// TestHandshakeFailureLogged: a failed handshake is logged with the
// loop's name and never reaches Handle.
func TestHandshakeFailureLogged(t *testing.T) {
	cert, key, err := secnet.GenerateSelfSigned(t.TempDir(), []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := secnet.Listen("127.0.0.1:0", secnet.Config{CertFile: cert, KeyFile: key}, transport.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logged := make(chan string, 1)
	var handled atomic.Bool
	l := &Loop{
		Name:   "test",
		Handle: func(context.Context, *transport.FramedConn) { handled.Store(true) },
		Logf: func(format string, args ...any) {
			select {
			case logged <- format:
			default:
			}
		},
	}
	res := run(ctx, l, ln)
	// A plain-TCP client fails the TLS handshake.
	c := dial(t, ln)
	c.Send([]byte("not TLS"))
	select {
	case f := <-logged:
		if f != "%s: %v" {
			t.Fatalf("log format %q", f)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handshake failure not logged")
	}
	cancel()
	if err := wait(t, res); err != nil {
		t.Fatal(err)
	}
	if handled.Load() {
		t.Fatal("Handle ran after a failed handshake")
	}
}

// TestNoHandler: Run without Handle is an error and closes the listener.
func TestNoHandler(t *testing.T) {
	ln := listen(t)
	if err := (&Loop{Name: "test"}).Run(context.Background(), ln); err == nil {
		t.Fatal("Run without Handle succeeded")
	}
	if _, err := ln.Accept(); err == nil {
		t.Fatal("listener still open")
	}
}
