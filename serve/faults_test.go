package serve

import (
	"context"
	"encoding/binary"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autorep/autorep/internal/frame"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/serve/dealer"
	"github.com/autorep/autorep/serve/secnet"
)

// logSink collects log lines.
type logSink struct {
	mu    sync.Mutex
	lines []string
	t     testing.TB
}

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := sprintf(format, args...)
	l.lines = append(l.lines, line)
	l.t.Log(line)
}

// waitFor waits until a collected line contains all of subs.
func (l *logSink) waitFor(t *testing.T, subs ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, line := range l.lines {
			ok := true
			for _, s := range subs {
				ok = ok && strings.Contains(line, s)
			}
			if ok {
				l.mu.Unlock()
				return line
			}
		}
		l.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log line with %q", subs)
	return ""
}

// checkServes runs one inference through a fresh session.
func checkServes(t *testing.T, addr string, seed int64) {
	t.Helper()
	plan := loadPlan(t)
	ctx, cancel := testCtx(t)
	defer cancel()
	sess, err := Dial(ctx, ClientConfig{Server: addr, TrustServerDealer: true, Dial: dialer(insecure)})
	if err != nil {
		t.Fatalf("server no longer serves: %v", err)
	}
	defer sess.Close()
	checkLabel(t, ctx, sess, plan, seed)
}

