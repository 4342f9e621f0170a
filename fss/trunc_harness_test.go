package fss

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// truncN is the number of truncations per variant in TestTruncHarness:
// $AUTOREP_TRUNC_N, default 250,000 (about 3 s of CPU: each element is a
// full key generation and two evaluations, ≈5 µs). The recorded long run
// (docs/BENCHMARKS.md, "## FSS") uses 10^8.
func truncN(t *testing.T) int {
	n := 250_000
	if s := os.Getenv("AUTOREP_TRUNC_N"); s != "" {
		v, err := strconv.ParseFloat(s, 64) // accepts 1e8
		if err != nil || v < 1 || v > 1e12 {
			t.Fatalf("AUTOREP_TRUNC_N=%q: want a positive count", s)
		}
		n = int(v)
	}
	if testing.Short() {
		n = min(n, 50_000)
	}
	return n
}

// fixedProducts fills x with products of two fixed-point numbers with 16
// fractional bits (so 32 fractional bits), |value| ≤ 2^20 real, i.e.
// |x| ≤ 2^52: each factor has a log-uniform magnitude in [2^-8, 2^10] and a
// random sign. The first values of the stream are edge cases.
func fixedProducts(r *rand.Rand, x []uint64, first bool) {
	i := 0
	if first {
		edges := []int64{0, 1, -1, 1 << 16, -1 << 16, 1<<16 - 1, -(1<<16 - 1), 1<<16 + 1, -(1<<16 + 1),
			1 << 52, -1 << 52, 1<<52 - 1, -(1<<52 - 1), 1 << 32, -1 << 32}
		for ; i < len(edges) && i < len(x); i++ {
			x[i] = uint64(edges[i])
		}
	}
	for ; i < len(x); i++ {
		f := func() int64 {
			v := math.Exp2(-8 + 18*r.Float64())
			if r.IntN(2) == 0 {
				v = -v
			}
			return int64(math.Round(v * 65536))
		}
		x[i] = uint64(f() * f())
	}
}

// TestTruncHarness runs N random truncations by 16 bits of fixed-point
// products (see fixedProducts) through full FSS key generation and both
// parties' evaluation, for the exact and the one-bit gate at ℓ = 64 and
// the exact gate at ℓ = 54 (the smallest width holding |x| ≤ 2^52), and
// the fused ReLU-then-truncate gate at ℓ = 64, and asserts that no result
// is off by more than one unit in the last place (and that the exact gate
// is never off at all, nor the fused gate for x ≤ 0).
func TestTruncHarness(t *testing.T) {
	n := truncN(t)
	const s, chunk = 16, 8192
	prg := testPRG(200)
	cases := []struct {
		ell          int
		exact, fused bool
		n            int
	}{{64, true, false, n}, {64, false, false, n}, {54, true, false, max(n/4, 1)}, {64, false, true, max(n/4, 1)}}
	for _, c := range cases {
		r := rand.New(rand.NewPCG(uint64(c.ell), 9))
		x := make([]uint64, chunk)
		xhat := make([]uint64, chunk)
		var off1, maxErr int64
		for done := 0; done < c.n; done += chunk {
			m := min(chunk, c.n-done)
			x, xhat := x[:m], xhat[:m]
			fixedProducts(r, x, done == 0)
			rIn := prg.Rand(m).Data
			var k0, k1 *Keys
			var err error
			if c.fused {
				k0, k1, err = GenReLUTrunc(prg, rIn, c.ell, s)
			} else {
				k0, k1, err = GenTrunc(prg, rIn, c.ell, s, c.exact)
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range x {
				xhat[i] = x[i] + rIn[i]
			}
			y0, err := Eval(0, k0, xhat)
			if err != nil {
				t.Fatal(err)
			}
			y1, err := Eval(1, k1, xhat)
			if err != nil {
				t.Fatal(err)
			}
			for i := range x {
				v := int64(x[i])
				if c.fused {
					v = max(v, 0)
				}
				d := int64(y0[i]+y1[i]) - v>>s
				if d < 0 || d > 1 || c.exact && d != 0 || c.fused && v == 0 && d != 0 {
					t.Fatalf("ℓ=%d exact=%v fused=%v: %d >> %d = %d (error %d)", c.ell, c.exact, c.fused, int64(x[i]), s, int64(y0[i]+y1[i]), d)
				}
				off1 += d
				maxErr = max(maxErr, d)
			}
			if next := done + m; next%5_000_000 < chunk && next >= 5_000_000 {
				t.Logf("ℓ=%d exact=%v fused=%v: %d done, max error so far %d", c.ell, c.exact, c.fused, next, maxErr)
			}
		}
		t.Logf("ℓ=%d s=%d exact=%v fused ReLU=%v: %d truncations, max error %d ulp, %d results one ulp up (%.4f)",
			c.ell, s, c.exact, c.fused, c.n, maxErr, off1, float64(off1)/float64(c.n))
	}
}
