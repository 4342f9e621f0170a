package fssgates_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/ring"
)

// TestGenerateContext: the dealer's generation under a live context gives
// exactly Generate's material (FSS gates, the fused gate, a batched
// convolution, polynomial material); cancelled during a large request (a
// quarter million ReLU keys, a 128-image convolution, seconds of work
// each) through Pairing.GetContext, after the other party's wait for the same
// item has ended with its own context, it returns the cancellation cause
// quickly, and no goroutine is left behind.
func TestGenerateContext(t *testing.T) {
	d := dealer.NewGenerator(ring.Seed{9})
	conv := corr.LinearSpec{N: 3, C: 4, H: 6, W: 6, K: 5, R: 3, S: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, Groups: 1}
	act := corr.ActSpec{N: 1, C: 2, HW: 8, ReLU: corr.MaskOf(make([]bool, 16))}
	for _, req := range []corr.Request{
		fssgates.GateRequest(fssgates.KindReLU, "r", 1000, 0, 40),
		fssgates.GateRequest(fssgates.KindDReLU, "d", 1000, 0, 0),
		fssgates.GateRequest(fssgates.KindTrunc, "t", 1000, 12, 0),
		fssgates.ReLUTruncRequest("rt", 1000, 12, 0),
		{Kind: mpc.KindLinear, Label: "l", Linear: conv},
		{Kind: mpc.KindPoly, Label: "p", Act: act},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		a0, a1, err := d.Generate(req, 2)
		if err != nil {
			t.Fatal(err)
		}
		b0, b1, err := d.GenerateContext(ctx, req, 2)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for i, pair := range [][2]*corr.Material{{a0, b0}, {a1, b1}} {
			x, err := pair[0].MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			y, _ := pair[1].MarshalBinary()
			if !bytes.Equal(x, y) {
				t.Errorf("%v: party %d's material differs under a context", req.Kind, i)
			}
		}
	}

	before := runtime.NumGoroutine()
	big := corr.LinearSpec{N: 128, C: 64, H: 32, W: 32, K: 64, R: 3, S: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, Groups: 1}
	for _, req := range []corr.Request{
		fssgates.GateRequest(fssgates.KindReLU, "big", 1<<18, 0, 0),
		{Kind: mpc.KindLinear, Label: "bigconv", Linear: big},
	} {
		runtime.GC()
		h := dealer.NewPairing(d.Session(1))
		ctx, cancel := context.WithCancelCause(context.Background())
		stop := errors.New("party gone")
		type result struct {
			err error
			at  time.Time
		}
		done := make(chan result, 1)
		go func() {
			_, err := h.GetContext(ctx, mpc.Server, req)
			done <- result{err, time.Now()}
		}()
		// The other party, asking for the same item meanwhile, waits for
		// that generation: its own context ends the wait.
		time.Sleep(20 * time.Millisecond)
		ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
		t1 := time.Now()
		_, err := h.GetContext(ctx2, mpc.Client, req)
		waited := time.Since(t1)
		cancel2()
		if !errors.Is(err, context.DeadlineExceeded) || waited > time.Second {
			t.Errorf("%v: the other party's wait returned %v after %v", req.Kind, err, waited)
		}
		t0 := time.Now()
		cancel(stop)
		r := <-done
		took := r.at.Sub(t0)
		t.Logf("%v %q: %v %v after the cancellation (the other party's wait: %v)", req.Kind, req.Label, r.err, took, waited)
		// Generous bound for a loaded 2-core machine; an uninterrupted
		// generation takes far longer. The key memory's allocation is
		// interruptible too (fss.getWords).
		if !errors.Is(r.err, stop) || took > 10*time.Second {
			t.Errorf("%v: cancelled, returned %v after %v", req.Kind, r.err, took)
		}
	}
	// A cancelled generation's key memory may still be in its allocation
	// (the runtime clearing reused heap memory, seconds on a loaded
	// machine), whose helper ends once it has handed the memory to the
	// pool: allow for it.
	deadline := time.Now().Add(60 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the cancelled generations, %d before", n, before)
	}
}
