package cputime

import (
	"runtime"
	"testing"
	"time"
)

// TestProcessAdvances burns CPU and checks that the reading follows.
func TestProcessAdvances(t *testing.T) {
	d0, ok := Process()
	if !ok {
		t.Skip("no process CPU time on " + runtime.GOOS)
	}
	x := 0.0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		for i := 0; i < 1000; i++ {
			x += float64(i) * 1e-9
		}
	}
	d1, _ := Process()
	if d1-d0 < 20*time.Millisecond {
		t.Errorf("50 ms of busy loop advanced CPU time by %v (x=%g)", d1-d0, x)
	}
	if s := Seconds(); s < d1.Seconds() {
		t.Errorf("Seconds() = %v, below the earlier reading %v", s, d1.Seconds())
	}
	if PeakRSS() <= 0 {
		t.Error("PeakRSS() is not positive")
	}
}
