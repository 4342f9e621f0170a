package ot

import (
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/internal/cputime"
	"github.com/autorep/autorep/transport"
)

// The benchmarks run both parties in one process, one goroutine each, over
// an in-memory pipe, and report OTs per second of wall time, OTs per second
// of process CPU time (both parties; on a shared machine the wall figure
// measures the scheduler) and the bytes per OT both directions carry
// (Stats of one end: sent + received).

const benchN = 1 << 16

func reportOT(b *testing.B, n int, c transport.Conn, cpu0 float64) {
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "OT/s")
	if cpu := cputime.Seconds() - cpu0; cpu > 0 {
		b.ReportMetric(float64(n)*float64(b.N)/cpu, "OT/cpu-s")
	}
	b.ReportMetric(float64(c.Stats().Total().Bytes())/float64(n*b.N), "B/OT")
}

func benchPair(b *testing.B) (*Session, *Session, transport.Conn) {
	s0, s1, c0, _ := sessions(b)
	c0.Stats().Reset()
	return s0, s1, c0
}

func BenchmarkBaseOT128(b *testing.B) {
	choices := randBits(rand.New(rand.NewPCG(1, 1)), Kappa)
	var bytes int64
	cpu0 := cputime.Seconds()
	for b.Loop() {
		c, _ := run(b, func(c transport.Conn) error { _, err := BaseSend(c, Kappa); return err },
			func(c transport.Conn) error { _, err := BaseReceive(c, choices); return err })
		bytes += c.Stats().Total().Bytes()
	}
	b.ReportMetric(float64(Kappa)*float64(b.N)/b.Elapsed().Seconds(), "OT/s")
	if cpu := cputime.Seconds() - cpu0; cpu > 0 {
		b.ReportMetric(float64(Kappa)*float64(b.N)/cpu, "OT/cpu-s")
	}
	b.ReportMetric(float64(bytes)/float64(Kappa*b.N), "B/OT")
}

func BenchmarkCOT(b *testing.B) {
	s0, s1, c0 := benchPair(b)
	choice := randBits(rand.New(rand.NewPCG(1, 2)), benchN)
	errs := make(chan error, 1)
	cpu0 := cputime.Seconds()
	for b.Loop() {
		go func() { _, err := s0.Send.COT(benchN); errs <- err }()
		if _, err := s1.Recv.COT(choice); err != nil {
			b.Fatal(err)
		}
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	reportOT(b, benchN, c0, cpu0)
}

func BenchmarkROT(b *testing.B) {
	s0, s1, c0 := benchPair(b)
	choice := randBits(rand.New(rand.NewPCG(1, 3)), benchN)
	errs := make(chan error, 1)
	cpu0 := cputime.Seconds()
	for b.Loop() {
		go func() { _, _, err := s0.Send.ROT(benchN); errs <- err }()
		if _, err := s1.Recv.ROT(choice); err != nil {
			b.Fatal(err)
		}
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	reportOT(b, benchN, c0, cpu0)
}

func BenchmarkCorrelated32(b *testing.B) {
	s0, s1, c0 := benchPair(b)
	choice := randBits(rand.New(rand.NewPCG(1, 4)), benchN)
	delta := make([]uint64, benchN)
	errs := make(chan error, 1)
	cpu0 := cputime.Seconds()
	for b.Loop() {
		go func() { _, err := s0.Send.SendCorrelated(delta, 32); errs <- err }()
		if _, err := s1.Recv.ReceiveCorrelated(choice, 32); err != nil {
			b.Fatal(err)
		}
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	reportOT(b, benchN, c0, cpu0)
}

func BenchmarkChosen64(b *testing.B) {
	s0, s1, c0 := benchPair(b)
	choice := randBits(rand.New(rand.NewPCG(1, 5)), benchN)
	m := make([]uint64, benchN)
	errs := make(chan error, 1)
	cpu0 := cputime.Seconds()
	for b.Loop() {
		go func() { errs <- s0.Send.Send(m, m, 64) }()
		if _, err := s1.Recv.Receive(choice, 64); err != nil {
			b.Fatal(err)
		}
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	reportOT(b, benchN, c0, cpu0)
}

// BenchmarkOneOf16 is the millionaires' leaf OT: 1-out-of-16, 2-bit
// messages.
func BenchmarkOneOf16(b *testing.B) {
	s0, s1, c0 := benchPair(b)
	n := benchN / 4
	choice := make([]uint8, n)
	msgs := make([]uint64, 16*n)
	errs := make(chan error, 1)
	cpu0 := cputime.Seconds()
	for b.Loop() {
		go func() { errs <- s0.NSend.Send(msgs, 16, 2) }()
		if _, err := s1.NRecv.Receive(choice, 16, 2); err != nil {
			b.Fatal(err)
		}
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	reportOT(b, n, c0, cpu0)
}

// BenchmarkTranspose64: the plain and the vector 64×64 bit transpose.
func BenchmarkTranspose64(b *testing.B) {
	var a [64]uint64
	for i := range a {
		a[i] = uint64(i) * 0x9E3779B97F4A7C15
	}
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			transpose64(&a)
		}
	})
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			transpose64Fast(&a)
		}
	})
}
