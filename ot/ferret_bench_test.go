package ot

import (
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/internal/cputime"
)

// BenchmarkFerretIteration runs one Ferret iteration, both sides in this
// goroutine (the reserve dealt locally): the sender's trees and LPN
// encoding, then the receiver's. COT/s counts the usable COTs of an
// iteration; B/COT is its one message over them.
func BenchmarkFerretIteration(b *testing.B) {
	for _, set := range []FerretParams{FerretSmall, FerretLarge} {
		b.Run(set.String(), func(b *testing.B) {
			p := ferretSets[set]
			delta := randBlock(b)
			q, r, bits := dealtCOTs(b, delta, p.reserve())
			snd := &ferretSender{p: p, delta: delta, res: q}
			rcv := &ferretReceiver{p: p, res: r, resBits: bits}
			cpu0 := cputime.Seconds()
			for b.Loop() {
				msg, err := snd.iterate()
				if err != nil {
					b.Fatal(err)
				}
				if err := rcv.absorb(msg); err != nil {
					b.Fatal(err)
				}
				// Drop the outputs: the buffers would grow without bound.
				snd.buf, snd.off = snd.buf[:0], 0
				rcv.buf, rcv.bits, rcv.off = rcv.buf[:0], rcv.bits[:0], 0
			}
			if d := snd.res[0].Xor(rcv.res[0]); d != (Block{}) && d != delta {
				b.Fatal("the reserve lost its correlation")
			}
			n := float64(p.usable()) * float64(b.N)
			b.ReportMetric(n/b.Elapsed().Seconds(), "COT/s")
			if cpu := cputime.Seconds() - cpu0; cpu > 0 {
				b.ReportMetric(n/cpu, "COT/cpu-s")
			}
			b.ReportMetric(float64(p.msgBytes())/float64(p.usable()), "B/COT")
		})
	}
}

// BenchmarkFerretCOT is BenchmarkCOT over a Ferret session: batches of
// 2^20 chosen-choice COTs, refills included in the time and the bytes
// (B/OT); the session setup (base OTs, the bootstrap from SoftSpoken
// k = 4 and, for the large set, one small iteration) is reported apart
// as setup-B (both directions).
func BenchmarkFerretCOT(b *testing.B) {
	for _, set := range []FerretParams{FerretSmall, FerretLarge} {
		b.Run(set.String(), func(b *testing.B) {
			const n = 1 << 20
			s0, s1, c0, _ := sessionsCfg(b, Config{K: 4, Ferret: set})
			setup := c0.Stats().Total().Bytes()
			c0.Stats().Reset()
			choice := randBits(rand.New(rand.NewPCG(1, 2)), n)
			errs := make(chan error, 1)
			cpu0 := cputime.Seconds()
			for b.Loop() {
				go func() { _, _, err := s0.Send.cot(n); errs <- err }()
				if _, _, err := s1.Recv.cot(choice); err != nil {
					b.Fatal(err)
				}
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
				go func() { errs <- s0.Send.refill() }()
				if err := s1.Recv.refill(); err != nil {
					b.Fatal(err)
				}
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			reportOT(b, n, c0, cpu0)
			b.ReportMetric(float64(setup), "setup-B")
			b.ReportMetric(float64(s0.Send.fe.served)/float64(n*b.N), "served")
		})
	}
}
