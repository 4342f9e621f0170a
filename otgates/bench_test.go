package otgates

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/autorep/autorep/internal/cputime"
	"github.com/autorep/autorep/ot"
	"github.com/autorep/autorep/transport"
)

// The gate benchmarks run both parties in one process, one goroutine each,
// over an in-memory pipe: elements per second of wall time and of process
// CPU time (both parties) and bytes per element (both directions).

const benchN = 1 << 14

func benchLoop(b *testing.B, ell int, f func(p *Party, x []uint64) error) {
	benchLoopConfig(b, ot.DefaultConfig, ell, f)
}

func benchLoopConfig(b *testing.B, cfg ot.Config, ell int, f func(p *Party, x []uint64) error) {
	c0, c1 := transport.Pipe()
	var p1 *Party
	perr := make(chan error, 1)
	go func() { var err error; p1, err = NewConfig(c1, 1, cfg); perr <- err }()
	p0, err := NewConfig(c0, 0, cfg)
	if err == nil {
		err = <-perr
	}
	if err != nil {
		b.Fatal(err)
	}
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

// BenchmarkReLU32OT: the ReLU over each OT extension (IKNP, SoftSpoken k).
func BenchmarkReLU32OT(b *testing.B) {
	for _, cfg := range []ot.Config{{KK: true}, {}, {K: 2}, {K: 4}, {K: 6}, {K: 8}} {
		b.Run(strings.ReplaceAll(cfg.String(), " ", "_"), func(b *testing.B) {
			benchLoopConfig(b, cfg, 32, func(p *Party, x []uint64) error { _, err := p.ReLU(x, 32); return err })
		})
	}
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
