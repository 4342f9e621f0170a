package childproc

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for the reader goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStartStop: the address comes from the "listening on" line, both
// streams are logged, stderr is echoed; Stop ends the child, which Alive
// then reports.
func TestStartStop(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "srv.log")
	var echo syncBuffer
	p, err := Start(context.Background(), "srv", "/bin/sh", []string{"-c", "echo out; echo 'srv: listening on 127.0.0.1:7001, TLS' >&2; exec sleep 30"}, logPath, &echo)
	if err != nil {
		t.Fatal(err)
	}
	if p.Addr != "127.0.0.1:7001" || p.Name != "srv" {
		t.Errorf("address %q, name %q", p.Addr, p.Name)
	}
	if err := p.Alive(); err != nil {
		t.Error(err)
	}
	p.Stop()
	if err := p.Alive(); err == nil || !strings.Contains(err.Error(), "srv exited unexpectedly") {
		t.Errorf("after Stop: %v", err)
	}
	p.Stop() // a second Stop returns at once
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "out\n") || !strings.Contains(string(log), "srv: listening on 127.0.0.1:7001, TLS\n") {
		t.Errorf("log %q", log)
	}
	if echo.String() != "[srv] srv: listening on 127.0.0.1:7001, TLS\n" {
		t.Errorf("echo %q", echo.String())
	}
}

// TestStartFailures: a child that exits before listening, a missing
// executable and a cancelled context are errors that say so.
func TestStartFailures(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "bad.log")
	_, err := Start(context.Background(), "bad", "/bin/sh", []string{"-c", "echo boom >&2; exit 3"}, logPath, nil)
	if err == nil || !strings.Contains(err.Error(), "bad exited at start (exit status 3); see "+logPath) {
		t.Errorf("early exit: %v", err)
	}
	if _, err := Start(context.Background(), "none", filepath.Join(dir, "absent"), nil, filepath.Join(dir, "none.log"), nil); err == nil || !strings.Contains(err.Error(), "starting none") {
		t.Errorf("missing executable: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, "quiet", "/bin/sh", []string{"-c", "exec sleep 30"}, filepath.Join(dir, "quiet.log"), nil); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := Start(context.Background(), "x", "/bin/sh", nil, filepath.Join(dir, "no-such-dir", "x.log"), nil); err == nil {
		t.Error("an unwritable log path was accepted")
	}
}

func TestListenAddr(t *testing.T) {
	for line, want := range map[string]string{
		"dealer: listening on 127.0.0.1:41234 (TLS, no memory bound)": "127.0.0.1:41234",
		"serve: listening on [::1]:7002, suite dealer":                "[::1]:7002",
		"listening on ":  "",
		"nothing here":   "",
		"listening on x": "x",
	} {
		got, ok := ListenAddr(line)
		if got != want || ok != (want != "") {
			t.Errorf("%q: %q, %v; want %q", line, got, ok, want)
		}
	}
}
