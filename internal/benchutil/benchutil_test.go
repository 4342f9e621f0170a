package benchutil

import (
	"testing"
	"time"
)

// TestImages times a step that sleeps 5 ms per batch of 4 images: the
// warm-up run must come first and stay untimed, and the figures must say at
// most 800 images/s, the best step at least the average.
func TestImages(t *testing.T) {
	const batch, d, warmup = 4, 5 * time.Millisecond, 50 * time.Millisecond
	var timedWarmup time.Duration
	r := testing.Benchmark(func(b *testing.B) {
		calls := 0
		Images(b, batch, func() {
			calls++
			switch calls {
			case 1:
				time.Sleep(warmup)
				return
			case 2:
				if e := b.Elapsed(); e >= warmup {
					timedWarmup = e
				}
			}
			time.Sleep(d)
		})
		if calls != b.N+1 {
			t.Errorf("b.N = %d: step ran %d times, want b.N + 1", b.N, calls)
		}
	})
	if timedWarmup > 0 {
		t.Fatalf("%v elapsed when the first timed run started: the warm-up was timed", timedWarmup)
	}
	limit := float64(batch) / d.Seconds()
	ips, best := r.Extra["images/s"], r.Extra["best_images/s"]
	if ips <= 0 || ips > limit {
		t.Fatalf("images/s = %.1f, want in (0, %.0f]", ips, limit)
	}
	if best < ips || best > limit {
		t.Fatalf("best_images/s = %.1f, want in [images/s %.1f, %.0f]", best, ips, limit)
	}
	if _, ok := r.Extra["images/cpu-s"]; !ok {
		t.Log("no images/cpu-s (CPU time unavailable on this platform)")
	}
}
