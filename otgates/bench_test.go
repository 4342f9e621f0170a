package otgates

import (
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/internal/cputime"
)

// The gate benchmarks run both parties in one process, one goroutine each,
// over an in-memory pipe: elements per second of wall time and of process
// CPU time (both parties) and bytes per element (both directions).

const benchN = 1 << 14

func benchLoop(b *testing.B, ell int, f func(p *Party, x []uint64) error) {
	p0, p1 := parties(b)
	rng := rand.New(rand.NewPCG(1, 1))
	lo, hi := quarterRange(ell)
	x := inputs(rng, benchN, ell, lo, hi)
	x0, x1 := share(rng, x, ell)
	p0.Conn.Stats().Reset()
	errs := make(chan error, 1)
	cpu0 := cputime.Seconds()
	for b.Loop() {
		go func() { errs <- f(p1, x1) }()
		if err := f(p0, x0); err != nil {
			b.Fatal(err)
		}
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchN*b.N)/b.Elapsed().Seconds(), "elem/s")
	if cpu := cputime.Seconds() - cpu0; cpu > 0 {
		b.ReportMetric(float64(benchN*b.N)/cpu, "elem/cpu-s")
	}
	b.ReportMetric(float64(p0.Conn.Stats().Total().Bytes())/float64(benchN*b.N), "B/elem")
}

func BenchmarkReLU32(b *testing.B) {
	benchLoop(b, 32, func(p *Party, x []uint64) error { _, err := p.ReLU(x, 32); return err })
}

func BenchmarkReLU64(b *testing.B) {
	benchLoop(b, 64, func(p *Party, x []uint64) error { _, err := p.ReLU(x, 64); return err })
}

func BenchmarkTrunc32(b *testing.B) {
	benchLoop(b, 32, func(p *Party, x []uint64) error { _, err := p.Trunc(x, 32, 12); return err })
}

func BenchmarkSquare32(b *testing.B) {
	benchLoop(b, 32, func(p *Party, x []uint64) error { _, err := p.Square(x, 32); return err })
}
