package frame

import (
	"strings"
	"testing"
)

func TestErrorRoundTrip(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, c := range []struct{ reason, want string }{
		{"busy", "busy"},
		{"", ""},
		{long, long[:MaxReason]},
		{"bad\x00\nbyte\xff", "bad??byte?"},
	} {
		got, ok := Reason("ASER", Error("ASER", c.reason))
		if !ok || got != c.want {
			t.Errorf("reason %q: got %q, %v; want %q", c.reason, got, ok, c.want)
		}
	}
	for _, b := range [][]byte{nil, []byte("AS"), []byte("ASOKxyz"), Error("DLER", "x")} {
		if r, ok := Reason("ASER", b); ok {
			t.Errorf("Reason(%q) = %q, true; want not an error frame", b, r)
		}
	}
	// A peer's over-long frame: only the first MaxReason bytes are read.
	if r, _ := Reason("ASER", append([]byte("ASER"), long+"tail"...)); r != long[:MaxReason] {
		t.Errorf("over-long frame: got %d bytes", len(r))
	}
}
