package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeTokens: serve --token-file admits only listed clients within
// their quotas: infer without --token-file is refused, with the token
// written by serve --gen-client-token it is served, and per-day=1 refuses
// the client's next session (issue 19, finding 4).
func TestServeTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the multi-process private inference test")
	}
	needData(t, "mnist")
	dir := t.TempDir()
	tok := filepath.Join(dir, "alice.token")
	r := runCLI(t, time.Minute, "serve", "--gen-client-token", tok, "--client-name", "alice")
	wantOK(t, r)
	line := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(line, "alice:") || len(line) != len("alice:")+64 {
		t.Fatalf("token line %q", line)
	}
	if r := runCLI(t, time.Minute, "serve", "--gen-client-token", tok, "--client-name", "alice"); r.code == 0 {
		t.Error("--gen-client-token overwrote an existing token file")
	}
	list := filepath.Join(dir, "tokens")
	if err := os.WriteFile(list, []byte(line+" per-day=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := modelPath(t, "lenet-mnist-autorep10.safetensors")
	dealerAddr, _ := startDaemon(t, "dealer", "--listen", "127.0.0.1:0", "--insecure", "--grace", "1s", "--quiet")
	serverAddr, _ := startDaemon(t, "serve", "--model", file, "--listen", "127.0.0.1:0", "--dealer", dealerAddr,
		"--insecure", "--pool", "0", "--grace", "1s", "--quiet", "--token-file", list)
	infer := []string{"infer", "--server", serverAddr, "--dealer", dealerAddr, "--insecure", "--dataset", "mnist", "--index", "0"}
	if r := runCLI(t, 2*time.Minute, infer...); r.code == 0 || !strings.Contains(r.stderr, "no valid client token") {
		t.Errorf("infer without a token:\n%s", r)
	}
	wantOK(t, runCLI(t, 2*time.Minute, append(infer, "--token-file", tok)...))
	if r := runCLI(t, 2*time.Minute, append(infer, "--token-file", tok)...); r.code == 0 || !strings.Contains(r.stderr, "images of the day") {
		t.Errorf("infer beyond the day's budget:\n%s", r)
	}
}
