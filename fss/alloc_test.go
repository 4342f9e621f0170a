package fss

import (
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
	<-entered
	cancel(stop)
	if err := <-done; !errors.Is(err, stop) {
		t.Errorf("DCF: %v, want the cancellation cause", err)
	}
	hold <- struct{}{}
}
