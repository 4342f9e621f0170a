package serve

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestParseClients: a token file's lines, quotas and errors.
func TestParseClients(t *testing.T) {
	a, b := TokenLine("alice", []byte("a-token")), TokenLine("bob", []byte("b-token"))
	c, err := ParseClients(strings.NewReader("# clients\n\n"+a+" sessions=1 per-day=3\n"+b+"\n"), Quota{Sessions: 4, PerDay: 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.byHash) != 2 {
		t.Fatalf("%d clients, want 2", len(c.byHash))
	}
	for _, st := range c.byHash {
		want := map[string]Quota{"alice": {1, 3}, "bob": {4, 0}}[st.name]
		if st.quota != want {
			t.Errorf("%s: quota %+v, want %+v", st.name, st.quota, want)
		}
	}
	for name, text := range map[string]string{
		"empty":          "# nobody\n",
		"no hash":        "alice\n",
		"short hash":     "alice:abcd\n",
		"bad name":       "al ice:" + strings.Repeat("0", 64) + "\n",
		"duplicate":      a + "\n" + a + "\n",
		"unknown quota":  a + " hours=3\n",
		"bad quota":      a + " sessions=x\n",
		"duplicate name": a + "\n" + "alice:" + strings.Repeat("1", 64) + "\n",
	} {
		if _, err := ParseClients(strings.NewReader(text), Quota{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestClientTokens: with Server.Clients, a client without a listed token
// is refused before any session state or dealer work (the dealer sees no
// join); a listed client is served within its quotas: sessions at once,
// and a daily image budget that closes its session after the last
// inference and refuses new ones until the next UTC day (issue 19,
// findings 4 and 9).
func TestClientTokens(t *testing.T) {
	plan := loadPlan(t)
	d, dsrv := startDealer(t, "127.0.0.1:0", insecure)
	defer d.stop(t)
	alice, bob := []byte("alice's token, 32 bytes or more.."), []byte("bob's token")
	clients, err := ParseClients(strings.NewReader(TokenLine("alice", alice)+" sessions=1 per-day=3\n"+TokenLine("bob", bob)+"\n"), Quota{Sessions: 4})
	if err != nil {
		t.Fatal(err)
	}
	var day atomic.Int64
	clients.now = func() time.Time { return time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC).AddDate(0, 0, int(day.Load())) }
	srv, s := startServer(t, plan, d.addr, 0, insecure, insecure, func(s *Server) { s.Clients = clients })
	defer srv.stop(t)
	ctx, cancel := testCtx(t)
	defer cancel()
	cfg := func(token []byte) ClientConfig {
		return ClientConfig{Server: srv.addr, Dial: dialer(insecure), TrustServerDealer: true, Token: token}
	}

	for _, tok := range [][]byte{nil, []byte("guess"), append([]byte(nil), alice[:len(alice)-1]...)} {
		if _, err := Dial(ctx, cfg(tok)); err == nil || !strings.Contains(err.Error(), "no valid client token") {
			t.Errorf("token %q: %v, want a refusal", tok, err)
		}
	}
	eventually(func() bool { return s.Stats().Refused[CauseAuth] == 3 })
	if st := s.Stats(); st.Refused[CauseAuth] != 3 || st.Sessions != 0 || dsrv.Stats().Sessions != 0 {
		t.Errorf("after 3 unauthenticated hellos: server %+v, dealer joins %d; want 3 auth refusals and no session or dealer join", st, dsrv.Stats().Sessions)
	}

	sa, err := Dial(ctx, cfg(alice))
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	if _, err := Dial(ctx, cfg(alice)); err == nil || !strings.Contains(err.Error(), "sessions open") {
		t.Errorf("alice's second session at once: %v, want a quota refusal", err)
	}
	sb, err := Dial(ctx, cfg(bob))
	if err != nil {
		t.Fatalf("bob beside alice: %v", err)
	}
	sb.Close()
	for i := range 3 {
		x := randImage(int64(100+i), plan.Public.Input)
		r, err := sa.Infer(ctx, x)
		if err != nil {
			t.Fatalf("alice's inference %d: %v", i+1, err)
		}
		if want := fixedLabel(t, plan, x); r.Label != want {
			t.Errorf("label %d, want %d", r.Label, want)
		}
	}
	if _, err := sa.Infer(ctx, randImage(103, plan.Public.Input)); err == nil {
		t.Error("alice's fourth inference of the day was served")
	}
	sa.Close()
	if !eventually(func() bool { return s.Stats().Closed[ClosedBudget] == 1 && s.Stats().Active == 0 }) {
		t.Errorf("closes %v, want one by budget", s.Stats().Closed)
	}
	if _, err := Dial(ctx, cfg(alice)); err == nil || !strings.Contains(err.Error(), "images of the day") {
		t.Errorf("alice after her budget: %v, want a quota refusal", err)
	}
	if !eventually(func() bool { return s.Stats().Refused[CauseQuota] == 2 }) {
		got := s.Stats().Refused[CauseQuota]
		t.Errorf("%d quota refusals, want 2", got)
	}
	day.Add(1)
	sa, err = Dial(ctx, cfg(alice))
	if err != nil {
		t.Fatalf("alice the next day: %v", err)
	}
	if _, err := sa.Infer(ctx, randImage(104, plan.Public.Input)); err != nil {
		t.Errorf("alice's inference the next day: %v", err)
	}
	sa.Close()
	if _, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), Token: make([]byte, MaxToken+1)}); err == nil {
		t.Error("an oversized token was sent")
	}
}
