package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/serve/dealer"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

// TestDealerSeedFile: --seed-file reads the seed from a private file, on
// loopback only; a world-readable file, a malformed seed and --seed with
// --seed-file are refused (issue 19, finding 7).
func TestDealerSeedFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "seed")
	if err := os.WriteFile(good, []byte("000102030405060708090a0b0c0d0e0f\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte("000102030405060708090a0b0c0d0e0f"), 0o644); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("0001"), 0o600); err != nil {
		t.Fatal(err)
	}
	tls := []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}
	dealerRun := func(extra ...string) cliResult {
		return runCLI(t, time.Minute, append(append([]string{"dealer"}, tls...), extra...)...)
	}
	wantFail(t, dealerRun("--listen", "0.0.0.0:0", "--seed-file", good), 1, "--seed-file is for tests only and needs a loopback --listen address")
	wantFail(t, dealerRun("--listen", "127.0.0.1:0", "--seed-file", open), 1, "mode 0644", "chmod 600")
	wantFail(t, dealerRun("--listen", "127.0.0.1:0", "--seed-file", short), 1, "--seed-file: want 32 hex digits")
	wantFail(t, dealerRun("--listen", "127.0.0.1:0", "--seed-file", good, "--seed", "000102030405060708090a0b0c0d0e0f"), 1, "not both")
	// A good file passes and the dealer goes on to the (missing) certificate.
	r := dealerRun("--listen", "127.0.0.1:0", "--seed-file", good)
	wantFail(t, r, 1, "c.pem")
	if strings.Contains(r.stderr, "seed") && !strings.Contains(r.stderr, "fixed seed, for tests only") {
		t.Errorf("seed file refused:\n%s", r)
	}
	// The deprecated flag still works on loopback, with a warning.
	r = dealerRun("--listen", "127.0.0.1:0", "--seed", "000102030405060708090a0b0c0d0e0f")
	wantFail(t, r, 1, "c.pem", "--seed is deprecated")
	// Ticket keys: generated private, short ones refused.
	key := filepath.Join(dir, "ticket.key")
	if r := runCLI(t, time.Minute, "dealer", "--gen-ticket-key", key); r.code != 0 {
		t.Fatalf("--gen-ticket-key:\n%s", r)
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("ticket key file: %v %v", st, err)
	}
	wantFail(t, runCLI(t, time.Minute, "dealer", "--gen-ticket-key", key), 1, "exists")
	wantFail(t, dealerRun("--listen", "127.0.0.1:0", "--ticket-key", short), 1, "--ticket-key: 2 bytes, want at least 32")
	wantFail(t, runCLI(t, time.Minute, "dealer", "--listen", "127.0.0.1:0", "--insecure", "--server-ca", "ca.pem"), 1, "--server-ca needs TLS")
}

var metricsRE = regexp.MustCompile(`metrics on http://(\S+)/metrics`)

