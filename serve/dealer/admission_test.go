package dealer

import (
	"context"
	"errors"
	"github.com/autorep/autorep/mpc/corr"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/mpc/fssgates"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

// joinAt dials the dealer at addr with cfg (insecure when zero) and joins
// party p of sid with ticket t.
func joinAt(t *testing.T, addr string, cfg secnet.Config, p mpc.Party, sid SessionID, hash [32]byte, tk Ticket) (*Remote, error) {
	t.Helper()
	if cfg == (secnet.Config{}) {
		cfg.Insecure = true
	}
	c, err := secnet.Dial(context.Background(), addr, cfg, transport.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	pr, err := JoinTicket(context.Background(), c, p, sid, hash, tk)
	if err != nil {
		c.Close()
		return nil, err
	}
	t.Cleanup(func() { pr.Close() })
	return pr, nil
}

// nothingGenerated fails unless the dealer generated nothing and counted
// the refusals wanted.
func nothingGenerated(t *testing.T, srv *Server, refused map[string]int64) {
	t.Helper()
	st := srv.Stats()
	if st.Generated != 0 || st.GeneratedBytes != 0 || st.MaterialBytes != 0 {
		t.Errorf("dealer generated %d items (%d bytes) for refused parties", st.Generated, st.GeneratedBytes)
	}
	for cause, n := range refused {
		if st.Refused[cause] != n {
			t.Errorf("refusals for %s: %d, want %d (all: %v)", cause, st.Refused[cause], n, st.Refused)
		}
	}
}

// TestServerRoleNeedsCertificate: with RequireServerCert, a connection
// claiming the server role without a client certificate of the dealer's
// --server-ca is refused before anything is generated; one with it joins,
// and the client role needs no certificate (issue 19, finding 2).
func TestServerRoleNeedsCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, key, err := secnet.GenerateSelfSigned(filepath.Join(dir, "dealer"), []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caCert, caKey, err := secnet.GenerateCA(filepath.Join(dir, "ca"), "servers", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cc, ck, err := secnet.IssueClientCert(caCert, caKey, filepath.Join(dir, "server"), "model-server", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Without a verifying listener the option is refused at start.
	plain, err := secnet.Listen("127.0.0.1:0", secnet.Config{Insecure: true}, transport.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := (&Server{Generator: mpcdealer.NewGenerator([16]byte{}), RequireServerCert: true}).Serve(context.Background(), plain); err == nil {
		t.Error("RequireServerCert served on a listener that verifies no client")
	}

	srv := &Server{RequireServerCert: true}
	addr := serveTest(t, srv, secnet.Config{CertFile: cert, KeyFile: key, ClientCAFile: caCert})
	anon := secnet.Config{CAFile: cert}
	authed := secnet.Config{CAFile: cert, ClientCertFile: cc, ClientKeyFile: ck}
	sid, _ := NewSessionID()
	if _, err := joinAt(t, addr, anon, mpc.Server, sid, [32]byte{}, Ticket{}); err == nil || !strings.Contains(err.Error(), "client certificate") {
		t.Fatalf("server role without a certificate: %v", err)
	}
	nothingGenerated(t, srv, map[string]int64{CauseAuth: 1})
	if st := srv.Stats(); st.Sessions != 0 || st.Open != 0 {
		t.Errorf("refused server joined: %+v", st)
	}
	p0, err := joinAt(t, addr, authed, mpc.Server, sid, [32]byte{}, Ticket{})
	if err != nil {
		t.Fatalf("server with its certificate: %v", err)
	}
	p1, err := joinAt(t, addr, anon, mpc.Client, sid, [32]byte{}, Ticket{})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	req := corr.Request{Kind: mpc.KindSquare, Label: "s", N: 3}
	if _, err := p0.Get(req); err != nil {
		t.Fatal(err)
	}
	if _, err := p1.Get(req); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Generated != 1 {
		t.Errorf("generated %d, want 1", st.Generated)
	}
}

// TestTickets: IssueTicket and VerifyTicket bind key, party, session and
// plan; with a TicketKey the dealer refuses a hello without a valid ticket
// before generating anything, and admits one with it (issue 19, finding
// 2).
func TestTickets(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	sid, _ := NewSessionID()
	hash := [32]byte{5}
	tk, err := IssueTicket(key, mpc.Client, sid, hash)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyTicket(key, mpc.Client, sid, hash, tk); err != nil {
		t.Errorf("valid ticket: %v", err)
	}
	other, _ := NewSessionID()
	otherKey := append([]byte("x"), key[1:]...)
	for name, check := range map[string]error{
		"other party":   VerifyTicket(key, mpc.Server, sid, hash, tk),
		"other session": VerifyTicket(key, mpc.Client, other, hash, tk),
		"other plan":    VerifyTicket(key, mpc.Client, sid, [32]byte{6}, tk),
		"other key":     VerifyTicket(otherKey, mpc.Client, sid, hash, tk),
		"no ticket":     VerifyTicket(key, mpc.Client, sid, hash, Ticket{}),
	} {
		if !errors.Is(check, ErrTicket) {
			t.Errorf("%s: %v, want ErrTicket", name, check)
		}
	}
	if _, err := IssueTicket(key[:31], mpc.Client, sid, hash); err == nil {
		t.Error("31-byte key accepted")
	}

	srv := &Server{TicketKey: key}
	addr := serveTest(t, srv, secnet.Config{})
	serverTk, _ := IssueTicket(key, mpc.Server, sid, hash)
	for name, tk := range map[string]Ticket{"none": {}, "server's ticket": serverTk, "wrong key": mustTicket(t, otherKey, mpc.Client, sid, hash)} {
		if _, err := joinAt(t, addr, secnet.Config{}, mpc.Client, sid, hash, tk); err == nil || !strings.Contains(err.Error(), "ticket") {
			t.Errorf("client with %s: %v", name, err)
		}
	}
	if _, err := joinAt(t, addr, secnet.Config{}, mpc.Server, sid, hash, Ticket{}); err == nil {
		t.Error("server without a ticket (and no certificates) admitted")
	}
	nothingGenerated(t, srv, map[string]int64{CauseTicket: 4})
	p0, err := joinAt(t, addr, secnet.Config{}, mpc.Server, sid, hash, serverTk)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := joinAt(t, addr, secnet.Config{}, mpc.Client, sid, hash, tk)
	if err != nil {
		t.Fatal(err)
	}
	if p0.Tag() != p1.Tag() || p0.Tag() == (SessionTag{}) {
		t.Errorf("tags of one session: %s and %s", p0.Tag(), p1.Tag())
	}
}

func mustTicket(t *testing.T, key []byte, p mpc.Party, sid SessionID, hash [32]byte) Ticket {
	t.Helper()
	tk, err := IssueTicket(key, p, sid, hash)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestRequestLimits: a request above any per-request bound is refused with
// a clear error naming the bound and its flag, before anything is
// generated; one within them is served (issue 19, finding 2).
func TestRequestLimits(t *testing.T) {
	srv := &Server{MaxRequestElems: 1000, MaxRequestMACs: 1 << 20, MaxRequestBytes: 1 << 20}
	addr := serveTest(t, srv, secnet.Config{})
	conv := corr.LinearSpec{N: 1, C: 64, H: 16, W: 16, K: 64, R: 3, S: 3, PadH: 1, PadW: 1} // 16,384 elements in and out
	small := corr.LinearSpec{N: 1, C: 8, H: 8, W: 8, K: 8, R: 3, S: 3, PadH: 1, PadW: 1}    // 512 elements, 294,912 MACs
	wide := corr.DenseSpec(1, 1000, 1000)                                                   // 10^6 MACs, 10^6 weights
	for _, c := range []struct {
		req  corr.Request
		flag string
	}{
		{corr.Request{Kind: mpc.KindTriple, Label: "t", N: 1001}, "--max-request-elems"},
		{corr.Request{Kind: fssgates.KindReLU, Label: "r", N: 1000}, "--max-request-bytes"}, // 2 × 1000 × 2,072 B
		{corr.Request{Kind: mpc.KindLinear, Label: "c", Linear: conv}, "--max-request-elems"},
		{corr.Request{Kind: mpc.KindLinear, Label: "d", Linear: corr.DenseSpec(1, 4, 1<<21)}, "--max-request-elems"},
		{corr.Request{Kind: mpc.KindLinear, Label: "w", Linear: wide}, "--max-request-elems"},
	} {
		sid, _ := NewSessionID()
		p0, err := joinAt(t, addr, secnet.Config{}, mpc.Server, sid, [32]byte{}, Ticket{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p0.Get(c.req); err == nil || !strings.Contains(err.Error(), ErrRequestLimit.Error()) || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%v N=%d: %v, want a refusal naming %s", c.req.Kind, c.req.N, err, c.flag)
		}
	}
	nothingGenerated(t, srv, map[string]int64{CauseRequestLimit: 5})
	// MACs alone: 2^20 is below this 64-channel 8×8 layer's 2,359,296.
	srv2 := &Server{MaxRequestMACs: 1 << 20}
	addr2 := serveTest(t, srv2, secnet.Config{})
	sid, _ := NewSessionID()
	p0, err := joinAt(t, addr2, secnet.Config{}, mpc.Server, sid, [32]byte{}, Ticket{})
	if err != nil {
		t.Fatal(err)
	}
	mid := corr.LinearSpec{N: 1, C: 64, H: 8, W: 8, K: 64, R: 3, S: 3, PadH: 1, PadW: 1}
	if _, err := p0.Get(corr.Request{Kind: mpc.KindLinear, Label: "m", Linear: mid}); err == nil || !strings.Contains(err.Error(), "--max-request-macs") {
		t.Errorf("conv of 2.4M multiply-adds: %v", err)
	}
	nothingGenerated(t, srv2, map[string]int64{CauseRequestLimit: 1})
	// Within every bound: served.
	sid, _ = NewSessionID()
	p0, err = joinAt(t, addr, secnet.Config{}, mpc.Server, sid, [32]byte{}, Ticket{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p0.Get(corr.Request{Kind: mpc.KindLinear, Label: "s", Linear: small}); err != nil {
		t.Errorf("small conv: %v", err)
	}
	if st := srv.Stats(); st.Generated != 1 {
		t.Errorf("generated %d, want 1", st.Generated)
	}
}

// TestSessionQuotas: one session's unclaimed halves are bounded by
// MaxSessionHeld, and its generation time by MaxSessionCPU; both refusals
// are counted by cause.
func TestSessionQuotas(t *testing.T) {
	req := func(i int) corr.Request { return corr.Request{Kind: mpc.KindTriple, Label: "t", N: 100 + i} }
	srv := &Server{MaxSessionHeld: 1, MemoryWait: 300 * time.Millisecond}
	addr := serveTest(t, srv, secnet.Config{})
	sid, _ := NewSessionID()
	p0, err := joinAt(t, addr, secnet.Config{}, mpc.Server, sid, [32]byte{}, Ticket{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p0.Get(req(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := p0.Get(req(1)); err == nil || !strings.Contains(err.Error(), "per session") {
		t.Errorf("second generation while the first half waits: %v", err)
	}
	if st := srv.Stats(); st.Refused[CauseSessionMemory] != 1 || st.Generated != 1 {
		t.Errorf("after the session-memory refusal: %+v", st)
	}
	// Another session is not held back by the first one's halves.
	sid2, _ := NewSessionID()
	q0, err := joinAt(t, addr, secnet.Config{}, mpc.Server, sid2, [32]byte{}, Ticket{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q0.Get(req(0)); err != nil {
		t.Errorf("other session: %v", err)
	}

	cpu := &Server{MaxSessionCPU: time.Nanosecond}
	addr = serveTest(t, cpu, secnet.Config{})
	p0, err = joinAt(t, addr, secnet.Config{}, mpc.Server, sid, [32]byte{}, Ticket{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p0.Get(req(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := p0.Get(req(1)); err == nil || !strings.Contains(err.Error(), ErrQuota.Error()) {
		t.Errorf("generation after the quota: %v", err)
	}
	if st := cpu.Stats(); st.Refused[CauseSessionCPU] != 1 || st.Generated != 1 {
		t.Errorf("after the CPU refusal: %+v", st)
	}
}

// TestIdleSessionReapedAndWaitCancelled: a session that asks for nothing
// for IdleTimeout is ended even while its party pings; and a request
// waiting for memory is abandoned when its session ends that way, long
// before MemoryWait, without generating.
func TestIdleSessionReapedAndWaitCancelled(t *testing.T) {
	srv := &Server{IdleTimeout: 300 * time.Millisecond, MaxMemory: 1, MemoryWait: time.Minute}
	addr := serveTest(t, srv, secnet.Config{})
	sid, _ := NewSessionID()
	p0, err := joinAt(t, addr, secnet.Config{}, mpc.Server, sid, [32]byte{}, Ticket{})
	if err != nil {
		t.Fatal(err)
	}
	p0.KeepAlive(50 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().Reaped == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := p0.Get(corr.Request{Kind: mpc.KindSquare, Label: "s", N: 2}); err == nil {
		t.Error("reaped session still served")
	}
	if st := srv.Stats(); st.Reaped != 1 || st.Generated != 0 {
		t.Errorf("after reaping: %+v", st)
	}

	// A holds material (its client never comes); B waits for memory and is
	// reaped while waiting. A keeps asking (no reaping) meanwhile.
	sidA, sidB := mustSID(t), mustSID(t)
	a0, err := joinAt(t, addr, secnet.Config{}, mpc.Server, sidA, [32]byte{}, Ticket{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a0.Get(corr.Request{Kind: mpc.KindTriple, Label: "a", N: 10}); err != nil {
		t.Fatal(err)
	}
	stopA := make(chan struct{})
	defer close(stopA)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stopA:
				return
			case <-time.After(100 * time.Millisecond):
				a0.Get(corr.Request{Kind: mpc.KindWeightMask, Label: "w", Linear: corr.DenseSpec(1, 2, 2)}) // session-level: no new generation after the first
			}
		}
	}()
	b0, err := joinAt(t, addr, secnet.Config{}, mpc.Server, sidB, [32]byte{}, Ticket{})
	if err != nil {
		t.Fatal(err)
	}
	before := srv.Stats().Generated
	start := time.Now()
	_, err = b0.Get(corr.Request{Kind: mpc.KindTriple, Label: "b", N: 10})
	if err == nil {
		t.Fatal("request served over the memory bound")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("waiting request ended after %v, want soon after the %v idle timeout", d, srv.IdleTimeout)
	}
	if st := srv.Stats(); st.Refused[CauseMemory] != 0 || st.Generated > before+1 { // +1: A's weight mask
		t.Errorf("the reaped waiter generated or counted as a memory refusal: %+v", st)
	}
}

func mustSID(t *testing.T) SessionID {
	t.Helper()
	s, err := NewSessionID()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSessionTags: both parties of one session receive the same tag, two
// sessions (and two dealers) different ones (issue 19, finding 6).
func TestSessionTags(t *testing.T) {
	addr := serveTest(t, &Server{}, secnet.Config{})
	addr2 := serveTest(t, &Server{}, secnet.Config{})
	sid1, sid2 := mustSID(t), mustSID(t)
	tags := map[string]SessionTag{}
	for name, j := range map[string]struct {
		addr string
		p    mpc.Party
		sid  SessionID
	}{"1/server": {addr, mpc.Server, sid1}, "1/client": {addr, mpc.Client, sid1}, "2/server": {addr, mpc.Server, sid2}, "2/client": {addr, mpc.Client, sid2}, "other dealer": {addr2, mpc.Client, sid2}} {
		pr, err := joinAt(t, j.addr, secnet.Config{}, j.p, j.sid, [32]byte{}, Ticket{})
		if err != nil {
			t.Fatal(err)
		}
		tags[name] = pr.Tag()
	}
	if tags["1/server"] != tags["1/client"] || tags["2/server"] != tags["2/client"] {
		t.Errorf("halves of one session got different tags: %v", tags)
	}
	if tags["1/server"] == tags["2/server"] || tags["2/client"] == tags["other dealer"] || tags["1/server"] == (SessionTag{}) {
		t.Errorf("different sessions share a tag: %v", tags)
	}
}
