package serve

import (
	"bytes"
	"testing"

	"github.com/autorep/autorep/internal/frame"
	"github.com/autorep/autorep/serve/dealer"
)

// FuzzParseMessages feeds arbitrary bytes to the session protocol's
// decoders: they must return an error or a consistent value, never panic,
// and accepted answers must round-trip.
func FuzzParseMessages(f *testing.F) {
	var h [32]byte
	h[3] = 7
	f.Add(clientHello(h))
	f.Add(okMessage(dealer.SessionID{1, 2}, "127.0.0.1:7001", []byte(`{"version":1}`)))
	f.Add(frame.Error(tagError, "busy"))
	f.Add([]byte("ASOK"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, err := parseClientHello(b); err == nil && !bytes.Equal(clientHello(got), b) {
			t.Fatalf("hello %x decoded to %x", b, got)
		}
		sid, addr, plan, err := parseOK(b)
		if err != nil {
			return
		}
		if len(addr) > maxAddr {
			t.Fatalf("address of %d bytes accepted", len(addr))
		}
		if re := okMessage(sid, addr, plan); !bytes.Equal(re, b) {
			// A non-minimal uvarint may encode the same length: the
			// decoded fields must still re-encode consistently.
			if s2, a2, p2, err := parseOK(re); err != nil || s2 != sid || a2 != addr || !bytes.Equal(p2, plan) {
				t.Fatalf("answer %x does not round-trip", b)
			}
		}
	})
}
