package helinear

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/autorep/autorep/ring"
)

// resnet20Layers are ResNet-20's (CIFAR-10) linear layers with their
// number per image, as pi compiles the committed models.
var resnet20Layers = []struct {
	n    int
	conv ring.ConvParams
}{
	{1, ring.ConvParams{N: 1, C: 3, H: 32, W: 32, K: 16, R: 3, S: 3, PadH: 1, PadW: 1}},
	{6, ring.ConvParams{N: 1, C: 16, H: 32, W: 32, K: 16, R: 3, S: 3, PadH: 1, PadW: 1}},
	{1, ring.ConvParams{N: 1, C: 16, H: 32, W: 32, K: 32, R: 3, S: 3, PadH: 1, PadW: 1, StrideH: 2, StrideW: 2}},
	{1, ring.ConvParams{N: 1, C: 16, H: 32, W: 32, K: 32, R: 1, S: 1, StrideH: 2, StrideW: 2}},
	{5, ring.ConvParams{N: 1, C: 32, H: 16, W: 16, K: 32, R: 3, S: 3, PadH: 1, PadW: 1}},
	{1, ring.ConvParams{N: 1, C: 32, H: 16, W: 16, K: 64, R: 3, S: 3, PadH: 1, PadW: 1, StrideH: 2, StrideW: 2}},
	{1, ring.ConvParams{N: 1, C: 32, H: 16, W: 16, K: 64, R: 1, S: 1, StrideH: 2, StrideW: 2}},
	{5, ring.ConvParams{N: 1, C: 64, H: 8, W: 8, K: 64, R: 3, S: 3, PadH: 1, PadW: 1}},
	{1, ring.ConvParams{N: 1, C: 64, H: 1, W: 1, K: 10, R: 1, S: 1}}, // fc 64 → 10 (helinear.FC)
}

// benchLayers are the layers BenchmarkLayer measures (batch 1): ResNet-20's
// shapes, LeNet's convolutions and Cheetah's anchor layer (ResNet-50
// conv1 on ImageNet: 0.807 s, 2.86 MB).
func benchLayers() []ring.ConvParams {
	var ls []ring.ConvParams
	for _, l := range resnet20Layers {
		ls = append(ls, l.conv)
	}
	return append(ls,
		ring.ConvParams{N: 1, C: 1, H: 28, W: 28, K: 6, R: 5, S: 5, PadH: 2, PadW: 2},
		ring.ConvParams{N: 1, C: 6, H: 14, W: 14, K: 16, R: 5, S: 5},
		ring.ConvParams{N: 1, C: 3, H: 224, W: 224, K: 64, R: 7, S: 7, PadH: 3, PadW: 3, StrideH: 2, StrideW: 2})
}

// benchWeightBits are the weight bounds measured: any weight (ℓ bits),
// 24 bits, which holds the committed ResNet-20 and LeNet models' folded
// weights at 16 and 20 fractional bits (at most 24 bits measured), and 12
// bits, the public bound pi records for the committed ResNet-20 models
// at the twoparty suite's 8–9 fractional bits (10–12 bits measured).
var benchWeightBits = []uint{0, 24, 12}

// layerName names a layer for the benchmarks.
func layerName(p ring.ConvParams) string {
	if isFC(p) {
		return "fc" + itoa(p.C) + "to" + itoa(p.K)
	}
	n := "conv" + itoa(p.C) + "x" + itoa(p.H) + "x" + itoa(p.W) + "to" + itoa(p.K) + "_" + itoa(p.R) + "x" + itoa(p.S)
	if p.StrideH > 1 {
		n += "_s" + itoa(p.StrideH)
	}
	return n
}

// isFC tells a 1×1 layer on a 1×1 input, run as helinear.FC.
func isFC(p ring.ConvParams) bool { return p.H == 1 && p.W == 1 && p.R == 1 && p.S == 1 }

// benchPair is pair with parameters of weight bound wb (0: ℓ).
func benchPair(b *testing.B, ell, wb uint) (*Server, *Client) {
	if wb == 0 {
		return pair(b, ell)
	}
	return pairWith(b, func() (*Params, error) { return NewParamsW(ell, wb) }, nil)
}

