package serve

import (
	"context"
	"errors"
	"fmt"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/serve/dealer"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/tensor"
)

// withTopK returns a copy of plan whose public part reveals only the k
// best labels (the cached plan is shared by other tests).
func withTopK(plan *pi.Plan, k int) *pi.Plan {
	pub := *plan.Public
	pub.TopK = k
	return &pi.Plan{Public: &pub, Secret: plan.Secret}
}

// fixedTopK is the reference: the k best classes of the fixed-point
// executor's logits, best first, ties to the lower class.
func fixedTopK(t testing.TB, plan *pi.Plan, x *tensor.Tensor, k int) []int {
	t.Helper()
	y, _, err := plan.EvalFixedRaw(x)
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, len(y))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return int64(y[idx[a]]) > int64(y[idx[b]]) })
	return idx[:k]
}

// TestOutputModes: a server whose plan reveals only the label, or the
// top 3, serves clients that get exactly those labels (no logits), equal
// to the fixed-point executor's order; in the dealer suite through a
// network dealer with a pool and the plan registration (so the dealer
// serves the argmax material within the registered limits), in the
// twoparty suite without a dealer.
func TestOutputModes(t *testing.T) {
	d, dSrv := startDealer(t, "127.0.0.1:0", insecure)
	defer d.stop(t)
	ctx, cancel := testCtx(t)
	defer cancel()
	for _, tc := range []struct {
		suite string
		k     int
	}{{suiteDealer, 1}, {suiteDealer, 3}, {suiteTwoParty, 1}} {
		t.Run(fmt.Sprintf("%s/top%d", tc.suite, tc.k), func(t *testing.T) {
			plan := withTopK(loadPlanSuite(t, testModel, tc.suite), tc.k)
			var srv *running
			if tc.suite == suiteDealer {
				srv, _ = startServer(t, plan, d.addr, 1, insecure, insecure, func(s *Server) { s.MaxInferences = 2 })
			} else {
				srv, _ = startTwoParty(t, plan, insecure)
			}
			defer srv.stop(t)
			sess, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), TrustServerDealer: true})
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			if sess.Public.TopK != tc.k || sess.Public.Hash() != plan.Public.Hash() {
				t.Fatalf("client's plan has output %d, want %d", sess.Public.TopK, tc.k)
			}
			n := 2
			if tc.suite == suiteTwoParty {
				n = 1
			}
			for i := range n {
				x := randImage(int64(300+i), plan.Public.Input)
				r, err := sess.Infer(ctx, x)
				if err != nil {
					t.Fatal(err)
				}
				want := fixedTopK(t, plan, x, tc.k)
				if r.Logits != nil || !slices.Equal(r.Labels, want) || r.Label != want[0] {
					t.Errorf("image %d: labels %v, label %d, logits %v; want labels %v and no logits", i, r.Labels, r.Label, r.Logits, want)
				}
			}
		})
	}
	if st := dSrv.Stats(); len(st.Refused) > 0 {
		t.Errorf("dealer refused requests: %+v", st.Refused)
	}
}

// TestServerChecksDealerTag: a client that reports a dealer session tag
// other than the server's (a different dealer session) is stopped by the
// server too, with ErrDealerSession in its log, before any setup.
func TestServerChecksDealerTag(t *testing.T) {
	plan := loadPlan(t)
	d, _ := startDealer(t, "127.0.0.1:0", insecure)
	defer d.stop(t)
	sink := &logSink{t: t}
	srv, s := startServer(t, plan, d.addr, 0, insecure, insecure, func(s *Server) { s.Logf = sink.logf })
	defer srv.stop(t)
	ctx, cancel := testCtx(t)
	defer cancel()
	conn, err := dialer(insecure)(ctx, srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Send(clientHello([32]byte{}, "", nil)); err != nil {
		t.Fatal(err)
	}
	b, err := conn.Recv()
	if err != nil {
		t.Fatal(err)
	}
	ans, err := parseOK(b)
	if err != nil || len(ans.tag) != len(dealer.SessionTag{}) {
		t.Fatalf("answer: %v, tag %x", err, ans.tag)
	}
	var wrong dealer.SessionTag
	copy(wrong[:], ans.tag)
	wrong[0] ^= 1
	if err := conn.Send(tagMessage(wrong)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Recv(); err == nil {
		t.Error("the server went on after a wrong dealer session tag")
	}
	sink.waitFor(t, "session failed", ErrDealerSession.Error())
	if !eventually(func() bool { return s.Stats().Failed == 1 && s.Stats().Active == 0 }) {
		t.Errorf("server stats %+v, want 1 failed session and none active", s.Stats())
	}
	checkServes(t, srv.addr, 61)
	if err := checkTag(ans.tag, wrong); !errors.Is(err, ErrDealerSession) {
		t.Errorf("checkTag: %v", err)
	}
}

// TestDealerClientCertificate: a dealer started with a server CA
// (RequireServerCert, dealer --server-ca) admits the model server's role
// by its client certificate (serve --dealer-cert/--dealer-key), with no
// join tickets, and serves its clients; the same server without the
// certificate is refused ("dealer unavailable").
func TestDealerClientCertificate(t *testing.T) {
	plan := loadPlan(t)
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
	ln, err := secnet.Listen("127.0.0.1:0", secnet.Config{CertFile: cert, KeyFile: key, ClientCAFile: caCert}, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	ds := &dealer.Server{Generator: mpcdealer.NewGenerator(ring.Seed{4}), RequireServerCert: true, Grace: -1, Logf: t.Logf}
	dctx, dcancel := context.WithCancel(context.Background())
	dr := &running{addr: ln.Addr().String(), cancel: dcancel, done: make(chan error, 1)}
	go func() { dr.done <- ds.Serve(dctx, ln) }()
	defer dr.stop(t)

	ctx, cancel := testCtx(t)
	defer cancel()
	withCert := secnet.Config{CAFile: cert, ClientCertFile: cc, ClientKeyFile: ck}
	srv, s := startServer(t, plan, dr.addr, 0, insecure, withCert)
	sess, err := Dial(ctx, ClientConfig{Server: srv.addr, Dial: dialer(insecure), DialDealer: dialer(secnet.Config{CAFile: cert}), TrustServerDealer: true})
	if err != nil {
		t.Fatal(err)
	}
	checkLabel(t, ctx, sess, plan, 71)
	sess.Close()
	srv.stop(t)
	if st := s.Stats(); st.Inferences != 1 || st.Failed != 0 {
		t.Errorf("server with its certificate: %+v", st)
	}

	anon, _ := startServer(t, plan, dr.addr, 0, insecure, secnet.Config{CAFile: cert})
	defer anon.stop(t)
	_, err = Dial(ctx, ClientConfig{Server: anon.addr, Dial: dialer(insecure), DialDealer: dialer(secnet.Config{CAFile: cert}), TrustServerDealer: true})
	if err == nil || !strings.Contains(err.Error(), "dealer unavailable") {
		t.Errorf("server without a certificate: %v, want the dealer's refusal", err)
	}
}
