package fss

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/autorep/autorep/ring"
)

// TestGenContext: a generation under a live context gives exactly the
// plain function's keys; a cancelled one of a million ReLU keys (seconds
// of work here) or a quarter million DCF keys returns the context's error
// within a few blocks (tens of milliseconds), and its workers are gone.
func TestGenContext(t *testing.T) {
	r := make([]uint64, 3000)
	ring.NewPRG(ring.Seed{1}).Uint64s(r)
	want0, _, err := GenReLU(ring.NewPRG(ring.Seed{2}), r, 40)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got0, _, err := GenContext(ctx, ring.NewPRG(ring.Seed{2}), GateReLU, r, 40, 0)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := want0.MarshalBinary()
	b, _ := got0.MarshalBinary()
	if !bytes.Equal(a, b) {
		t.Fatal("GenContext's keys differ from GenReLU's")
	}
	alpha := []uint64{0, 1, 5, 1 << 19, 1<<20 - 1, 77, 3, 9, 12345, 6}
	d0, _, err := GenDCF(ring.NewPRG(ring.Seed{3}), 20, 3, alpha, make([]uint64, 30))
	if err == nil {
		var d1 *DCFKeys
		d1, _, err = GenDCFContext(context.Background(), ring.NewPRG(ring.Seed{3}), 20, 3, alpha, make([]uint64, 30))
		if err == nil && !equalWords(d0.w, d1.w) {
			t.Error("GenDCFContext's keys differ from GenDCF's")
		}
	}
	if err != nil {
		t.Fatal(err)
	}

	before := runtime.NumGoroutine()
	big := make([]uint64, 1<<20)
	for _, gen := range []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"dcf", func(ctx context.Context) error {
			_, _, err := GenDCFContext(ctx, ring.NewPRG(ring.Seed{5}), 32, 1, big[:1<<18], big[:1<<18])
			return err
		}},
		{"relu", func(ctx context.Context) error {
			_, _, err := GenContext(ctx, ring.NewPRG(ring.Seed{4}), GateReLU, big, 64, 0)
			return err
		}},
	} {
		// The keys' memory is allocated (and, reused, cleared) before the
		// workers start: that time depends on the request's size only.
		runtime.GC()
		ctx, cancel := context.WithCancelCause(context.Background())
		stop := errors.New("stop")
		time.AfterFunc(100*time.Millisecond, func() { cancel(stop) })
		t0 := time.Now()
		err := gen.run(ctx)
		took := time.Since(t0)
		t.Logf("%s: returned %v after %v", gen.name, err, took)
		// Uncancelled, each takes seconds; the bound leaves room for a
		// loaded 2-core machine (about 40 ms when idle).
		if !errors.Is(err, stop) || took > 3*time.Second {
			t.Errorf("%s: cancelled after 100 ms, returned %v after %v", gen.name, err, took)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the cancelled generations, %d before", n, before)
	}
}

func equalWords(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
