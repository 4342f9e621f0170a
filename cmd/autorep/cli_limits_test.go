package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInferImageTooLarge: an image wider than 4096 pixels is refused from
// its header, before any connection is made (the server address is dead).
func TestInferImageTooLarge(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4097, 1))); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "wide.png")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	wantFail(t, runCLI(t, time.Minute, "infer", "--server", "127.0.0.1:1", "--insecure", "--image", p), 1, "wide.png", "4097x1 outside 1..4096")
}

// TestTimeoutZeroRefused: every command taking --timeout refuses 0 and
// negative values, which would disable the connection deadlines.
func TestTimeoutZeroRefused(t *testing.T) {
	for _, args := range [][]string{
		{"dealer", "--listen", "127.0.0.1:0", "--insecure", "--timeout", "0"},
		{"serve", "--listen", "127.0.0.1:0", "--insecure", "--model", "none.safetensors", "--timeout", "0s"},
		{"infer", "--server", "127.0.0.1:1", "--insecure", "--dataset", "mnist", "--timeout", "-1s"},
	} {
		wantFail(t, runCLI(t, time.Minute, args...), 1, "--timeout must be positive")
	}
}

// TestDealerSeedNeedsLoopback: a fixed seed reveals every mask, so dealer
// refuses it unless it listens on loopback only.
func TestDealerSeedNeedsLoopback(t *testing.T) {
	seed := "000102030405060708090a0b0c0d0e0f"
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:7001"} {
		wantFail(t, runCLI(t, time.Minute, "dealer", "--listen", listen, "--tls-cert", "c.pem", "--tls-key", "k.pem", "--seed", seed),
			1, "--seed is for tests only and needs a loopback --listen address")
	}
	// On loopback the seed passes this check and the dealer goes on to
	// parse it, then to load the (missing) certificate.
	for _, listen := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		wantFail(t, runCLI(t, time.Minute, "dealer", "--listen", listen, "--tls-cert", "c.pem", "--tls-key", "k.pem", "--seed", "abc"),
			1, "--seed: want 32 hex digits")
		r := runCLI(t, time.Minute, "dealer", "--listen", listen, "--tls-cert", "c.pem", "--tls-key", "k.pem", "--seed", seed)
		wantFail(t, r, 1, "c.pem")
		if strings.Contains(r.stderr, "needs a loopback") {
			t.Errorf("loopback %s refused:\n%s", listen, r)
		}
	}
}
