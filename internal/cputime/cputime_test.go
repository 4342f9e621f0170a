package cputime

import (
	"runtime"
	"testing"
	"time"
)

// TestProcessAdvances burns CPU until the reading has advanced by 20 ms and
// checks that it did so within a bounded wall time, and never by more than
// the wall time allows. It does not assume the test gets a whole core: on a
// loaded machine the loop just runs longer.
func TestProcessAdvances(t *testing.T) {
	d0, ok := Process()
	if !ok {
		t.Skip("no process CPU time on " + runtime.GOOS)
	}
	x := 0.0
	start := time.Now()
	d1 := d0
	for d1-d0 < 20*time.Millisecond {
		if time.Since(start) > time.Minute {
			t.Fatalf("a minute of busy loop advanced CPU time by only %v (x=%g)", d1-d0, x)
		}
		for i := 0; i < 100000; i++ {
			x += float64(i) * 1e-9
		}
		d1, _ = Process()
	}
	wall := time.Since(start)
	if limit := wall*time.Duration(runtime.NumCPU()) + 50*time.Millisecond; d1-d0 > limit {
		t.Errorf("CPU time advanced by %v in %v of wall time on %d CPUs", d1-d0, wall, runtime.NumCPU())
	}
	if s := Seconds(); s < d1.Seconds() {
		t.Errorf("Seconds() = %v, below the earlier reading %v", s, d1.Seconds())
	}
	if PeakRSS() <= 0 {
		t.Error("PeakRSS() is not positive")
	}
}
