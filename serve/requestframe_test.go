package serve

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"

	"github.com/autorep/autorep/transport"
)

// TestRequestFrameBounds: once a session's setup is done, the server reads
// each request (PIQ1) or prepare (PIP1, the twoparty suite's offline phase
// ahead) under the bound of that message, a few bytes: a frame header
// announcing 512 MiB (within the connection's 1 GiB MaxFrame), or a
// prepare of 64 bytes, ends the session at once with "frame too large",
// nothing of the payload read or waited for; the next session is served
// (its setup runs). Both suites (issue 19, finding 5).
func TestRequestFrameBounds(t *testing.T) {
	bothSuites(t, func(*Server) {}, func(t *testing.T, addr string, s *Server, log *logSink) {
		ctx, cancel := testCtx(t)
		defer cancel()
		cfg := ClientConfig{Server: addr, Dial: dialer(insecure), TrustServerDealer: true}
		for i, tc := range []struct {
			name    string
			header  uint32 // a bare header announcing this many bytes
			payload []byte
		}{
			{name: "512 MiB header", header: 512 << 20},
			{name: "long prepare", payload: append([]byte("PIP1"), make([]byte, 60)...)},
		} {
			sess, err := Dial(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := sess.pic.Connect(ctx, sess.conn); err != nil { // the setup: requests come next
				t.Fatal(err)
			}
			nc, ok := sess.conn.(interface{ NetConn() net.Conn })
			if !ok {
				t.Fatalf("session connection %T has no NetConn", sess.conn)
			}
			failed := s.Stats().Failed
			if tc.header != 0 {
				var hdr [transport.HeaderSize]byte
				binary.LittleEndian.PutUint32(hdr[:], tc.header)
				_, err = nc.NetConn().Write(hdr[:])
			} else {
				err = sess.conn.Send(tc.payload)
			}
			if err != nil {
				t.Fatal(err)
			}
			// The connection's read timeout is 90 s here: a server waiting
			// for the payload would not fail the session within 10 s.
			if !eventually(func() bool { return log.count("session failed", "waiting for a request", "frame too large") == i+1 }) {
				t.Fatalf("%s: the session did not fail naming the request bound within 10 s", tc.name)
			}
			if got := s.Stats().Failed; got != failed+1 {
				t.Errorf("%s: %d sessions failed, want %d", tc.name, got, failed+1)
			}
			sess.Close()
		}
	})
}

// count returns how many collected lines contain all of subs.
func (l *logSink) count(subs ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			n++
		}
	}
	return n
}
