package acceptloop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/autorep/autorep/transport"
)

// failingListener returns each of errs from Accept, in order, before
// passing Accept on to the real listener.
type failingListener struct {
	listener
	mu    sync.Mutex
	errs  []error
	calls []time.Time // when each failing Accept returned
}

func (f *failingListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		f.calls = append(f.calls, time.Now())
		f.mu.Unlock()
		return nil, err
	}
	f.mu.Unlock()
	return f.listener.Accept()
}

// acceptErr is an accept error as the net package reports it.
func acceptErr(e syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept", e)}
}

// TestAcceptBackoff: EMFILE and ENFILE (a flood of raw connections) do not
// end Run: it logs, waits 5, 10, 20, 40 ms (doubling, as net/http does) and
// then serves the next connection.
func TestAcceptBackoff(t *testing.T) {
	inner := listen(t)
	fl := &failingListener{listener: inner, errs: []error{
		acceptErr(syscall.EMFILE), acceptErr(syscall.EMFILE), acceptErr(syscall.ENFILE), acceptErr(syscall.EMFILE),
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var logs []string
	l := &Loop{
		Name: "test",
		Handle: func(_ context.Context, conn *transport.FramedConn) {
			b, err := conn.Recv()
			if err == nil {
				err = conn.Send(b)
			}
			if err != nil {
				t.Errorf("echo: %v", err)
			}
		},
		Logf: func(format string, args ...any) {
			mu.Lock()
			logs = append(logs, fmt.Sprintf(format, args...))
			mu.Unlock()
		},
	}
	res := make(chan error, 1)
	go func() { res <- l.run(ctx, fl) }()
	c := dial(t, inner)
	if err := c.Send([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Recv(); err != nil || string(b) != "hi" {
		t.Fatalf("echo after accept errors: %q, %v", b, err)
	}
	cancel()
	if err := wait(t, res); err != nil {
		t.Fatalf("Run after shutdown: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(fl.calls) != 4 || len(logs) != 4 {
		t.Fatalf("%d failing accepts, %d log lines, want 4 each: %q", len(fl.calls), len(logs), logs)
	}
	for i, want := range []time.Duration{5, 10, 20} {
		want *= time.Millisecond
		if gap := fl.calls[i+1].Sub(fl.calls[i]); gap < want {
			t.Errorf("accept retry %d after %v, want ≥ %v", i+1, gap, want)
		}
		if !strings.HasSuffix(logs[i], "retrying in "+want.String()) {
			t.Errorf("log %q, want retrying in %v", logs[i], want)
		}
	}
	if !strings.Contains(logs[0], "too many open files") {
		t.Errorf("log %q does not name the error", logs[0])
	}
}

// TestAcceptBackoffCapped: the delay doubles up to one second and no
// further.
func TestAcceptBackoffCapped(t *testing.T) {
	errs := make([]error, 10)
	for i := range errs {
		errs[i] = acceptErr(syscall.EMFILE)
	}
	fl := &failingListener{listener: listen(t), errs: errs}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var logs []string
	l := &Loop{
		Name:   "test",
		Handle: func(context.Context, *transport.FramedConn) {},
		Logf: func(format string, args ...any) {
			mu.Lock()
			logs = append(logs, fmt.Sprintf(format, args...))
			mu.Unlock()
		},
	}
	res := make(chan error, 1)
	go func() { res <- l.run(ctx, fl) }()
	// 5+10+...+640 ms = 1.275 s for the first eight retries; the ninth
	// delay is logged at once and must be capped at 1 s, not 1.28 s.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(logs)
		mu.Unlock()
		if n >= 9 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel() // also cuts the pending delay short
	start := time.Now()
	if err := wait(t, res); err != nil {
		t.Fatalf("Run after shutdown: %v", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("shutdown took %v during a back-off", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logs) < 9 {
		t.Fatalf("%d log lines, want ≥ 9: %q", len(logs), logs)
	}
	if !strings.HasSuffix(logs[7], "retrying in 640ms") || !strings.HasSuffix(logs[8], "retrying in 1s") {
		t.Errorf("delays %q, %q; want 640ms then 1s", logs[7], logs[8])
	}
}

// TestAcceptPermanentError: an error that is not temporary still ends Run
// with that error.
func TestAcceptPermanentError(t *testing.T) {
	fl := &failingListener{listener: listen(t), errs: []error{acceptErr(syscall.EINVAL)}}
	l := &Loop{Name: "test", Handle: func(context.Context, *transport.FramedConn) {}}
	err := l.run(context.Background(), fl)
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "test: accept") {
		t.Fatalf("Run: %v, want the EINVAL accept error", err)
	}
}
