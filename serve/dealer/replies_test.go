package dealer

import (
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// TestProviderRejectsBadReplies: a broken or hostile dealer's reply (empty,
// garbage, truncated material, an error frame, a hang-up) is an error of
// Get and Prefetch, never a panic or a hang.
func TestProviderRejectsBadReplies(t *testing.T) {
	req := corr.Request{Kind: mpc.KindTriple, Label: "m", N: 5}
	m, _, err := mpcdealer.NewGenerator(ring.Seed{}).Generate(req, 0)
	if err != nil {
		t.Fatal(err)
	}
	good, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for name, reply := range map[string][]byte{
		"empty":       {},
		"garbage":     {0, 1, 2, 3},
		"truncated":   good[:len(good)-3],
		"trailing":    append(append([]byte(nil), good...), 0),
		"error frame": []byte(tagError + "no such session"),
	} {
		for _, prefetch := range []bool{false, true} {
			a, b := transport.Pipe()
			go func() {
				if _, err := a.Recv(); err == nil {
					a.Send(reply)
				}
			}()
			p := &Remote{conn: b, party: mpc.Server, stopAlive: make(chan struct{})}
			if prefetch {
				err = p.Prefetch([]corr.Request{req})
			} else {
				_, err = p.Get(req)
			}
			if err == nil {
				t.Errorf("%s reply accepted (prefetch %v)", name, prefetch)
			}
			a.Close()
			b.Close()
		}
	}
	// The good reply is accepted (the harness itself works).
	a, b := transport.Pipe()
	go func() {
		if _, err := a.Recv(); err == nil {
			a.Send(good)
		}
	}()
	if _, err := (&Remote{conn: b, party: mpc.Server, stopAlive: make(chan struct{})}).Get(req); err != nil {
		t.Errorf("good reply: %v", err)
	}
	a.Close()
	b.Close()
	// A dealer that hangs up.
	a, b = transport.Pipe()
	a.Close()
	if _, err := (&Remote{conn: b, party: mpc.Client, stopAlive: make(chan struct{})}).Get(corr.Request{Kind: mpc.KindSquare, Label: "s", N: 1}); err == nil {
		t.Error("closed dealer connection accepted")
	}
}
