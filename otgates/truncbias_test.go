package otgates

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// errStats is the distribution of a truncation's error, secure value
// minus the exact floor, over many shared inputs.
type errStats struct {
	n      int
	sum    int64
	counts map[int64]int
}

func (e *errStats) add(d int64) {
	if e.counts == nil {
		e.counts = map[int64]int{}
	}
	e.n++
	e.sum += d
	e.counts[d]++
}

func (e *errStats) mean() float64 { return float64(e.sum) / float64(e.n) }

func (e *errStats) String() string {
	keys := make([]int64, 0, len(e.counts))
	for k := range e.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "mean %+.4f over %d:", e.mean(), e.n)
	for _, k := range keys {
		fmt.Fprintf(&b, " %+d: %.4f", k, float64(e.counts[k])/float64(e.n))
	}
	return b.String()
}

// activationInputs returns n signed values of an activation's input at 2f
// fractional bits: |x| < 2^(2f+4) (|value| < 16), uniform, so the low bits
// a truncation by f drops are uniform too.
func activationInputs(rng *rand.Rand, n, ell, f int) []uint64 {
	lim := int64(1) << uint(2*f+4)
	x := make([]uint64, n)
	for i := range x {
		x[i] = uint64(rng.Int64N(2*lim)-lim) & mask(ell)
	}
	return x
}

// hesimdPrimes are the plaintext moduli hesimd.NewParams gives at 33 and
// 36 bits (the largest primes ≡ 1 mod 2^14 below 2^33 and 2^36), the
// PolyHE form's P at f = 9 and f = 10 (--pbits 33, 36); otgates may not
// import hesimd, so they are spelt out (P mod 2^18 = 180,225 and P mod
// 2^20 = 802,817: the dropped remainders FromPrimeTrunc's bias depends on).
var hesimdPrimes = map[int]uint64{33: 8589852673, 36: 68719230977}

// truncErrors measures, at share width ℓ and shift s, the error of each
// one-unit truncation gate against the exact floor on n activation-like
// inputs (activationInputs) with uniform random shares: Trunc, TruncNonNeg
// (on |x|), ReLUTrunc (on x ≥ 0; x < 0 must give 0), ToPrimeTrunc (mod P)
// and FromPrimeTrunc by 2s from mod P (inputs at 3s bits).
func truncErrors(t *testing.T, p0, p1 *Party, rng *rand.Rand, n, ell, s int, P uint64) map[string]*errStats {
	t.Helper()
	m := mask(ell)
	out := map[string]*errStats{}
	x := activationInputs(rng, n, ell, s)
	x0, x1 := share(rng, x, ell)
	floor := func(v uint64, sh int) int64 { return signed(v, ell) >> uint(sh) }

	z0, z1 := run(t, p0, p1, func(p *Party) ([]uint64, error) { return p.Trunc([][]uint64{x0, x1}[p.ID], ell, s) })
	st := &errStats{}
	for i, v := range x {
		st.add(signed((z0[i]+z1[i])&m, ell) - floor(v, s))
	}
	out["Trunc"] = st

	z0, z1 = run(t, p0, p1, func(p *Party) ([]uint64, error) { return p.ReLUTrunc([][]uint64{x0, x1}[p.ID], ell, s) })
	st = &errStats{}
	for i, v := range x {
		got := signed((z0[i]+z1[i])&m, ell)
		if signed(v, ell) < 0 {
			if got != 0 {
				t.Fatalf("ReLUTrunc ℓ=%d s=%d: x = %d < 0 gave %d", ell, s, signed(v, ell), got)
			}
			continue
		}
		st.add(got - floor(v, s))
	}
	out["ReLUTrunc"] = st

	nn := make([]uint64, n) // |x|, in [0, 2^(ℓ−1))
	for i, v := range x {
		nn[i] = uint64(max(signed(v, ell), -signed(v, ell))) & m
	}
	n0, n1 := share(rng, nn, ell)
	z0, z1 = run(t, p0, p1, func(p *Party) ([]uint64, error) { return p.TruncNonNeg([][]uint64{n0, n1}[p.ID], ell, s) })
	st = &errStats{}
	for i, v := range nn {
		st.add(signed((z0[i]+z1[i])&m, ell) - floor(v, s))
	}
	out["TruncNonNeg"] = st

	z0, z1 = run(t, p0, p1, func(p *Party) ([]uint64, error) { return p.ToPrimeTrunc([][]uint64{x0, x1}[p.ID], ell, s, P) })
	st = &errStats{}
	for i, v := range x {
		got := int64((z0[i] + z1[i]) % P)
		if got > int64(P/2) {
			got -= int64(P)
		}
		st.add(got - floor(v, s))
	}
	out["ToPrimeTrunc"] = st

	// FromPrimeTrunc by 2s: a polynomial's value at 3s fractional bits,
	// |y| < 2^(3s+2) (|value| < 4).
	out["FromPrimeTrunc"] = fromPrimeErrors(t, p0, p1, rng, n, ell, 2*s, 3*s+2, P)
	return out
}

