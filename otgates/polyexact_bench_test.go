package otgates

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkPolyExactParts reports the traffic per element (both
// directions, party 0's count) of the exact polynomial gates and of their
// parts at the twoparty suite's ResNet-20 width (ℓ = 51, f = 20), beside
// the ReLU's parts, to show where a polynomial position's bytes go:
//
//	go test ./otgates -run '^$' -bench PolyExactParts -benchtime 1x
func BenchmarkPolyExactParts(b *testing.B) {
	p0, p1 := parties(b)
	rng := rand.New(rand.NewPCG(9, 9))
	const ell, f, n = 51, 20, 4096
	x := inputs(rng, n, ell, -(1 << 14), 1<<14)
	x0, x1 := share(rng, x, ell)
	xs := [][]uint64{x0, x1}
	coef := make([]uint64, n)
	for i := range coef {
		coef[i] = 1 << (f - 1) // 0.5
	}
	mine := func(p *Party) []uint64 {
		if p.ID == 0 {
			return coef
		}
		return nil
	}
	for _, tc := range []struct {
		name string
		fn   func(p *Party) ([]uint64, error)
	}{
		{"TruncExact", func(p *Party) ([]uint64, error) { return p.TruncExact(xs[p.ID], ell, f) }},
		{"DReLU_l-f", func(p *Party) ([]uint64, error) { _, err := p.DReLU(xs[p.ID], ell-f); return nil, err }},
		{"Square", func(p *Party) ([]uint64, error) { return p.Square(xs[p.ID], ell) }},
		{"Poly1Exact", func(p *Party) ([]uint64, error) { return p.Poly1Exact(mine(p), mine(p), xs[p.ID], ell, f) }},
		{"Poly2Exact", func(p *Party) ([]uint64, error) {
			return p.Poly2Exact(mine(p), mine(p), mine(p), xs[p.ID], ell, f)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var bytes, rounds int64
			for b.Loop() {
				p0.Conn.Stats().Reset()
				run(b, p0, p1, tc.fn)
				tot := p0.Conn.Stats().Total()
				bytes, rounds = tot.Bytes(), tot.Rounds
			}
			b.ReportMetric(float64(bytes)/n, "B/elem")
			b.ReportMetric(float64(rounds), "rounds")
		})
	}
}
