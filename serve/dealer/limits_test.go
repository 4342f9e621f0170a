package dealer

import (
	"context"
	"encoding/binary"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

// serveTest starts srv on a loopback listener with cfg (insecure when
// zero) and returns its address; the server stops at the end of the test.
func serveTest(t *testing.T, srv *Server, cfg secnet.Config) string {
	t.Helper()
	if cfg == (secnet.Config{}) {
		cfg.Insecure = true
	}
	if srv.Generator == nil {
		srv.Generator = mpcdealer.NewGenerator(ring.Seed{7})
	}
	if srv.Grace == 0 {
		srv.Grace = -1
	}
	if srv.Logf == nil {
		srv.Logf = t.Logf
	}
	ln, err := secnet.Listen("127.0.0.1:0", cfg, transport.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// TestOversizedHelloRefusedUnread: a hello frame announcing 512 MiB (within
// the connection's 1 GiB MaxFrame) is refused from its header: the dealer
// closes the connection at once, without waiting for or allocating the
// payload (issue 19, finding 5).
func TestOversizedHelloRefusedUnread(t *testing.T) {
	addr := serveTest(t, &Server{}, secnet.Config{})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var hdr [transport.HeaderSize]byte
	binary.LittleEndian.PutUint32(hdr[:], 512<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := nc.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := nc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("dealer answered an oversized hello: %d bytes, %v (want the connection closed)", n, err)
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 4<<20 {
		t.Errorf("refusing a 512 MiB hello allocated %d bytes", d)
	}
}

// TestStalledConnectionsBounded: connections that never send their hello
// hold at most MaxPendingPerHost slots, and only for HelloTimeout: an
// honest party from the same host is refused while they stall and joins
// within about HelloTimeout after they started (issue 19, finding 3).
func TestStalledConnectionsBounded(t *testing.T) {
	const hello = 400 * time.Millisecond
	srv := &Server{MaxPendingPerHost: 64, HelloTimeout: hello}
	addr := serveTest(t, srv, secnet.Config{})
	start := time.Now()
	for range 64 {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().Refused[CausePendingHost] == 0 && time.Now().Before(deadline) {
		// Until the stalled ones time out, an honest join is refused at
		// once (its connection closed before the handshake).
		sid, _ := NewSessionID()
		if _, err := joinAt(t, addr, secnet.Config{}, mpc.Server, sid, [32]byte{}, Ticket{}); err == nil {
			break
		}
	}
	if srv.Stats().Refused[CausePendingHost] == 0 {
		t.Fatal("no connection refused with 64 stalled ones from this host")
	}
	var joined time.Duration
	for time.Now().Before(deadline) {
		sid, _ := NewSessionID()
		if _, err := joinAt(t, addr, secnet.Config{}, mpc.Server, sid, [32]byte{}, Ticket{}); err == nil {
			joined = time.Since(start)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if joined == 0 || joined > hello+2*time.Second {
		t.Errorf("honest party joined after %v with 64 stalled connections (hello timeout %v)", joined, hello)
	}
	t.Logf("joined %v after the stall began; refused %v", joined.Round(time.Millisecond), srv.Stats().Refused)
}
