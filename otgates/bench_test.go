package otgates

import (
	"fmt"
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
// to compare with SCI's), of the critical path's CPU time (elem/crit-cpu-s:
// each party's thread CPU time plus its waits for the peer's work, the
// wall rate with one idle core per party; critpath_test.go), and bytes
// per element (both directions).

const benchN = 1 << 14

func benchLoop(b *testing.B, ell int, f func(p *Party, x []uint64) error) {
	benchLoopConfig(b, ot.DefaultConfig, ell, f)
}

func benchLoopConfig(b *testing.B, cfg ot.Config, ell int, f func(p *Party, x []uint64) error) {
	benchLoopN(b, cfg, benchN, ell, f)
}

func benchLoopN(b *testing.B, cfg ot.Config, benchN, ell int, f func(p *Party, x []uint64) error) {
	benchLoopAhead(b, cfg, benchN, ell, nil, f)
}

// benchLoopAhead is benchLoopN with ahead, when set, run by both parties
// before each iteration, untimed (the offline phase: triples and COTs
// made ahead); online-B/elem then gives the online bytes alone.
func benchLoopAhead(b *testing.B, cfg ot.Config, benchN, ell int, ahead func(p *Party) error, f func(p *Party, x []uint64) error) {
	var clk [2]critClock
	c0, c1 := critPipe(&clk[0], &clk[1])
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
	var cpu, party, crit float64
	critOK := true
	timed := func(i int, p *Party, x []uint64) func() error {
		return func() error {
			clk[i].start()
			err := f(p, x)
			clk[i].advance()
			return err
		}
	}
	for b.Loop() {
		if ahead != nil {
			b.StopTimer()
			if _, _, _, err := runParties(func() error { return ahead(p0) }, func() error { return ahead(p1) }); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		_, c, pc, err := runParties(timed(0, p0, x0), timed(1, p1, x1))
		if err != nil {
			b.Fatal(err)
		}
		cpu += c
		party += pc
		crit += max(clk[0].v, clk[1].v)
		critOK = critOK && clk[0].ok && clk[1].ok
	}
	n := float64(benchN * b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "elem/s")
	if cpu > 0 {
		b.ReportMetric(n/cpu, "elem/cpu-s")
	}
	if party > 0 {
		b.ReportMetric(n/party, "elem/thread-cpu-s")
	}
	if critOK && crit > 0 {
		b.ReportMetric(n/crit, "elem/crit-cpu-s") // critpath_test.go
	}
	b.ReportMetric(float64(p0.Conn.Stats().Total().Bytes())/float64(benchN*b.N), "B/elem")
	if ahead != nil {
		b.ReportMetric(float64(p0.Conn.Stats().Snapshot().Phases[transport.PhaseOnline].Bytes())/float64(benchN*b.N), "online-B/elem")
	}
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

// BenchmarkReLU32Batch: the ReLU's cost per element against the batch
// (elements per call; bench gates calls 32K at a time).
// BenchmarkReLU32Ahead is BenchmarkReLU32 with the triples and COTs made
// ahead (untimed): the online phase alone.
func BenchmarkReLU32Ahead(b *testing.B) {
	const ell = 32
	benchLoopAhead(b, ot.DefaultConfig, benchN, ell, func(p *Party) error {
		p.DropCOTs()
		t, err := p.MakeTriples([]int{DReLUTriples(benchN, ell)})
		if err != nil {
			return err
		}
		p.UseTriples(t[0])
		return p.MakeCOTs(ReLUCOTs(benchN, ell))
	}, func(p *Party, x []uint64) error {
		_, err := p.ReLU(x, ell)
		return err
	})
}

func BenchmarkReLU32Batch(b *testing.B) {
	for _, n := range []int{1 << 12, 1 << 15} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			benchLoopN(b, ot.DefaultConfig, n, 32, func(p *Party, x []uint64) error { _, err := p.ReLU(x, 32); return err })
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
