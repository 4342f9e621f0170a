package dealer

import (
	"context"
	"encoding/binary"
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
	if srv.Dealer == nil {
		srv.Dealer = mpc.NewDealer(ring.Seed{7})
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
