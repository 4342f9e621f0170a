package ot

import (
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/internal/cputime"
)

// poolConfigs are the offline generators BenchmarkPrecompute compares:
// the session's default SoftSpoken extensions (k = 4 for comparisons,
// k = 8 for multiplications) and Ferret from k = 4.
var poolConfigs = []struct {
	name string
	cfg  Config
}{
	{"k4", Config{K: 4}},
	{"k8", Config{K: 8}},
	{"ferret-small", Config{K: 4, Ferret: FerretSmall}},
	{"ferret-large", Config{K: 4, Ferret: FerretLarge}},
}

// BenchmarkPrecompute: the offline phase's cost per COT made ahead
// (Sender/Receiver.Precompute of 2^20 COTs, both parties; B/OT both
// directions), by generator; the session setup is not counted.
func BenchmarkPrecompute(b *testing.B) {
	for _, pc := range poolConfigs {
		b.Run(pc.name, func(b *testing.B) {
			const n = 1 << 20
			s0, s1, c0, _ := sessionsCfg(b, pc.cfg)
			c0.Stats().Reset()
			errs := make(chan error, 1)
			cpu0 := cputime.Seconds()
			for b.Loop() {
				go func() { errs <- s0.Send.Precompute(n) }()
				if err := s1.Recv.Precompute(n); err != nil {
					b.Fatal(err)
				}
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
				s0.Send.DropPool()
				s1.Recv.DropPool()
			}
			reportOT(b, n, c0, cpu0)
		})
	}
}

// BenchmarkPooledCOT: the online cost per COT taken from a pool (the
// derandomization bits, B/OT = 1/8 plus padding), against
// BenchmarkCOTK's extension.
func BenchmarkPooledCOT(b *testing.B) {
	const n = 1 << 16
	s0, s1, c0, _ := sessionsCfg(b, DefaultConfig)
	choice := randBits(rand.New(rand.NewPCG(1, 2)), n)
	errs := make(chan error, 1)
	var cpu float64
	var bytes int64
	for b.Loop() {
		b.StopTimer()
		go func() { errs <- s0.Send.Precompute(n) }()
		if err := s1.Recv.Precompute(n); err != nil {
			b.Fatal(err)
		}
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		sent := c0.Stats().Total().Bytes()
		cpu0 := cputime.Seconds()
		b.StartTimer()
		go func() { _, _, err := s0.Send.cot(n); errs <- err }()
		if _, _, err := s1.Recv.cot(choice); err != nil {
			b.Fatal(err)
		}
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cputime.Seconds() - cpu0
		bytes += c0.Stats().Total().Bytes() - sent
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "OT/s")
	b.ReportMetric(float64(n)*float64(b.N)/cpu, "OT/cpu-s")
	b.ReportMetric(float64(bytes)/float64(n*b.N), "B/OT")
}
