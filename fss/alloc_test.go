package fss

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/autorep/autorep/internal/bufpool"
)

// TestGenInterruptedAllocation: a generation whose context ends while its
// key memory is still being allocated (the runtime clearing reused heap
// memory: seconds for a large batch on a loaded machine) returns at once
// with the context's cause; the allocation, once done, goes to the buffer
// pool. The allocation is held by a test hook, so the check does not
// depend on timing.
func TestGenInterruptedAllocation(t *testing.T) {
	hold, entered := make(chan struct{}), make(chan int, 4)
	allocWords = func(n int) []uint64 {
		entered <- n
		<-hold
		return bufpool.GetWords(n)
	}
	defer func() { allocWords = bufpool.GetWords }()
	const m = 1 << 12 // 4096 keys: megabytes, so allocated through the hook
	rIn := testPRG(5).Rand(m).Data
	for _, g := range []Gate{GateReLU, GateTruncExact} {
		shift := 0
		if g == GateTruncExact {
			shift = 12
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		stop := errors.New("party gone")
		done := make(chan error, 1)
		go func() {
			_, _, err := GenContext(ctx, testPRG(6), g, rIn, 64, shift)
			done <- err
		}()
		n := <-entered // the allocation is under way
		cancel(stop)
		select {
		case err := <-done:
			if !errors.Is(err, stop) {
				t.Errorf("%v: %v, want the cancellation cause", g, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%v: the generation waited for its allocation", g)
		}
		pooled := bufpool.Pooled()
		hold <- struct{}{} // the abandoned allocation completes
		deadline := time.Now().Add(10 * time.Second)
		for bufpool.Pooled() < pooled+8*n && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := bufpool.Pooled(); got < pooled+8*n {
			t.Errorf("%v: the abandoned %d words did not reach the pool (%d bytes pooled, %d before)", g, n, got, pooled)
		}
		bufpool.GetWords(n) // empty the pool again for the next gate
	}
	// DCF keys (the fused ReLU-truncation) allocate the same way.
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("session ended")
	done := make(chan error, 1)
	alpha, beta := make([]uint64, m), make([]uint64, 3*m)
	go func() { _, _, err := GenDCFContext(ctx, testPRG(7), 63, 3, alpha, beta); done <- err }()
	n := <-entered
	cancel(stop)
	if err := <-done; !errors.Is(err, stop) {
		t.Errorf("DCF: %v, want the cancellation cause", err)
	}
	pooled := bufpool.Pooled()
	hold <- struct{}{}
	// Wait for the abandoned buffer to reach the pool: handed back later,
	// it would change the pool under the next test (TestGenRecycledMemory
	// counts the pool's bytes), as it did on a loaded CI machine.
	deadline := time.Now().Add(10 * time.Second)
	for bufpool.Pooled() < pooled+8*n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := bufpool.Pooled(); got < pooled+8*n {
		t.Errorf("DCF: the abandoned %d words did not reach the pool (%d bytes pooled, %d before)", n, got, pooled)
	}
	bufpool.GetWords(n)
}

// TestGenRecycledMemory: every gate's keys generated into recycled
// buffers of arbitrary content (0xA5 words) are those generated into
// fresh memory, so the generation writes every word and recycled memory
// needs no clearing; the buffers must come from the pool.
func TestGenRecycledMemory(t *testing.T) {
	const m = 1 << 11 // megabytes of keys: pooled sizes
	rIn := testPRG(8).Rand(m).Data
	for _, tc := range []struct {
		g          Gate
		ell, shift int
	}{{GateDReLU, 64, 0}, {GateReLU, 64, 0}, {GateReLU, 37, 0}, {GateTrunc, 64, 12},
		{GateTruncExact, 64, 12}, {GateTruncExact, 54, 16}, {GateReLUTrunc, 64, 16}} {
		gen := func() [2][]byte {
			k0, k1, err := GenContext(context.Background(), testPRG(9), tc.g, rIn, tc.ell, tc.shift)
			if err != nil {
				t.Fatal(err)
			}
			var out [2][]byte
			for i, k := range []*Keys{k0, k1} {
				if out[i], err = k.MarshalBinary(); err != nil {
					t.Fatal(err)
				}
				k.Release()
			}
			return out
		}
		want := gen()
		words := m * stride(tc.g, tc.ell, tc.shift)
		for { // take the released keys' buffers out of the pool
			p := bufpool.Pooled()
			bufpool.GetWords(words)
			if bufpool.Pooled() == p {
				break
			}
		}
		for range 2 {
			w := make([]uint64, words)
			for i := range w {
				w[i] = 0xA5A5A5A5A5A5A5A5
			}
			bufpool.PutWords(w)
		}
		pooled := bufpool.Pooled()
		got := gen() // releases its keys again: the pool is back to pooled
		if bufpool.Pooled() != pooled {
			t.Errorf("%v ℓ=%d: pool at %d bytes after a generation and release, want %d", tc.g, tc.ell, bufpool.Pooled(), pooled)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Errorf("%v ℓ=%d s=%d: party %d's keys from recycled memory differ", tc.g, tc.ell, tc.shift, i)
			}
		}
	}
}

// TestGenAbandonedAbovePool: a generation cancelled while the key batch
// above the buffer pool's bound (MaxPooled: such a batch is never
// recycled, so it is always a fresh allocation) is being allocated
// returns with the cancellation's cause, and the abandoned allocation
// counts in AbandonedBytes until it completes, then no longer. The
// allocation is held by the test hook (and never made: the hook returns
// no memory to the abandoned helper), so nothing depends on timing.
func TestGenAbandonedAbovePool(t *testing.T) {
	const m = 1 << 19 // 64-bit ReLU keys: over 1 GiB per party
	if st := stride(GateReLU, 64, 0); 8*m*st <= bufpool.MaxPooled {
		t.Fatalf("%d ReLU keys are %d bytes, not above the pool's %d", m, 8*m*st, bufpool.MaxPooled)
	}
	hold, entered := make(chan struct{}), make(chan int, 1)
	allocWords = func(n int) []uint64 {
		if 8*n <= bufpool.MaxPooled {
			return bufpool.GetWords(n)
		}
		entered <- n
		<-hold
		return nil // abandoned: the helper hands back nothing
	}
	defer func() { allocWords = bufpool.GetWords }()
	before := AbandonedBytes()
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("session ended")
	done := make(chan error, 1)
	go func() {
		_, _, err := GenContext(ctx, testPRG(9), GateReLU, make([]uint64, m), 64, 0)
		done <- err
	}()
	n := <-entered
	cancel(stop)
	select {
	case err := <-done:
		if !errors.Is(err, stop) {
			t.Errorf("%v, want the cancellation cause", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the generation waited for its allocation above the pool's bound")
	}
	if got := AbandonedBytes() - before; got != int64(8*n) {
		t.Errorf("AbandonedBytes grew by %d while the %d-byte allocation runs, want %d", got, 8*n, 8*n)
	}
	close(hold)
	deadline := time.Now().Add(10 * time.Second)
	for AbandonedBytes() != before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := AbandonedBytes(); got != before {
		t.Errorf("AbandonedBytes %d after the allocation completed, want %d", got, before)
	}
}

// TestRandomWords: randomWords draws the same words as one prg.Uint64s
// call (its blocks do not show), and draws nothing once its context has
// ended, returning the cause.
func TestRandomWords(t *testing.T) {
	const n = 3*prgBlock + 5
	want, got := make([]uint64, n), make([]uint64, n)
	testPRG(10).Uint64s(want)
	if err := randomWords(context.Background(), testPRG(10), got); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("word %d: %#x, want %#x (one draw)", i, got[i], want[i])
		}
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("session ended")
	cancel(stop)
	clear(got)
	if err := randomWords(ctx, testPRG(10), got); !errors.Is(err, stop) {
		t.Errorf("after the context ended: %v, want its cause", err)
	}
	for i, w := range got {
		if w != 0 {
			t.Fatalf("word %d drawn after the context ended", i)
		}
	}
}
