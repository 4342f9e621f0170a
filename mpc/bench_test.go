package mpc_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/autorep/autorep/internal/cputime"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// benchPair runs online(s) for both parties b.N times over a pipe. Before
// each iteration (untimed) both parties prefetch reqs(s) from an
// in-process dealer, so the timed part is the online phase only. It
// reports online bytes (both directions) and rounds (per party) per
// iteration, divided by per where a unit metric is wanted, dealer bytes
// per party per unit and units per second.
func benchPair(b *testing.B, unit string, per int, setup func(s *mpc.Session, src corr.Provider) error,
	reqs func(s *mpc.Session) []corr.Request, online func(s *mpc.Session, src corr.Provider) error) {
	benchPairConn(b, false, unit, per, setup, reqs, online)
}

// tcpPair returns the two ends of a framed TCP connection on loopback.
func tcpPair(b *testing.B) (transport.Conn, transport.Conn) {
	ln, err := transport.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan transport.Conn, 1)
	go func() {
		c, err := ln.Accept(context.Background())
		if err != nil {
			b.Error(err)
		}
		ch <- c
	}()
	c1, err := transport.Dial(context.Background(), ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	c0 := <-ch
	b.Cleanup(func() { c0.Close(); c1.Close() })
	return c0, c1
}

func benchPairConn(b *testing.B, tcp bool, unit string, per int, setup func(s *mpc.Session, src corr.Provider) error,
	reqs func(s *mpc.Session) []corr.Request, online func(s *mpc.Session, src corr.Provider) error) {
	var seed ring.Seed
	seed[0] = 99
	p0, p1 := dealer.LocalProviders(dealer.NewGenerator(seed))
	bp := [2]*corr.Prefetcher{corr.NewPrefetcher(p0), corr.NewPrefetcher(p1)}
	c0, c1 := transport.Pipe()
	if tcp {
		c0, c1 = tcpPair(b)
	}
	var ss [2]*mpc.Session
	for p, c := range []transport.Conn{c0, c1} {
		s, err := newSession(mpc.Party(p), c, 16)
		if err != nil {
			b.Fatal(err)
		}
		ss[p] = s
	}
	both := func(f func(s *mpc.Session, src corr.Provider) error) {
		var wg sync.WaitGroup
		var errs [2]error
		for p := range 2 {
			wg.Add(1)
			go func() { defer wg.Done(); errs[p] = f(ss[p], bp[p]) }()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	if setup != nil {
		both(setup)
	}
	d0, d1 := p0.Offline().Bytes, p1.Offline().Bytes
	c0.Stats().Reset()
	c1.Stats().Reset()
	var elapsed time.Duration
	var cpu float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		both(func(s *mpc.Session, src corr.Provider) error { return bp[s.Party].Prefetch(reqs(s)) })
		b.StartTimer()
		t0, u0 := time.Now(), cputime.Seconds()
		both(online)
		elapsed += time.Since(t0)
		cpu += cputime.Seconds() - u0
	}
	b.StopTimer()
	n := float64(b.N)
	u := n * float64(per)
	t0, t1 := c0.Stats().Total(), c1.Stats().Total()
	b.ReportMetric(float64(t0.BytesSent+t1.BytesSent)/u, "B/"+unit)
	b.ReportMetric(float64(t0.Rounds)/n, "rounds")
	b.ReportMetric(float64(p0.Offline().Bytes-d0)/u, "dealerB0/"+unit)
	b.ReportMetric(float64(p1.Offline().Bytes-d1)/u, "dealerB1/"+unit)
	b.ReportMetric(u/elapsed.Seconds(), unit+"/s")
	if cpu > 0 {
		b.ReportMetric(u/cpu, unit+"/cpu-s")
	}
}

const benchN = 1 << 14

func BenchmarkReLUGate(b *testing.B) {
	x := randSigned(benchN, 40, 1)
	xs := split(x, 2)
	benchPair(b, "relu", benchN, nil,
		func(s *mpc.Session) []corr.Request {
			return []corr.Request{{Kind: fssgates.KindReLU, Label: "r", N: benchN}}
		},
		func(s *mpc.Session, src corr.Provider) error {
			_, err := fssgates.ReLU(s, src, "r", xs[s.Party], 0)
			return err
		})
}

// actBench benchmarks a full activation layer (truncation + ReLU or
// polynomial) over benchN positions with the given fraction of ReLUs.
func actBench(b *testing.B, unit string, reluEvery int) { actBenchConn(b, false, unit, reluEvery) }

func actBenchConn(b *testing.B, tcp bool, unit string, reluEvery int) {
	spec := corr.ActSpec{N: 1, C: 16, HW: benchN / 16, ReLU: maskWhere(benchN, func(i int) bool { return reluEvery > 0 && i%reluEvery == 0 })}
	z := randSigned(benchN, 2*frac+4, 3)
	zs := split(z, 4)
	co := polyCoefs(16)
	var keys [2]*mpc.PolyKey
	benchPairConn(b, tcp, unit, benchN,
		func(s *mpc.Session, src corr.Provider) error {
			var c [][]float64
			if s.Party == mpc.Server {
				c = co
			}
			k, err := s.SetupPoly(src, "act", 16, c)
			keys[s.Party] = k
			return err
		},
		func(s *mpc.Session) []corr.Request { return actNeeds(b, s, "act", "act", spec) },
		func(s *mpc.Session, src corr.Provider) error {
			_, err := s.Act(src, "act", keys[s.Party], spec, zs[s.Party])
			return err
		})
}

// BenchmarkActReLU: an all-ReLU layer, truncation included.
func BenchmarkActReLU(b *testing.B) { actBench(b, "relu", 1) }

// BenchmarkActReLUTCP: BenchmarkActReLU over framed TCP on loopback.
func BenchmarkActReLUTCP(b *testing.B) { actBenchConn(b, true, "relu", 1) }

// BenchmarkActPoly: an all-polynomial layer, truncation included.
func BenchmarkActPoly(b *testing.B) { actBench(b, "poly", 0) }

// BenchmarkActMixed: one ReLU in 16 positions (per position metrics).
func BenchmarkActMixed(b *testing.B) { actBench(b, "elem", 16) }

// BenchmarkLinearConv: ResNet-20's 16→16 3×3 convolution on 32×32.
func BenchmarkLinearConv(b *testing.B) {
	p := corr.LinearSpec{N: 1, C: 16, H: 32, W: 32, K: 16, R: 3, S: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, Groups: 1}
	w := randSigned(p.WLen(), 16, 5)
	x := randSigned(p.XLen(), 20, 6)
	xs := split(x, 7)
	var keys [2]*mpc.LinearKey
	benchPair(b, "in", p.XLen(),
		func(s *mpc.Session, src corr.Provider) error {
			var ww []uint64
			if s.Party == mpc.Server {
				ww = w
			}
			k, err := s.SetupLinear(src, "conv", p, ww, nil)
			keys[s.Party] = k
			return err
		},
		func(s *mpc.Session) []corr.Request { return linearNeeds(keys[s.Party]) },
		func(s *mpc.Session, src corr.Provider) error {
			_, err := s.Linear(src, keys[s.Party], xs[s.Party])
			return err
		})
}

// BenchmarkDealerReLU measures dealer key generation for the fused ReLU +
// truncation gate (both parties' material) per activation.
func BenchmarkDealerReLU(b *testing.B) {
	var seed ring.Seed
	d := dealer.NewGenerator(seed)
	b.ResetTimer()
	u0 := cputime.Seconds()
	for i := range b.N {
		if _, _, err := d.Generate(corr.Request{Kind: fssgates.KindReLUTrunc, Label: "rt", N: benchN, Shift: 16}, uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchN)/b.Elapsed().Seconds(), "relu/s")
	if cpu := cputime.Seconds() - u0; cpu > 0 {
		b.ReportMetric(float64(b.N*benchN)/cpu, "relu/cpu-s")
	}
}

// truncBench benchmarks a plain truncation by 16 of benchN activations at
// scale 2f (|real| < 2^8) with the FSS gate or the MSB trick.
func truncBench(b *testing.B, msb bool) {
	x := randSigned(benchN, 2*frac+8, 5)
	xs := split(x, 6)
	benchPair(b, "elem", benchN, nil,
		func(s *mpc.Session) []corr.Request {
			if msb {
				return []corr.Request{{Kind: mpc.KindTruncMSB, Label: "t", N: benchN, Shift: frac}}
			}
			return []corr.Request{{Kind: fssgates.KindTrunc, Label: "t", N: benchN, Shift: frac}}
		},
		func(s *mpc.Session, src corr.Provider) error {
			var err error
			if msb {
				_, err = s.TruncMSB(src, "t", xs[s.Party], frac)
			} else {
				_, err = fssgates.Trunc(s, src, "t", xs[s.Party], frac, 0)
			}
			return err
		})
}

// BenchmarkTruncFSS: exact truncation with the FSS (DCF) gate.
func BenchmarkTruncFSS(b *testing.B) { truncBench(b, false) }

// BenchmarkTruncMSB: one-bit-error truncation with the MSB trick.
func BenchmarkTruncMSB(b *testing.B) { truncBench(b, true) }
