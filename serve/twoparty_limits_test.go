package serve

import (
	"errors"
	"strings"
	"testing"
)

// TestTwoPartyTokensQuotasInferences: the twoparty suite has the dealer
// suite's admission control and limits (issue 19: "the twoparty suite
// gets the same admission control and limits"): hellos without a listed
// token are refused before any session work, a client's sessions at once
// and images per day hold (the session is closed after the last image of
// the budget, the next hello refused), and MaxInferences ends a session
// even for a client that ignores the announced limit. (Busy, idle and
// pending bounds: TestBusyRetryAfter, TestIdleTimeout, TestMaxPending.)
func TestTwoPartyTokensQuotasInferences(t *testing.T) {
	skipShortTwoParty(t)
	plan := loadPlanSuite(t, baseModel, suiteTwoParty)
	alice, bob := []byte("alice's token, 32 bytes or more.."), []byte("bob's token")
	clients, err := ParseClients(strings.NewReader(TokenLine("alice", alice)+" sessions=1 per-day=2\n"+TokenLine("bob", bob)+"\n"), Quota{})
	if err != nil {
		t.Fatal(err)
	}
	log := &logSink{t: t}
	srv, s := startTwoParty(t, plan, insecure, func(s *Server) { s.Clients, s.MaxInferences, s.Logf = clients, 1, log.logf })
	defer srv.stop(t)
	ctx, cancel := testCtx(t)
	defer cancel()
	cfg := func(token []byte) ClientConfig {
		return ClientConfig{Server: srv.addr, Dial: dialer(insecure), Token: token}
	}
	if _, err := Dial(ctx, cfg([]byte("guess"))); err == nil || !strings.Contains(err.Error(), "no valid client token") {
		t.Errorf("unlisted token: %v, want a refusal", err)
	}
	// The refusal is counted once the server's handler returns, which may
	// be just after the client has read it.
	eventually(func() bool { return s.Stats().Refused[CauseAuth] == 1 })
	if st := s.Stats(); st.Refused[CauseAuth] != 1 || st.Sessions != 0 {
		t.Errorf("after an unauthenticated hello: %+v", st)
	}

	// Alice: one session at once, two images a day, one inference per
	// session (MaxInferences).
	infer := func(sess *Session, seed int64) error {
		x := randImage(seed, plan.Public.Input)
		r, err := sess.Infer(ctx, x)
		if err == nil && r.Label != fixedLabel(t, plan, x) {
			err = errors.New("wrong label")
		}
		return err
	}
	sa, err := Dial(ctx, cfg(alice))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Dial(ctx, cfg(alice)); err == nil || !strings.Contains(err.Error(), "sessions open") {
		t.Errorf("alice's second session at once: %v, want a quota refusal", err)
	}
	if sa.MaxInferences != 1 {
		t.Errorf("the session announces %d inferences, want 1", sa.MaxInferences)
	}
	if err := infer(sa, 1); err != nil {
		t.Fatal(err)
	}
	sa.MaxInferences = 0 // a client that ignores the limit
	if err := infer(sa, 2); err == nil {
		t.Error("a second inference beyond MaxInferences was served")
	}
	sa.Close()
	log.waitFor(t, "closed by the server", "cause=inferences", "inferences=1")
	eventually(func() bool { return s.Stats().Active == 0 })
	sa, err = Dial(ctx, cfg(alice))
	if err != nil {
		t.Fatal(err)
	}
	if err := infer(sa, 3); err != nil {
		t.Fatal(err)
	}
	sa.Close()
	if !eventually(func() bool { return s.Stats().Closed[ClosedBudget] == 1 && s.Stats().Active == 0 }) {
		t.Errorf("closes %v, want one by budget", s.Stats().Closed)
	}
	if _, err := Dial(ctx, cfg(alice)); err == nil || !strings.Contains(err.Error(), "images of the day") {
		t.Errorf("alice after her budget: %v, want a quota refusal", err)
	}
	// Bob, without quotas, is still served.
	sb, err := Dial(ctx, cfg(bob))
	if err != nil {
		t.Fatal(err)
	}
	if err := infer(sb, 4); err != nil {
		t.Error(err)
	}
	sb.Close()
	eventually(func() bool { st := s.Stats(); return st.Inferences == 3 && st.Refused[CauseQuota] == 2 })
	if st := s.Stats(); st.Failed != 0 || st.Inferences != 3 || st.Refused[CauseQuota] != 2 {
		t.Errorf("server stats %+v, want 3 inferences, 2 quota refusals, no failure", st)
	}
}
