package dealer

import (
	"context"
	"errors"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

// TestMemoryLimit: with a tiny MaxMemory, a session whose request would
// generate material while another session's material waits for its party
// fails after MemoryWait with a clear error (or goes on when the memory is
// freed during the wait), while the session holding the material carries
// on and later sessions work once it is collected.
func TestMemoryLimit(t *testing.T) {
	ln, err := secnet.Listen("127.0.0.1:0", secnet.Config{Insecure: true}, transport.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Generator: mpcdealer.NewGenerator(ring.Seed{6}), Grace: -1, Logf: t.Logf, MaxMemory: 1, MemoryWait: 2 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	join := func(p mpc.Party, sid SessionID) *Remote {
		t.Helper()
		c, err := secnet.Dial(ctx, ln.Addr().String(), secnet.Config{Insecure: true}, transport.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		pr, err := Join(ctx, c, p, sid, [32]byte{3})
		if err != nil {
			t.Fatal(err)
		}
		return pr
	}
	req := corr.Request{Kind: mpc.KindTriple, Label: "t", N: 1000}
	sidA, _ := NewSessionID()
	a0 := join(mpc.Server, sidA) // a pooled session: its client has not come yet
	defer a0.Close()
	if err := a0.Prefetch([]corr.Request{req}); err != nil {
		t.Fatal(err)
	}
	if held := srv.Stats().Held; held <= 0 {
		t.Fatalf("held %d bytes after a prefetch whose client half waits", held)
	}

	// Another session cannot generate while A's material is held.
	sidB, _ := NewSessionID()
	b0 := join(mpc.Server, sidB)
	t0 := time.Now()
	_, err = b0.Get(req)
	if err == nil || !strings.Contains(err.Error(), ErrMemory.Error()) || !strings.Contains(err.Error(), "limit 1 B") {
		t.Fatalf("over the limit: %v", err)
	}
	if d := time.Since(t0); d < 1900*time.Millisecond || d > 20*time.Second {
		t.Errorf("refused after %v, want about MemoryWait", d)
	}
	b0.Close()
	if st := srv.Stats(); st.MemoryRefused != 1 {
		t.Errorf("memory refusals %d, want 1", st.MemoryRefused)
	}

	// A's client collects its half (never held back by the limit), and a
	// request waiting meanwhile goes on once it is collected.
	a1 := join(mpc.Client, sidA)
	defer a1.Close()
	sidC, _ := NewSessionID()
	c0 := join(mpc.Server, sidC)
	defer c0.Close()
	got := make(chan error, 1)
	go func() {
		_, err := c0.Get(req)
		got <- err
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-got:
		t.Fatalf("session C served while A's material is held: %v", err)
	default:
	}
	m1, err := a1.Get(req)
	if err != nil {
		t.Fatalf("A's client: %v", err)
	}
	m0, err := a0.Get(req)
	if err != nil {
		t.Fatal(err)
	}
	if a, b, c := m0.Vecs[0].Data[7]+m1.Vecs[0].Data[7], m0.Vecs[1].Data[7]+m1.Vecs[1].Data[7], m0.Vecs[2].Data[7]+m1.Vecs[2].Data[7]; a*b != c {
		t.Fatal("A's triple: c ≠ a·b")
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("session C after A's material was collected: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("session C still waiting after A's material was collected")
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"4GiB": 4 << 30, "512mib": 512 << 20, "2G": 2 << 30, "1.5GB": 1.5e9, "100": 100, "64 kB": 64000, "3b": 3, "0": 0,
	} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1G", "4 parsecs", "1e30", "NaN"} {
		if got, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) = %d, want an error", in, got)
		}
	}
	if s := FormatBytes(3 << 29); s != "1.5 GiB" {
		t.Errorf("FormatBytes = %q", s)
	}
}

func TestMemTotal(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "meminfo")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if n, err := memTotal(write("MemFree: 5 kB\nMemTotal:       24576000 kB\n")); err != nil || n != 24576000*1024 {
		t.Errorf("memTotal = %d, %v", n, err)
	}
	for _, bad := range []string{"MemFree: 5 kB\n", "MemTotal: lots kB\n", "MemTotal: 5 MB\n"} {
		if n, err := memTotal(write(bad)); err == nil {
			t.Errorf("%q: %d, want an error", bad, n)
		}
	}
	if _, err := memTotal(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if d := DefaultMaxMemory(); d < 1<<30 {
		t.Errorf("DefaultMaxMemory %d < 1 GiB", d)
	}
}
