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
	f.Add(clientHello(h, "", nil))
	f.Add(clientHello(h, suiteTwoParty, []byte("token")))
	f.Add(okAnswer{dealer.SessionID{1, 2}, suiteDealer, "127.0.0.1:7001", make([]byte, 32), make([]byte, 32), sessionLimits{1000, 30000}, []byte(`{"version":1}`)}.encode())
	f.Add(okAnswer{dealer.SessionID{3}, suiteTwoParty, "", nil, nil, sessionLimits{}, []byte(`{}`)}.encode())
	f.Add(frame.Error(tagError, "busy"))
	f.Add([]byte("ASOK"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, suite, token, err := parseClientHello(b); err == nil && (len(suite) > maxSuite || len(token) > MaxToken || len(b) > maxHello || !bytes.Equal(clientHello(got, suite, token), b)) {
			t.Fatalf("hello %x decoded to %x, suite %q", b, got, suite)
		}
		a, err := parseOK(b)
		if err != nil {
			return
		}
		if len(a.dealer) > maxAddr || len(a.suite) > maxSuite {
			t.Fatalf("address of %d bytes or suite of %d accepted", len(a.dealer), len(a.suite))
		}
		if re := a.encode(); !bytes.Equal(re, b) {
			// A non-minimal uvarint may encode the same length: the
			// decoded fields must still re-encode consistently.
			if a2, err := parseOK(re); err != nil || a2.sid != a.sid || a2.suite != a.suite || a2.dealer != a.dealer || a2.limits != a.limits || !bytes.Equal(a2.ticket, a.ticket) || !bytes.Equal(a2.tag, a.tag) || !bytes.Equal(a2.plan, a.plan) {
				t.Fatalf("answer %x does not round-trip", b)
			}
		}
	})
}
