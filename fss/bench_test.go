package fss

import (
	"fmt"
	"testing"
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
	for _, c := range []struct{ ell, s int }{{64, 12}, {64, 16}, {54, 16}} {
		for _, exact := range []bool{true, false} {
			name := fmt.Sprintf("trunc/ell=%d/s=%d/exact=%v", c.ell, c.s, exact)
			gs = append(gs, benchGate{name,
				func(r []uint64) (*Keys, *Keys, error) { return GenTrunc(prg, r, c.ell, c.s, exact) }, EvalTrunc})
		}
	}
	return gs
}

func report(b *testing.B, k *Keys) {
	el := float64(b.N) * benchBatch
	b.ReportMetric(b.Elapsed().Seconds()*1e9/el, "ns/elem")
	b.ReportMetric(el/b.Elapsed().Seconds(), "elem/s")
	b.ReportMetric(float64(k.BytesPerElement()), "keyB/party")
}

// BenchmarkGen measures dealer key generation (both parties' keys) per
// element. Run with -cpu 1,2 to see the per-thread and 2-core rates.
func BenchmarkGen(b *testing.B) {
	rIn := testPRG(1).Rand(benchBatch).Data
	for _, g := range benchGates() {
		b.Run(g.name, func(b *testing.B) {
			var k0 *Keys
			for b.Loop() {
				var err error
				if k0, _, err = g.gen(rIn); err != nil {
					b.Fatal(err)
				}
			}
			report(b, k0)
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
			for b.Loop() {
				if _, err := g.eval(0, k0, xhat); err != nil {
					b.Fatal(err)
				}
			}
			report(b, k0)
		})
	}
}
