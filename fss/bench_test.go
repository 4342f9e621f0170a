package fss

import (
	"fmt"
	"github.com/autorep/autorep/internal/cputime"
	"slices"
	"testing"
	"time"
)

// benchBatch is the number of elements per benchmark operation.
const benchBatch = 4096

type benchGate struct {
	name string
	gen  func(rIn []uint64) (*Keys, *Keys, error)
	eval func(party int, k *Keys, xhat []uint64) ([]uint64, error)
}

func benchGates() []benchGate {
	prg := testPRG(99)
	var gs []benchGate
	for _, ell := range []int{64, 37, 32} {
		gs = append(gs, benchGate{fmt.Sprintf("relu/ell=%d", ell),
			func(r []uint64) (*Keys, *Keys, error) { return GenReLU(prg, r, ell) }, EvalReLU})
	}
	gs = append(gs, benchGate{"drelu/ell=64",
		func(r []uint64) (*Keys, *Keys, error) { return GenDReLU(prg, r, 64) }, EvalDReLU})
	for _, ell := range []int{64, 37} {
		gs = append(gs, benchGate{fmt.Sprintf("relutrunc/ell=%d/s=16", ell),
			func(r []uint64) (*Keys, *Keys, error) { return GenReLUTrunc(prg, r, ell, 16) }, EvalReLUTrunc})
	}
	for _, c := range []struct{ ell, s int }{{64, 12}, {64, 16}, {54, 16}} {
		for _, exact := range []bool{true, false} {
			name := fmt.Sprintf("trunc/ell=%d/s=%d/exact=%v", c.ell, c.s, exact)
			gs = append(gs, benchGate{name,
				func(r []uint64) (*Keys, *Keys, error) { return GenTrunc(prg, r, c.ell, c.s, exact) }, EvalTrunc})
		}
	}
	return gs
}

// report adds per-element metrics: wall ns/elem and elem/s, CPU ns/elem
// (process CPU time, robust to other load on a shared machine; with -cpu 2
// it sums both threads) and the key size.
func report(b *testing.B, k *Keys, cpu0 time.Duration) {
	el := float64(b.N) * benchBatch
	b.ReportMetric(b.Elapsed().Seconds()*1e9/el, "ns/elem")
	b.ReportMetric(el/b.Elapsed().Seconds(), "elem/s")
	if cpu1, ok := cputime.Process(); ok {
		b.ReportMetric(float64(cpu1-cpu0)/el, "cpu-ns/elem")
	}
	b.ReportMetric(float64(k.BytesPerElement()), "keyB/party")
}

func startCPU() time.Duration {
	c, _ := cputime.Process()
	return c
}

// BenchmarkGen measures dealer key generation (both parties' keys) per
// element. Run with -cpu 1,2 to see the per-thread and 2-core rates.
func BenchmarkGen(b *testing.B) {
	rIn := testPRG(1).Rand(benchBatch).Data
	for _, g := range benchGates() {
		b.Run(g.name, func(b *testing.B) {
			var k0 *Keys
			cpu0 := startCPU()
			for b.Loop() {
				var err error
				if k0, _, err = g.gen(rIn); err != nil {
					b.Fatal(err)
				}
			}
			report(b, k0, cpu0)
		})
	}
}

// BenchmarkEval measures one party's online evaluation per element.
func BenchmarkEval(b *testing.B) {
	rIn := testPRG(1).Rand(benchBatch).Data
	xhat := testPRG(2).Rand(benchBatch).Data
	for _, g := range benchGates() {
		b.Run(g.name, func(b *testing.B) {
			k0, _, err := g.gen(rIn)
			if err != nil {
				b.Fatal(err)
			}
			cpu0 := startCPU()
			for b.Loop() {
				if _, err := g.eval(0, k0, xhat); err != nil {
					b.Fatal(err)
				}
			}
			report(b, k0, cpu0)
		})
	}
}

// BenchmarkDCF measures plain DCF key generation and evaluation per key
// (n = 64 bits; g = 4 is mpc's polynomial-layer DCF).
func BenchmarkDCF(b *testing.B) {
	alpha := testPRG(1).Rand(benchBatch).Data
	x := testPRG(2).Rand(benchBatch).Data
	// g = 3 on 63 bits is the fused ReLU + truncation gate of mpc.
	for _, c := range []struct{ n, g int }{{64, 1}, {64, 2}, {63, 3}, {64, 4}} {
		n, g := c.n, c.g
		alpha := alpha
		if n < 64 {
			alpha = slices.Clone(alpha)
			for i := range alpha {
				alpha[i] &= 1<<n - 1
			}
		}
		beta := testPRG(3).Rand(g * benchBatch).Data
		prg := testPRG(4)
		k0, _, err := GenDCF(prg, n, g, alpha, beta)
		if err != nil {
			b.Fatal(err)
		}
		dcfReport := func(b *testing.B, cpu0 time.Duration) {
			el := float64(b.N) * benchBatch
			b.ReportMetric(el/b.Elapsed().Seconds(), "keys/s")
			if cpu1, ok := cputime.Process(); ok {
				b.ReportMetric(float64(cpu1-cpu0)/el, "cpu-ns/key")
			}
			b.ReportMetric(float64(k0.KeyBytes()), "keyB/party")
		}
		b.Run(fmt.Sprintf("gen/n=%d/g=%d", n, g), func(b *testing.B) {
			cpu0 := startCPU()
			for b.Loop() {
				if _, _, err := GenDCF(prg, n, g, alpha, beta); err != nil {
					b.Fatal(err)
				}
			}
			dcfReport(b, cpu0)
		})
		b.Run(fmt.Sprintf("eval/n=%d/g=%d", n, g), func(b *testing.B) {
			cpu0 := startCPU()
			for b.Loop() {
				if _, err := EvalDCF(0, k0, x); err != nil {
					b.Fatal(err)
				}
			}
			dcfReport(b, cpu0)
		})
	}
}
