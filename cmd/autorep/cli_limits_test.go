package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
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
