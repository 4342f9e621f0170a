package hesimd

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/autorep/autorep/internal/cputime"
)

// BenchmarkQuad measures one Quad of two full ciphertexts' worth of
// elements (2·Slots) per degree and plaintext size: bytes per element each
// way (up: client → server), the process CPU of both parties per 1,000
// elements, and the one-time setup bytes (the public key).
func BenchmarkQuad(b *testing.B) {
	for _, pBits := range []int{32, 40, 48} {
		for _, deg := range []int{1, 2} {
			b.Run(fmt.Sprintf("pBits=%d/deg=%d", pBits, deg), func(b *testing.B) {
				cl, s := session(b, pBits)
				setup := s.Conn.Stats().Total().BytesRecv
				P := s.P.P()
				n := 2 * s.P.Slots()
				a, bb, c, xs, xc := benchInputs(deg, n, P)
				up0, down0 := s.Conn.Stats().Total().BytesRecv, s.Conn.Stats().Total().BytesSent
				cpu0, _ := cputime.Process()
				start := time.Now()
				for b.Loop() {
					if _, _, errS, errC := run(cl, s, deg, a, bb, c, xs, xc); errS != nil || errC != nil {
						b.Fatal(errS, errC)
					}
				}
				cpu1, _ := cputime.Process()
				wall := time.Since(start)
				elems := float64(b.N * n)
				st := s.Conn.Stats().Total()
				b.ReportMetric(float64(st.BytesRecv-up0)/elems, "up_B/elem")
				b.ReportMetric(float64(st.BytesSent-down0)/elems, "down_B/elem")
				b.ReportMetric(float64(cpu1-cpu0)/float64(time.Millisecond)/elems*1000, "cpu_ms/1k")
				b.ReportMetric(float64(wall)/float64(time.Millisecond)/elems*1000, "wall_ms/1k")
				b.ReportMetric(float64(setup), "setup_B")
			})
		}
	}
}

// BenchmarkOnline measures the offline/online split (2·Slots elements)
// per degree, and for degree 1 with the answer offline too
// (PrecomputeLinear, "deg=1a"): bytes per element each way (up: client →
// server) and the process CPU of both parties per 1,000 elements, of the
// online step and of the offline one.
func BenchmarkOnline(b *testing.B) {
	for _, pBits := range []int{32, 40, 48} {
		for _, mode := range []string{"1", "1a", "2"} {
			deg := int(mode[0] - '0')
			b.Run(fmt.Sprintf("pBits=%d/deg=%s", pBits, mode), func(b *testing.B) {
				cl, s := session(b, pBits)
				P := s.P.P()
				n := 2 * s.P.Slots()
				a, bb, c, xs, xc := benchInputs(deg, n, P)
				var cpu, offCPU time.Duration
				var up, down, offUp, offDown int64
				for b.Loop() {
					st0 := s.Conn.Stats().Total()
					cpu0, _ := cputime.Process()
					done := make(chan error, 1)
					var cm *ClientMask
					var sm *ServerMask
					var err error
					go func() {
						var err error
						if mode == "1a" {
							cm, err = cl.PrecomputeLinear(n)
						} else {
							cm, err = cl.Precompute(deg, n)
						}
						done <- err
					}()
					if mode == "1a" {
						sm, err = s.PrecomputeLinear(bb)
					} else {
						sm, err = s.Precompute(deg, n)
					}
					if err != nil || <-done != nil {
						b.Fatal(err)
					}
					cpu1, _ := cputime.Process()
					st1 := s.Conn.Stats().Total()
					var errC error
					fin := make(chan struct{})
					go func() {
						_, errC = cl.Online(cm, xc)
						close(fin)
					}()
					_, errS := s.Online(sm, a, bb, c, xs)
					<-fin
					if errS != nil || errC != nil {
						b.Fatal(errS, errC)
					}
					cpu2, _ := cputime.Process()
					st2 := s.Conn.Stats().Total()
					offCPU += cpu1 - cpu0
					cpu += cpu2 - cpu1
					offUp += st1.BytesRecv - st0.BytesRecv
					offDown += st1.BytesSent - st0.BytesSent
					up += st2.BytesRecv - st1.BytesRecv
					down += st2.BytesSent - st1.BytesSent
				}
				elems := float64(b.N * n)
				b.ReportMetric(float64(up)/elems, "online_up_B/elem")
				b.ReportMetric(float64(down)/elems, "online_down_B/elem")
				b.ReportMetric(float64(cpu)/float64(time.Millisecond)/elems*1000, "online_cpu_ms/1k")
				b.ReportMetric(float64(offUp)/elems, "offline_up_B/elem")
				b.ReportMetric(float64(offDown)/elems, "offline_down_B/elem")
				b.ReportMetric(float64(offCPU)/float64(time.Millisecond)/elems*1000, "offline_cpu_ms/1k")
			})
		}
	}
}

// benchInputs returns random coefficients (a nil for deg 1) and shares.
func benchInputs(deg, n int, P uint64) (a, b, c, xs, xc []uint64) {
	rng := rand.New(rand.NewPCG(uint64(deg), P))
	if deg == 2 {
		a = randVec(rng, n, P)
	}
	return a, randVec(rng, n, P), randVec(rng, n, P), randVec(rng, n, P), randVec(rng, n, P)
}
