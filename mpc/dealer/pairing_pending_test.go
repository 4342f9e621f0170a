package dealer

import (
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// TestPairingPending: Pending counts the halves waiting for their party and
// Generates tells a request that would generate from one that would
// collect the other party's generated half.
func TestPairingPending(t *testing.T) {
	h := NewPairing(NewGenerator(ring.Seed{1}))
	req := corr.Request{Kind: mpc.KindTruncMSB, Label: "t", N: 64, Shift: 16}
	if h.Pending() != 0 || !h.Generates(corr.Server, req) || !h.Generates(corr.Client, req) {
		t.Fatal("fresh hub: something pending")
	}
	var want int64
	for i := 0; i < 3; i++ {
		if _, err := h.Get(corr.Server, req); err != nil {
			t.Fatal(err)
		}
	}
	// The client's three halves wait; their size is what the client gets.
	if !h.Generates(corr.Server, req) || h.Generates(corr.Client, req) {
		t.Fatal("after three server requests: Generates wrong")
	}
	for i := 0; i < 3; i++ {
		if h.Pending() <= 0 {
			t.Fatalf("item %d: nothing pending", i)
		}
		before := h.Pending()
		m, err := h.Get(corr.Client, req)
		if err != nil {
			t.Fatal(err)
		}
		if got := before - h.Pending(); got != m.Size() {
			t.Fatalf("item %d: pending fell by %d, the half is %d bytes", i, got, m.Size())
		}
		want += m.Size()
	}
	if h.Pending() != 0 || want == 0 || !h.Generates(corr.Client, req) {
		t.Fatalf("after collecting: %d bytes pending", h.Pending())
	}
}