// TestDealerAdmissionMetricsDrain runs the dealer process with --server-ca,
// --ticket-key and --metrics: a connection claiming the server role
// without a certificate and a client without a ticket are refused and
// counted, with nothing generated; an admitted session is served and
// counted; on SIGTERM /readyz turns 503, new sessions are refused while
// the open one still gets its material, and the process exits once it
// ends (well before --grace).
func TestDealerAdmissionMetricsDrain(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--gen-cert", filepath.Join(dir, "tls"), "--hosts", "127.0.0.1"},
		{"--gen-server-ca", filepath.Join(dir, "ca")},
		{"--gen-server-cert", filepath.Join(dir, "server"), "--server-ca", filepath.Join(dir, "ca", "ca.pem"), "--server-ca-key", filepath.Join(dir, "ca", "ca-key.pem")},
		{"--gen-ticket-key", filepath.Join(dir, "ticket.key")},
	} {
		if r := runCLI(t, time.Minute, append([]string{"dealer"}, args...)...); r.code != 0 {
			t.Fatalf("dealer %v:\n%s", args, r)
		}
	}
	tlsCert := filepath.Join(dir, "tls", secnet.CertName)
	addr, d := startDaemon(t, "dealer", "--listen", "127.0.0.1:0", "--tls-cert", tlsCert, "--tls-key", filepath.Join(dir, "tls", secnet.KeyName),
		"--server-ca", filepath.Join(dir, "ca", "ca.pem"), "--ticket-key", filepath.Join(dir, "ticket.key"), "--metrics", "127.0.0.1:0", "--grace", "60s", "--log-json")
	m := metricsRE.FindStringSubmatch(d.stderr())
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", d.stderr())
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + m[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	key, err := dealer.ReadSecretFile(filepath.Join(dir, "ticket.key"))
	if err != nil {
		t.Fatal(err)
	}
	anon := secnet.Config{CAFile: tlsCert}
	server := secnet.Config{CAFile: tlsCert, ClientCertFile: filepath.Join(dir, "server", secnet.ClientCertName), ClientKeyFile: filepath.Join(dir, "server", secnet.ClientKeyName)}
	join := func(cfg secnet.Config, p mpc.Party, sid dealer.SessionID, tk dealer.Ticket) (*dealer.Remote, error) {
		c, err := secnet.Dial(context.Background(), addr, cfg, transport.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		pr, err := dealer.JoinTicket(context.Background(), c, p, sid, [32]byte{9}, tk)
		if err != nil {
			c.Close()
		}
		return pr, err
	}
	sid, _ := dealer.NewSessionID()
	if _, err := join(anon, mpc.Server, sid, dealer.Ticket{}); err == nil || !strings.Contains(err.Error(), "client certificate") {
		t.Errorf("server role without a certificate: %v", err)
	}
	if _, err := join(anon, mpc.Client, sid, dealer.Ticket{}); err == nil || !strings.Contains(err.Error(), "ticket") {
		t.Errorf("client without a ticket: %v", err)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `autorep_dealer_refused_total{cause="auth"} 1`) ||
		!strings.Contains(body, `autorep_dealer_refused_total{cause="ticket"} 1`) || !strings.Contains(body, "autorep_dealer_generations_total 0\n") {
		t.Errorf("metrics after two refusals: %d\n%s", code, body)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz while serving: %d", code)
	}
	p0, err := join(server, mpc.Server, sid, dealer.Ticket{})
	if err != nil {
		t.Fatal(err)
	}
	tk, _ := dealer.IssueTicket(key, mpc.Client, sid, [32]byte{9})
	p1, err := join(anon, mpc.Client, sid, tk)
	if err != nil {
		t.Fatal(err)
	}
	if p0.Tag() != p1.Tag() {
		t.Error("the parties of one session got different tags")
	}
	req := corr.Request{Kind: mpc.KindTriple, Label: "t", N: 64}
	if _, err := p0.Get(req); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "autorep_dealer_generations_total 1\n") ||
		!strings.Contains(body, "autorep_dealer_sessions_open 1\n") || !strings.Contains(body, "autorep_dealer_generate_seconds_count 1\n") {
		t.Errorf("metrics after one generation: %d\n%s", code, body)
	}

	// Drain: not ready, no new session, the open one goes on.
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for code, _ := get("/readyz"); code != http.StatusServiceUnavailable; code, _ = get("/readyz") {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d 10 s after SIGTERM", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sid2, _ := dealer.NewSessionID()
	if _, err := join(server, mpc.Server, sid2, dealer.Ticket{}); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("new session while draining: %v", err)
	}
	if _, err := p1.Get(req); err != nil {
		t.Errorf("open session while draining: %v", err)
	}
	p0.Close()
	p1.Close()
	start := time.Now()
	select {
	case err := <-d.done:
		d.done <- err // for startDaemon's cleanup
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 0) {
			t.Errorf("dealer exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("dealer still running 20 s after its last session ended (grace 60 s)\n%s", d.stderr())
	}
	t.Logf("exited %v after the last session ended", time.Since(start).Round(time.Millisecond))
	if log := d.stderr(); !strings.Contains(log, `"cause":"auth"`) || !strings.Contains(log, `"session":"`+sid.String()+`"`) {
		t.Errorf("structured log lacks the refusal cause or the session id:\n%s", log)
	}
}
