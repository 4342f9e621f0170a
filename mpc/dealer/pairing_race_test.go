package dealer

import (
	"reflect"
	"sync"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// TestPairingConcurrentGet has both parties ask for the same items at the
// same time: each item must be generated once, both halves must match the
// serial hub's, and nothing may be left pending.
func TestPairingConcurrentGet(t *testing.T) {
	var seed ring.Seed
	seed[0] = 7
	req := corr.Request{Kind: mpc.KindTruncMSB, Label: "t", N: 64, Shift: 16}
	const n = 200
	serial := NewPairing(NewGenerator(seed))
	want := [2][]*corr.Material{}
	for i := 0; i < n; i++ {
		for p := corr.Server; p <= corr.Client; p++ {
			m, err := serial.Get(p, req)
			if err != nil {
				t.Fatal(err)
			}
			want[p] = append(want[p], m)
		}
	}
	h := NewPairing(NewGenerator(seed))
	got := [2][]*corr.Material{}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for p := corr.Server; p <= corr.Client; p++ {
		wg.Add(1)
		go func(p corr.Party) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				m, err := h.Get(p, req)
				if err != nil {
					errs <- err
					return
				}
				got[p] = append(got[p], m)
			}
		}(p)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for p := corr.Server; p <= corr.Client; p++ {
		for i := range want[p] {
			if !reflect.DeepEqual(got[p][i], want[p][i]) {
				t.Fatalf("party %d item %d differs from the serial hub's", p, i)
			}
		}
	}
	if len(h.pending) != 0 || len(h.inflight) != 0 {
		t.Fatalf("left behind: %d pending, %d in flight", len(h.pending), len(h.inflight))
	}
}