// rawFrame writes a frame header announcing n bytes and then body.
func rawFrame(t *testing.T, addr string, n uint32, body []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], n)
	if _, err := c.Write(append(hdr[:], body...)); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFaults(t *testing.T) {
	plan := loadPlan(t)
	base := runtimeGoroutines()
	dlog, slog := &logSink{t: t}, &logSink{t: t}
	d, ds := startDealer(t, "127.0.0.1:0", insecure, dlog.logf)
	srv, s := startServer(t, plan, d.addr, 1, insecure, insecure, func(s *Server) { s.Logf = slog.logf })
	ctx, cancel := testCtx(t)
	defer cancel()

	peerFaults(t, ctx, srv.addr, s, slog)
	t.Run("dealer's port: oversized length prefix", func(t *testing.T) {
		c2 := rawFrame(t, d.addr, 0xFFFFFFF0, nil)
		defer c2.Close()
		dlog.waitFor(t, "frame too large")
		checkServes(t, srv.addr, 3)
	})

	t.Run("replayed session id", func(t *testing.T) {
		sess, err := Dial(ctx, ClientConfig{Server: srv.addr, TrustServerDealer: true, Dial: dialer(insecure)})
		if err != nil {
			t.Fatal(err)
		}
		sid, hash := sess.ID, plan.Public.Hash()
		join := func() error {
			c, err := secnet.Dial(ctx, d.addr, insecure, testOpts())
			if err != nil {
				t.Fatal(err)
			}
			p, err := dealer.Join(ctx, c, mpc.Client, sid, hash)
			if err == nil {
				p.Close()
			}
			return err
		}
		// While the session runs: the client half is taken.
		if err := join(); err == nil || !strings.Contains(err.Error(), "replay") {
			t.Fatalf("second join of a running session: %v, want a replay refusal", err)
		}
		if _, err := sess.Infer(ctx, randImage(7, plan.Public.Input)); err != nil {
			t.Fatalf("the genuine session was disturbed: %v", err)
		}
		sess.Close()
		// After the session ended.
		deadline := time.Now().Add(5 * time.Second)
		for ds.Stats().Open > 2 && time.Now().Before(deadline) { // pooled sessions stay open
			time.Sleep(20 * time.Millisecond)
		}
		var err2 error
		for time.Now().Before(deadline) {
			if err2 = join(); err2 != nil && strings.Contains(err2.Error(), "replay") {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err2 == nil || !strings.Contains(err2.Error(), "replay") {
			t.Fatalf("join of an ended session: %v, want a replay refusal", err2)
		}
	})

	t.Run("dealer restart", func(t *testing.T) {
		sess, err := Dial(ctx, ClientConfig{Server: srv.addr, TrustServerDealer: true, Dial: dialer(insecure)})
		if err != nil {
			t.Fatal(err)
		}
		addr := d.addr
		d.stop(t) // the dealer goes away: pooled and running sessions lose it
		// The running session still has its prefetched material for one
		// inference; the next one needs the dealer and fails cleanly.
		sess.Infer(ctx, randImage(8, plan.Public.Input))
		if _, err := sess.Infer(ctx, randImage(9, plan.Public.Input)); err == nil {
			t.Error("inference without a dealer succeeded")
		} else {
			t.Logf("without dealer: %v", err)
		}
		sess.Close()
		if _, err := Dial(ctx, ClientConfig{Server: srv.addr, TrustServerDealer: true, Dial: dialer(insecure)}); err == nil {
			t.Error("session opened without a dealer")
		} else if !strings.Contains(err.Error(), "dealer") {
			t.Errorf("error does not name the dealer: %v", err)
		}
		d2, ds2 := startDealer(t, addr, insecure, dlog.logf)
		d = d2
		ds = ds2
		checkServes(t, srv.addr, 10)
	})

	srv.stop(t)
	d.stop(t)
	settleGoroutines(t, base)
}

// peerFaults are the faults of a client or a stranger on the server's port,
// the same for every suite: each leaves the server serving the next honest
// client (checkServes).
func peerFaults(t *testing.T, ctx context.Context, addr string, s *Server, slog *logSink) {
	plan := s.Plan
	t.Run("wrong model hash", func(t *testing.T) {
		bad := plan.Public.Hash()
		bad[0] ^= 1
		_, err := Dial(ctx, ClientConfig{Server: addr, TrustServerDealer: true, Dial: dialer(insecure), Hash: &bad})
		if err == nil || !strings.Contains(err.Error(), "model hash mismatch") {
			t.Fatalf("got %v, want a model hash mismatch", err)
		}
		checkServes(t, addr, 1)
	})
	t.Run("wrong protocol version", func(t *testing.T) {
		c, err := secnet.Dial(ctx, addr, insecure, testOpts())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		hello := clientHello([32]byte{}, "", nil)
		hello[4] = 1
		c.Send(hello)
		b, err := c.Recv()
		if reason, ok := frame.Reason(tagError, b); err != nil || !ok || !strings.Contains(reason, "unsupported protocol version 1") {
			t.Errorf("version 1 hello: answer %q, %v", b, err)
		}
	})
	t.Run("malformed hello", func(t *testing.T) {
		for _, b := range [][]byte{append([]byte(tagHello), Version, 's', 'h', 'o', 'r', 't'), append(clientHello([32]byte{}, "twoparty", nil), 'x'), []byte("GET / HTTP/1.1\r\n\r\n")} {
			c, err := secnet.Dial(ctx, addr, insecure, testOpts())
			if err != nil {
				t.Fatal(err)
			}
			c.Send(b)
			ans, err := c.Recv()
			c.Close()
			if reason, ok := frame.Reason(tagError, ans); err != nil || !ok || !strings.Contains(reason, "malformed hello") {
				t.Errorf("hello %q: answer %q, %v", b, ans, err)
			}
		}
		checkServes(t, addr, 31)
	})
	t.Run("truncated frame", func(t *testing.T) {
		c := rawFrame(t, addr, 100, []byte("ASH1"))
		c.Close()
		slog.waitFor(t, "truncated frame")
		checkServes(t, addr, 2)
	})

	t.Run("oversized length prefix", func(t *testing.T) {
		c := rawFrame(t, addr, 0xFFFFFFFF, nil)
		defer c.Close()
		slog.waitFor(t, "frame too large")
		checkServes(t, addr, 3)
	})

	t.Run("client killed mid-inference", func(t *testing.T) {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // a well-behaved client at the same time
			defer wg.Done()
			checkServes(t, addr, 4)
		}()
		sess, err := Dial(ctx, ClientConfig{Server: addr, TrustServerDealer: true, Dial: dialer(insecure)})
		if err != nil {
			t.Fatal(err)
		}
		failed := s.Stats().Failed
		go func() {
			time.Sleep(30 * time.Millisecond)
			sess.conn.Close() // the client vanishes
		}()
		if _, err := sess.Infer(ctx, randImage(5, plan.Public.Input)); err == nil {
			t.Log("inference finished before the connection was cut")
		}
		if sess.prov != nil {
			sess.prov.Close()
		}
		wg.Wait()
		if !eventually(func() bool { return s.Stats().Failed > failed }) {
			t.Error("the server did not report the broken session")
		}
		checkServes(t, addr, 6)
	})
	t.Run("client gone after the handshake", func(t *testing.T) {
		failed := s.Stats().Failed
		c, err := secnet.Dial(ctx, addr, insecure, testOpts())
		if err != nil {
			t.Fatal(err)
		}
		c.Send(clientHello([32]byte{}, "", nil))
		if _, err := c.Recv(); err != nil {
			t.Fatal(err)
		}
		c.Close() // before pi's handshake and setup
		if !eventually(func() bool { return s.Stats().Failed > failed }) {
			t.Error("the server did not report the abandoned session")
		}
		checkServes(t, addr, 7)
	})
}
