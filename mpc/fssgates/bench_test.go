package fssgates_test

import (
	"context"
	"testing"

	"github.com/autorep/autorep/internal/cputime"
	"github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/ring"
)

// BenchmarkGenerateReLU measures the dealer's generation of a 2^17-key
// ReLU request (ℓ = 64, about 270 MB of keys per party) under a live
// context, each material released after it (as the dealer does once it
// has sent it), so that the keys' memory is reused from one request to
// the next as in a serving dealer.
func BenchmarkGenerateReLU(b *testing.B) {
	const n = 1 << 17
	d := dealer.NewGenerator(ring.Seed{3})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := fssgates.GateRequest(fssgates.KindReLU, "r", n, 0, 0)
	u0 := cputime.Seconds()
	i := uint64(0)
	for b.Loop() {
		m0, m1, err := d.GenerateContext(ctx, req, i)
		if err != nil {
			b.Fatal(err)
		}
		m0.Release()
		m1.Release()
		i++
	}
	b.ReportMetric(float64(int(i)*n)/b.Elapsed().Seconds(), "keys/s")
	if cpu := cputime.Seconds() - u0; cpu > 0 {
		b.ReportMetric(float64(int(i)*n)/cpu, "keys/cpu-s")
	}
}
