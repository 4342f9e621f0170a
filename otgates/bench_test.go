package otgates

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/autorep/autorep/ot"
	"github.com/autorep/autorep/transport"
)

// The gate benchmarks run both parties in one process, each on its own OS
// thread, over an in-memory pipe: elements per second of wall time, of
// process CPU time (both parties) and of the busier party's thread CPU
// time (elem/thread-cpu-s, GateCost.PerThreadCPUS: the per-thread figure
// to compare with SCI's), and bytes per element (both directions).

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
	var cpu, party float64
	for b.Loop() {
		_, c, pc, err := runParties(func() error { return f(p0, x0) }, func() error { return f(p1, x1) })
		if err != nil {
			b.Fatal(err)
		}
		cpu += c
		party += pc
	}
	n := float64(benchN * b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "elem/s")
	if cpu > 0 {
		b.ReportMetric(n/cpu, "elem/cpu-s")
	}
	if party > 0 {
		b.ReportMetric(n/party, "elem/thread-cpu-s")
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
