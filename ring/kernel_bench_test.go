package ring

import (
	"testing"

	"github.com/autorep/autorep/internal/cputime"
)

// BenchmarkMicroKernel measures the single-core micro-kernel on L1-resident
// panels.
func BenchmarkMicroKernel(b *testing.B) {
	const kb = 256
	p := NewPRG(seedOf(2))
	pa, pb := p.Rand(kb*mr).Data, p.Rand(kb*nr).Data
	c := make([]uint64, mr*nr)
	for _, simd := range kernels() {
		name := "scalar"
		if simd {
			name = "avx512"
		}
		b.Run(name, func(b *testing.B) {
			withKernel(simd, func() {
				kern := currentKernel()
				c0 := cputime.Seconds()
				for b.Loop() {
					kern(kb, pa, pb, c, nr, true)
				}
				reportRate(b, float64(kb*mr*nr), c0)
			})
		})
	}
}

// reportRate reports Gmuladd/s (wall clock) and, where available,
// Gmuladd/cpu-s (per CPU-second of the process: the rate per fully used
// core, robust to other load on a shared machine).
func reportRate(b *testing.B, muladdsPerOp float64, cpu0 float64) {
	total := muladdsPerOp * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds()/1e9, "Gmuladd/s")
	if cpu := cputime.Seconds() - cpu0; cpu0 > 0 && cpu > 0 {
		b.ReportMetric(total/cpu/1e9, "Gmuladd/cpu-s")
	}
}