// layerFuncs returns the two parties' sides of layer p on random shares
// and weights of at most wb bits (0: any).
func layerFuncs(rng *rand.Rand, s *Server, cl *Client, p ring.ConvParams, wb uint) (srv, cli func() ([]uint64, error)) {
	w, xs, xc := randVec(rng, p.WLen()), randVec(rng, p.XLen()), randVec(rng, p.XLen())
	if wb != 0 {
		for i := range w {
			w[i] = uint64(int64(w[i]) >> (64 - wb)) // uniform in [−2^(wb−1), 2^(wb−1))
		}
	}
	if isFC(p) {
		return func() ([]uint64, error) { return s.FC(p.N, p.C, p.K, w, nil, xs) },
			func() ([]uint64, error) { return cl.FC(p.N, p.C, p.K, xc) }
	}
	return func() ([]uint64, error) { return s.Conv2d(p, w, nil, xs) },
		func() ([]uint64, error) { return cl.Conv2d(p, xc) }
}

// BenchmarkLayer runs one linear layer per iteration, both parties in one
// process (one goroutine each), at ℓ = 37 and ℓ = 64 and each weight
// bound (wb=0: any weight), and reports the bytes each direction per
// image and the messages (one each way: one round trip); key setup is
// outside the timed loop (setup_B reports its size); cpu_ms is process
// CPU time per layer.
func BenchmarkLayer(b *testing.B) {
	for _, ell := range []uint{28, 30, 37, 64} {
		for _, wb := range benchWeightBits {
			for _, l := range benchLayers() {
				b.Run(layerName(l)+"/ell="+itoa(int(ell))+"/wb="+itoa(int(wb)), func(b *testing.B) {
					s, cl := benchPair(b, ell, wb)
					setup := cl.Conn.Stats().Total().BytesSent
					srv, cli := layerFuncs(rand.New(rand.NewPCG(1, 1)), s, cl, l, wb)
					c0 := cl.Conn.Stats().Total()
					cpu0 := cpuTime()
					b.ResetTimer()
					for b.Loop() {
						if _, _, err := both(srv, cli); err != nil {
							b.Fatal(err)
						}
					}
					c1 := cl.Conn.Stats().Total()
					n := float64(b.N)
					b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/n, "cpu_ms")
					b.ReportMetric(float64(c1.BytesSent-c0.BytesSent)/n, "up_B")
					b.ReportMetric(float64(c1.BytesRecv-c0.BytesRecv)/n, "down_B")
					b.ReportMetric(float64(c1.MsgsSent+c1.MsgsRecv-c0.MsgsSent-c0.MsgsRecv)/n, "msgs")
					b.ReportMetric(float64(setup), "setup_B")
				})
			}
		}
	}
}

// BenchmarkResNet20 runs all 22 linear layers of one ResNet-20 image per
// iteration (each shape as often as the network has it) at ℓ = 28 and 30
// (the twoparty suite's widths), 37 and 64, and reports the per-image
// sums: bytes each way, messages, process CPU time, and the session
// setup's bytes (setup_B).
func BenchmarkResNet20(b *testing.B) {
	for _, ell := range []uint{28, 30, 37, 64} {
		for _, wb := range benchWeightBits {
			b.Run("ell="+itoa(int(ell))+"/wb="+itoa(int(wb)), func(b *testing.B) {
				s, cl := benchPair(b, ell, wb)
				setup := cl.Conn.Stats().Total().BytesSent
				rng := rand.New(rand.NewPCG(1, 1))
				type fs struct{ srv, cli func() ([]uint64, error) }
				var layers []fs
				for _, l := range resnet20Layers {
					srv, cli := layerFuncs(rng, s, cl, l.conv, wb)
					for range l.n {
						layers = append(layers, fs{srv, cli})
					}
				}
				c0 := cl.Conn.Stats().Total()
				cpu0 := cpuTime()
				b.ResetTimer()
				for b.Loop() {
					for _, l := range layers {
						if _, _, err := both(l.srv, l.cli); err != nil {
							b.Fatal(err)
						}
					}
				}
				c1 := cl.Conn.Stats().Total()
				n := float64(b.N)
				b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/n, "cpu_ms")
				b.ReportMetric(float64(c1.BytesSent-c0.BytesSent)/n, "up_B")
				b.ReportMetric(float64(c1.BytesRecv-c0.BytesRecv)/n, "down_B")
				b.ReportMetric(float64(c1.MsgsSent+c1.MsgsRecv-c0.MsgsSent-c0.MsgsRecv)/n, "msgs")
				b.ReportMetric(float64(setup), "setup_B")
			})
		}
	}
}

