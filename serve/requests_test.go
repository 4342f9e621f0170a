package serve

import (
	"bytes"
	"context"
	"github.com/autorep/autorep/mpc/dealer"
	"sync"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// recorder is a Provider that logs the requests it serves.
type recorder struct {
	corr.Provider
	mu   sync.Mutex
	reqs []corr.Request
}

func (r *recorder) Get(req corr.Request) (*corr.Material, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	return r.Provider.Get(req)
}

func encodeAll(t *testing.T, reqs []corr.Request) [][]byte {
	t.Helper()
	out := make([][]byte, len(reqs))
	for i, r := range reqs {
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func sameRequests(t *testing.T, what string, got, want []corr.Request) {
	t.Helper()
	g, w := encodeAll(t, got), encodeAll(t, want)
	if len(g) != len(w) {
		t.Fatalf("%s: pi made %d requests, the list has %d", what, len(g), len(w))
	}
	for i := range g {
		if !bytes.Equal(g[i], w[i]) {
			t.Fatalf("%s: request %d: pi asked %v %q, the list has %v %q", what, i, got[i].Kind, got[i].Label, want[i].Kind, want[i].Label)
		}
	}
}

// samePerLabel is sameRequests for each (kind, label) on its own.
func samePerLabel(t *testing.T, what string, got, want []corr.Request) {
	t.Helper()
	type key struct {
		kind  corr.MaterialKind
		label string
	}
	group := func(rs []corr.Request) (map[key][]corr.Request, []key) {
		m := map[key][]corr.Request{}
		var order []key
		for _, r := range rs {
			k := key{r.Kind, r.Label}
			if _, ok := m[k]; !ok {
				order = append(order, k)
			}
			m[k] = append(m[k], r)
		}
		return m, order
	}
	g, _ := group(got)
	w, order := group(want)
	if len(g) != len(w) {
		t.Fatalf("%s: pi asked for %d (kind, label)s, the list has %d", what, len(g), len(w))
	}
	for _, k := range order {
		sameRequests(t, what+" "+k.label, g[k], w[k])
	}
}

// TestRequestLists checks pi.SetupRequests and pi.InferenceRequests, the
// lists the dealer serves from, against the requests pi's protocols
// really make, for each party, for 1 and 2 images. Both parties run Lazy:
// material is fetched as each protocol asks for it, not prefetched from
// the list under test.
func TestRequestLists(t *testing.T) {
	plan := loadPlan(t)
	for _, n := range []int{1, 2} {
		p0, p1 := dealer.LocalProviders(dealer.NewGenerator(ring.Seed{9}))
		r0, r1 := &recorder{Provider: p0}, &recorder{Provider: p1}
		a, b := transport.Pipe()
		ctx := context.Background()
		errc := make(chan error, 1)
		go func() { errc <- (&pi.Server{Plan: plan, Provider: r0, Lazy: true}).Run(ctx, a) }()
		c := &pi.Client{Public: plan.Public, Provider: r1, Lazy: true}
		if err := c.Connect(ctx, b); err != nil {
			t.Fatal(err)
		}
		setup0 := len(r0.reqs)
		sameRequests(t, "server setup", r0.reqs, pi.SetupRequests(plan.Public, mpc.Server))
		sameRequests(t, "client setup", r1.reqs, pi.SetupRequests(plan.Public, mpc.Client))
		x := randImage(1, plan.Public.Input)
		if n == 2 {
			x2 := randImage(2, plan.Public.Input)
			x.Shape[0] = 2
			x.Data = append(x.Data, x2.Data...)
		}
		if _, _, err := c.Infer(ctx, b, x); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		want := pi.InferenceRequests(plan.Public, n)
		sameRequests(t, "server inference", r0.reqs[setup0:], want)
		// A lazy client fetches the preopened layers' linear and
		// activation material first (pi's preopen, before the input):
		// the same requests, and the same order within each (kind,
		// label), which is all the dealers pair the halves by.
		samePerLabel(t, "client inference", r1.reqs, want)
	}
}
