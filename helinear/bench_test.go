package helinear

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/autorep/autorep/ring"
)

// benchLayers are the layers BenchmarkLayer measures (batch 1).
var benchLayers = []struct {
	name string
	conv ring.ConvParams
	fc   [2]int // in, out when conv is zero
}{
	{name: "resnet20_conv16x32x32", conv: ring.ConvParams{N: 1, C: 16, H: 32, W: 32, K: 16, R: 3, S: 3, PadH: 1, PadW: 1}},
	{name: "resnet20_conv16to32_s2", conv: ring.ConvParams{N: 1, C: 16, H: 32, W: 32, K: 32, R: 3, S: 3, PadH: 1, PadW: 1, StrideH: 2, StrideW: 2}},
	{name: "resnet20_conv64x8x8", conv: ring.ConvParams{N: 1, C: 64, H: 8, W: 8, K: 64, R: 3, S: 3, PadH: 1, PadW: 1}},
	{name: "resnet20_fc64to10", fc: [2]int{64, 10}},
	{name: "lenet_conv1", conv: ring.ConvParams{N: 1, C: 1, H: 28, W: 28, K: 6, R: 5, S: 5, PadH: 2, PadW: 2}},
	{name: "lenet_conv2", conv: ring.ConvParams{N: 1, C: 6, H: 14, W: 14, K: 16, R: 5, S: 5}},
	// Cheetah's anchor layer (ResNet-50 conv1 on ImageNet: 0.807 s, 2.86 MB).
	{name: "resnet50_conv1", conv: ring.ConvParams{N: 1, C: 3, H: 224, W: 224, K: 64, R: 7, S: 7, PadH: 3, PadW: 3, StrideH: 2, StrideW: 2}},
}

// BenchmarkLayer runs one linear layer per iteration, both parties in one
// process (one goroutine each), at ℓ = 37 and ℓ = 64, and reports the bytes
// each direction per image and the messages (one each way: one round
// trip); key setup is outside
// the timed loop (setup_B reports its size); cpu_ms is process CPU time
// per layer.
func BenchmarkLayer(b *testing.B) {
	for _, ell := range []uint{37, 64} {
		for _, l := range benchLayers {
			b.Run(l.name+"/ell="+itoa(int(ell)), func(b *testing.B) {
				s, cl := pair(b, ell)
				setup := cl.Conn.Stats().Total().BytesSent
				rng := rand.New(rand.NewPCG(1, 1))
				var srv, cli func() ([]uint64, error)
				if l.conv.N > 0 {
					p := l.conv
					w, xs, xc := randVec(rng, p.WLen()), randVec(rng, p.XLen()), randVec(rng, p.XLen())
					srv = func() ([]uint64, error) { return s.Conv2d(p, w, nil, xs) }
					cli = func() ([]uint64, error) { return cl.Conv2d(p, xc) }
				} else {
					in, out := l.fc[0], l.fc[1]
					w, xs, xc := randVec(rng, in*out), randVec(rng, in), randVec(rng, in)
					srv = func() ([]uint64, error) { return s.FC(1, in, out, w, nil, xs) }
					cli = func() ([]uint64, error) { return cl.FC(1, in, out, xc) }
				}
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
