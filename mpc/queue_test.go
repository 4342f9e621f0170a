package mpc_test

import (
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/mpc/fssgates"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/ring"
)

// The one prefetch queue: order per (kind, label), sizes, the same-request
// test, emptiness.
func TestQueue(t *testing.T) {
	var q corr.MaterialQueue
	a1 := corr.Request{Kind: fssgates.KindReLU, Label: "a", N: 4}
	a2 := corr.Request{Kind: fssgates.KindReLU, Label: "a", N: 8}
	b := corr.Request{Kind: fssgates.KindTrunc, Label: "a", N: 4, Shift: 3}
	m1, m2, m3 := &corr.Material{Kind: fssgates.KindReLU}, &corr.Material{Kind: fssgates.KindReLU}, &corr.Material{Kind: fssgates.KindTrunc}
	q.Put(a1, m1, 10)
	q.Put(b, m3, 30)
	q.Put(a2, m2, 20)
	if q.Len() != 3 {
		t.Fatalf("Len %d", q.Len())
	}
	// Another kind with the same label is its own queue.
	if m, size, ok, err := q.Take(b); !ok || err != nil || m != m3 || size != 30 {
		t.Fatalf("take b: %v %d %v %v", m, size, ok, err)
	}
	if m, size, ok, err := q.Take(a1); !ok || err != nil || m != m1 || size != 10 {
		t.Fatalf("take a1: %v %d %v %v", m, size, ok, err)
	}
	// The head is for N = 8: asking for N = 4 is an error and consumes it.
	if _, size, ok, err := q.Take(a1); ok || err == nil || size != 20 {
		t.Fatalf("mismatched take: %d %v %v", size, ok, err)
	}
	if _, _, ok, err := q.Take(a2); ok || err != nil || q.Len() != 0 {
		t.Fatalf("empty queue: %v %v, Len %d", ok, err, q.Len())
	}
	if !a1.Same(a1) || a1.Same(a2) || a1.Same(b) {
		t.Fatal("Same")
	}
}

// Missing: per (kind, label) the queued items answer the first requests in
// order; the rest are missing; a queued item for another spec is an error.
func TestQueueMissing(t *testing.T) {
	var q corr.MaterialQueue
	a4 := corr.Request{Kind: fssgates.KindReLU, Label: "a", N: 4}
	a8 := corr.Request{Kind: fssgates.KindReLU, Label: "a", N: 8}
	b := corr.Request{Kind: fssgates.KindTrunc, Label: "a", N: 4, Shift: 3}
	c := corr.Request{Kind: mpc.KindTriple, Label: "c", N: 2}
	q.Put(a4, &corr.Material{Kind: fssgates.KindReLU}, 1)
	q.Put(b, &corr.Material{Kind: fssgates.KindTrunc}, 1)
	miss, err := q.Missing([]corr.Request{a4, b, c, a4, b})
	if err != nil {
		t.Fatal(err)
	}
	if len(miss) != 3 || !miss[0].Same(c) || !miss[1].Same(a4) || !miss[2].Same(b) {
		t.Fatalf("missing %+v, want c, a4, b", miss)
	}
	if miss, err := q.Missing(nil); err != nil || len(miss) != 0 {
		t.Fatalf("nothing asked: %v %v", miss, err)
	}
	if _, err := q.Missing([]corr.Request{a8}); err == nil {
		t.Fatal("a queued item for another spec was not reported")
	}
	if q.Len() != 2 {
		t.Fatalf("Missing changed the queue: Len %d", q.Len())
	}
}

// A Prefetcher fetches only what its queue lacks: prefetching the same list
// twice, or Get after Prefetch, asks the source nothing more.
func TestPrefetcherFetchesOnce(t *testing.T) {
	p0, _ := dealer.LocalProviders(dealer.NewGenerator(ring.Seed{3}))
	b := corr.WithPrefetch(p0)
	if corr.WithPrefetch(b) != b {
		t.Fatal("WithPrefetch wrapped a Prefetching source again")
	}
	reqs := []corr.Request{{Kind: mpc.KindTriple, Label: "t", N: 2}, {Kind: mpc.KindSquare, Label: "s", N: 3}, {Kind: mpc.KindTriple, Label: "t", N: 2}}
	if err := b.Prefetch(reqs); err != nil {
		t.Fatal(err)
	}
	if err := b.Prefetch(reqs[:2]); err != nil {
		t.Fatal(err)
	}
	if got := p0.Offline().Items; got != 3 {
		t.Fatalf("%d items fetched, want 3", got)
	}
	for _, r := range reqs {
		if _, err := b.Get(r); err != nil {
			t.Fatal(err)
		}
	}
	if got := p0.Offline().Items; got != 3 {
		t.Fatalf("%d items fetched after the gets, want 3", got)
	}
	if err := b.Prefetch([]corr.Request{{Kind: mpc.KindTriple, Label: "t", N: 2}}); err != nil || p0.Offline().Items != 4 {
		t.Fatalf("prefetch on an empty queue: %v, %d items", err, p0.Offline().Items)
	}
}
