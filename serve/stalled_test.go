package serve

import (
	"net"
	"testing"
	"time"
)

// TestStalledConnectionsBoundedServe: 64 connections from one host that
// never send their hello (DefaultMaxPendingPerHost) keep an honest client
// from that host out only until HelloTimeout closes them, in both suites
// (issue 19, finding 3 and must-show "64 stalled connections cannot keep
// an honest client out for more than the configured bound"): while they
// stall, the client is refused at once (CausePendingHost); the attempt
// that is served starts within HelloTimeout plus a generous margin of the
// stall's start.
func TestStalledConnectionsBoundedServe(t *testing.T) {
	const hello, margin = time.Second, 6 * time.Second // margin: dials under load; below the default 10 s
	bothSuites(t, func(s *Server) { s.HelloTimeout = hello }, func(t *testing.T, addr string, s *Server, _ *logSink) {
		start := time.Now()
		for range DefaultMaxPendingPerHost {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
		}
		ctx, cancel := testCtx(t)
		defer cancel()
		cfg := ClientConfig{Server: addr, Dial: dialer(insecure), TrustServerDealer: true}
		var joined time.Duration
		for deadline := start.Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			// The attempt that gets in counts from its start: a session's
			// opening takes seconds on a loaded machine, refusals none.
			at := time.Since(start)
			if sess, err := Dial(ctx, cfg); err == nil {
				joined = at
				sess.Close()
				break
			}
		}
		if n := s.Stats().Refused[CausePendingHost]; n == 0 {
			t.Errorf("no connection refused with %d stalled ones from this host", DefaultMaxPendingPerHost)
		}
		if joined == 0 || joined > hello+margin {
			t.Errorf("honest client's served attempt started %v after %d connections stalled (hello timeout %v)", joined, DefaultMaxPendingPerHost, hello)
		}
		t.Logf("served attempt started %v after the stall began; refused %v", joined.Round(time.Millisecond), s.Stats().Refused)
	})
}