// cpuTime is the process's user + system CPU time (both parties): on a
// loaded machine it measures the work where wall time measures the
// scheduler.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// BenchmarkResNet20Split runs one ResNet-20 image's 22 linear layers
// through the offline/online split per iteration: all precomputations
// (offline), then all online steps, reporting each phase's bytes each
// way and process CPU time per image.
func BenchmarkResNet20Split(b *testing.B) {
	for _, ell := range []uint{37, 64} {
		b.Run("ell="+itoa(int(ell)), func(b *testing.B) {
			s, cl := pair(b, ell)
			rng := rand.New(rand.NewPCG(1, 1))
			type layer struct {
				p     ring.ConvParams
				w, xs []uint64
				xc    []uint64
				sPre  *ServerPre
				cPre  *ClientPre
			}
			var ls []*layer
			for _, l := range resnet20Layers {
				for range l.n {
					p := l.conv
					ly := &layer{p: p, w: randVec(rng, p.WLen()), xs: randVec(rng, p.XLen()), xc: randVec(rng, p.XLen())}
					ls = append(ls, ly)
				}
			}
			var off, on [2]int64
			var offCPU, onCPU time.Duration
			b.ResetTimer()
			for b.Loop() {
				c0, t0 := cl.Conn.Stats().Total(), cpuTime()
				for _, l := range ls {
					var err error
					if isFC(l.p) {
						_, _, err = both(func() ([]uint64, error) { var e error; l.sPre, e = s.PrecomputeFC(1, l.p.C, l.p.K, l.w); return nil, e },
							func() ([]uint64, error) { var e error; l.cPre, e = cl.PrecomputeFC(1, l.p.C, l.p.K); return nil, e })
					} else {
						_, _, err = both(func() ([]uint64, error) { var e error; l.sPre, e = s.PrecomputeConv2d(l.p, l.w); return nil, e },
							func() ([]uint64, error) { var e error; l.cPre, e = cl.PrecomputeConv2d(l.p); return nil, e })
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				c1, t1 := cl.Conn.Stats().Total(), cpuTime()
				for _, l := range ls {
					if _, _, err := both(func() ([]uint64, error) { return s.Online(l.sPre, l.w, nil, l.xs) },
						func() ([]uint64, error) { return cl.Online(l.cPre, l.xc) }); err != nil {
						b.Fatal(err)
					}
				}
				c2, t2 := cl.Conn.Stats().Total(), cpuTime()
				off[0] += c1.BytesSent - c0.BytesSent
				off[1] += c1.BytesRecv - c0.BytesRecv
				on[0] += c2.BytesSent - c1.BytesSent
				on[1] += c2.BytesRecv - c1.BytesRecv
				offCPU += t1 - t0
				onCPU += t2 - t1
			}
			n := float64(b.N)
			b.ReportMetric(float64(off[0])/n, "off_up_B")
			b.ReportMetric(float64(off[1])/n, "off_down_B")
			b.ReportMetric(float64(on[0])/n, "on_up_B")
			b.ReportMetric(float64(on[1])/n, "on_down_B")
			b.ReportMetric(float64(offCPU.Milliseconds())/n, "off_cpu_ms")
			b.ReportMetric(float64(onCPU.Milliseconds())/n, "on_cpu_ms")
		})
	}
}