// fromPrimeErrors measures FromPrimeTrunc by s from mod P to ℓ bits on n
// uniform |y| < 2^yBits with uniform shares mod P.
func fromPrimeErrors(t *testing.T, p0, p1 *Party, rng *rand.Rand, n, ell, s, yBits int, P uint64) *errStats {
	t.Helper()
	lim := int64(1) << uint(yBits)
	y := make([]int64, n)
	y0, y1 := make([]uint64, n), make([]uint64, n)
	for i := range y {
		y[i] = rng.Int64N(2*lim) - lim
		y0[i] = rng.Uint64N(P)
		y1[i] = (residue(y[i], P) + P - y0[i]) % P
	}
	z0, z1 := run(t, p0, p1, func(p *Party) ([]uint64, error) {
		return p.FromPrimeTrunc([][]uint64{y0, y1}[p.ID], P, ell, s)
	})
	st := &errStats{}
	for i, v := range y {
		st.add(signed((z0[i]+z1[i])&mask(ell), ell) - v>>uint(s))
	}
	return st
}

// checkCentred fails unless every error of st is within one unit and its
// mean is 2^−(s+1) (the centred truncations' mean against the floor) up
// to slack plus 0.025 (five standard errors at 2^14 samples).
func checkCentred(t *testing.T, what string, st *errStats, s int, slack float64) {
	t.Helper()
	for d := range st.counts {
		if d < -1 || d > 1 {
			t.Errorf("%s: error %+d units (%v)", what, d, st)
		}
	}
	if want := math.Ldexp(1, -(s + 1)); math.Abs(st.mean()-want) > slack+0.025 {
		t.Errorf("%s: mean error %+.4f units, want %.4f ± %.3f (%v)", what, st.mean(), want, slack+0.025, st)
	}
}

// TestTruncErrorDistribution measures the one-unit truncations' error
// against the exact floor at the twoparty suite's widths in use (ℓ = 30,
// f = 9, P of 33 bits; ℓ = 32, f = 10, P of 36 bits) on activation-like
// inputs with uniform shares, logs its mean and distribution, and requires
// the centred ones' mean: within 0.03 unit of 0 (it was −0.5 for all but
// FromPrimeTrunc before issue 15's centring).
func TestTruncErrorDistribution(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(15, 15))
	const n = 1 << 14
	for _, c := range []struct{ ell, f, pBits int }{{30, 9, 33}, {32, 10, 36}, {32, 9, 33}} {
		res := truncErrors(t, p0, p1, rng, n, c.ell, c.f, hesimdPrimes[c.pBits])
		for _, g := range []string{"Trunc", "TruncNonNeg", "ReLUTrunc", "ToPrimeTrunc", "FromPrimeTrunc"} {
			t.Logf("ℓ=%d f=%d P %d bits: %-14s %v", c.ell, c.f, c.pBits, g, res[g])
			s := c.f
			if g == "FromPrimeTrunc" {
				s = 2 * c.f
			}
			checkCentred(t, fmt.Sprintf("%s ℓ=%d s=%d", g, c.ell, s), res[g], s, 0)
		}
	}
}

// TestFromPrimeTruncMean: FromPrimeTrunc's offset centres it for primes
// whose P mod 2^s lies anywhere in [0, 2^s) (the largest primes below and
// the smallest above powers of two, both sides of 2^(s−1)), at large and
// small shifts, within one unit; the mean's slack is the offset's rounding
// (2^−(s+1)) and the wrap probability's dependence on y (|y|/(2P), 2^−6
// here at most).
func TestFromPrimeTruncMean(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(15, 16))
	for _, P := range []uint64{primeBelow(40), smallestPrimeAbove(39), primeBelow(29), smallestPrimeAbove(30), 8589852673} {
		for _, s := range []int{3, 5, 12, 20} {
			if uint64(1)<<uint(s+5) >= P/4 {
				continue
			}
			st := fromPrimeErrors(t, p0, p1, rng, 1<<14, 32, s, bits.Len64(P)-6, P)
			rho := int64(P%(1<<uint(s))) - int64(P%(1<<uint(s))>>uint(s-1))<<uint(s)
			t.Logf("P=%d (ρ = %d of 2^%d) s=%d: %v", P, rho, s, s, st)
			checkCentred(t, fmt.Sprintf("FromPrimeTrunc P=%d s=%d", P, s), st, s, math.Ldexp(1, -(s+1))+1.0/64)
		}
	}
}
