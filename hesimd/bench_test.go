package hesimd

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/autorep/autorep/internal/cputime"
	"github.com/autorep/autorep/transport"
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
				rng := rand.New(rand.NewPCG(1, uint64(pBits)))
				var a []uint64
				if deg == 2 {
					a = randVec(rng, n, P)
				}
				bb, c, xs, xc := randVec(rng, n, P), randVec(rng, n, P), randVec(rng, n, P), randVec(rng, n, P)
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

var _ transport.Conn // session's connection type
