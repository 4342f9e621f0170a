// Package benchutil is what the packages' benchmarks share: timing a step
// that processes a batch of images and reporting its throughput the same
// way everywhere (wall clock, per CPU-second, best single step), so that
// figures taken on a loaded machine stay comparable.
package benchutil

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/autorep/autorep/internal/cputime"
	"github.com/autorep/autorep/tensor"
)

// CIFARBatch returns a random CIFAR-sized batch drawn from rng: n images
// [n,3,32,32] of standard normal pixels, then n labels in [0, 10).
func CIFARBatch(rng *rand.Rand, n int) (*tensor.Tensor, []int32) {
	x := tensor.New(n, 3, 32, 32)
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	y := make([]int32, n)
	for i := range y {
		y[i] = int32(rng.IntN(10))
	}
	return x, y
}

// Images runs step once untimed (creating kernel primitives and buffers),
// then times b.N runs of it, each processing batch images, and reports
//
//	images/s       batch·b.N over the wall-clock time
//	images/cpu-s   batch·b.N over the CPU time the process used: the code's
//	               speed, not the CPU share other load left it
//	best_images/s  batch over the fastest single run: the figure least
//	               disturbed by other load
func Images(b *testing.B, batch int, step func()) {
	b.Helper()
	step()
	b.ResetTimer()
	cpu0 := cputime.Used()
	best := time.Duration(1<<63 - 1)
	for range b.N {
		t0 := time.Now()
		step()
		best = min(best, time.Since(t0))
	}
	n := float64(batch * b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "images/s")
	if cpu := cputime.Used() - cpu0; cpu > 0 {
		b.ReportMetric(n/cpu.Seconds(), "images/cpu-s")
	}
	b.ReportMetric(float64(batch)/best.Seconds(), "best_images/s")
}
