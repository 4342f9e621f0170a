package mpc_test

import (
	"testing"

	"github.com/autorep/autorep/mpc"
)

// The one prefetch queue: order per (kind, label), sizes, the same-request
// test, emptiness.
func TestQueue(t *testing.T) {
	var q mpc.MaterialQueue
	a1 := mpc.Request{Kind: mpc.KindReLU, Label: "a", N: 4}
	a2 := mpc.Request{Kind: mpc.KindReLU, Label: "a", N: 8}
	b := mpc.Request{Kind: mpc.KindTrunc, Label: "a", N: 4, Shift: 3}
	m1, m2, m3 := &mpc.Material{Kind: mpc.KindReLU}, &mpc.Material{Kind: mpc.KindReLU}, &mpc.Material{Kind: mpc.KindTrunc}
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
