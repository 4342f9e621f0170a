package mpc

import (
	"github.com/autorep/autorep/mpc/dealer"
	"math/big"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// toBig reads a u192 as a signed integer.
func toBig(a u192) *big.Int {
	v := new(big.Int)
	for i := 2; i >= 0; i-- {
		v.Lsh(v, 64)
		v.Or(v, new(big.Int).SetUint64(a[i]))
	}
	if a[2]>>63 == 1 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), 192))
	}
	return v
}

// mod192 reduces v to the signed range of Z_2^192.
func mod192(v *big.Int) *big.Int {
	m := new(big.Int).Lsh(big.NewInt(1), 192)
	h := new(big.Int).Lsh(big.NewInt(1), 191)
	r := new(big.Int).Mod(v, m)
	if r.Cmp(h) >= 0 {
		r.Sub(r, m)
	}
	return r
}

func TestU192Arith(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rnd := func() u192 {
		a := u192{rng.Uint64(), rng.Uint64(), rng.Uint64()}
		switch rng.IntN(4) {
		case 0:
			a[1], a[2] = 0, 0
		case 1:
			a = big64(a[0])
		}
		return a
	}
	for range 20000 {
		a, b := rnd(), rnd()
		A, B := toBig(a), toBig(b)
		d := uint(rng.IntN(192))
		v := rng.Uint64()
		checks := []struct {
			name string
			got  u192
			want *big.Int
		}{
			{"add", a.add(b), mod192(new(big.Int).Add(A, B))},
			{"sub", a.sub(b), mod192(new(big.Int).Sub(A, B))},
			{"neg", a.neg(), mod192(new(big.Int).Neg(A))},
			{"mul", a.mul(b), mod192(new(big.Int).Mul(A, B))},
			{"mul64", a.mul64(v), mod192(new(big.Int).Mul(A, new(big.Int).SetUint64(v)))},
			{"shl", a.shl(d), mod192(new(big.Int).Lsh(A, d))},
			{"sar", a.sar(d), new(big.Int).Rsh(A, d)},
			{"big64", big64(v), big.NewInt(int64(v))},
			{"bigU", bigU(v), new(big.Int).SetUint64(v)},
		}
		for _, c := range checks {
			if toBig(c.got).Cmp(c.want) != 0 {
				t.Fatalf("%s(%x, %x; d=%d, v=%x) = %v, want %v", c.name, a, b, d, v, toBig(c.got), c.want)
			}
		}
	}
}

// msbTruncCheck runs the MSB-trick truncation (both parties' local parts,
// shares and masks as the dealer makes them) on n values drawn by gen and
// returns the number of results one above the floor; it fails the test on
// any other error.
func msbTruncCheck(t *testing.T, seed uint64, n int, shift uint, gen func(*rand.Rand) int64) (up int) {
	rng := rand.New(rand.NewPCG(seed, 7))
	const chunk = 1 << 14
	x, x0, r0, r1, rh0, rh1, m0, m1, xh := make([]uint64, chunk), make([]uint64, chunk), make([]uint64, chunk),
		make([]uint64, chunk), make([]uint64, chunk), make([]uint64, chunk), make([]uint64, chunk), make([]uint64, chunk), make([]uint64, chunk)
	for done := 0; done < n; done += chunk {
		k := min(chunk, n-done)
		for i := range k {
			x[i] = uint64(gen(rng))
			x0[i], r0[i], r1[i], rh0[i], m0[i] = rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64()
			r := r0[i] + r1[i]
			rh1[i], m1[i] = r>>shift-rh0[i], r>>63-m0[i]
			// opening: (x0 + r0 + 2^61) + (x1 + r1)
			xh[i] = x0[i] + r0[i] + msbOffset + (x[i] - x0[i]) + r1[i]
		}
		y0 := truncMSBEval(Server, shift, xh[:k], rh0, m0)
		y1 := truncMSBEval(Client, shift, xh[:k], rh1, m1)
		for i := range k {
			d := y0[i] + y1[i] - uint64(int64(x[i])>>shift)
			switch d {
			case 0:
			case 1:
				up++
			default:
				t.Fatalf("trunc-msb(%d >> %d) off by %d", int64(x[i]), shift, int64(d))
			}
		}
	}
	return up
}

// TestTruncMSB100M runs 10^8 MSB-trick truncations of activations at scale
// 2f = 32 with |real| up to 2^20 (|x| < 2^52) by f = 16 and asserts that
// every result is floor(x/2^16) or one more, and that the one-bit error is
// unbiased (rounds up about half the time for uniform low bits).
func TestTruncMSB100M(t *testing.T) {
	n := 100_000_000
	if testing.Short() {
		n = 2_000_000
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	ups := make([]int, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ups[w] = msbTruncCheck(t, uint64(w), n/workers, 16, func(r *rand.Rand) int64 {
				return r.Int64N(1<<53) - 1<<52
			})
		}()
	}
	wg.Wait()
	up := 0
	for _, u := range ups {
		up += u
	}
	if frac := float64(up) / float64(n/workers*workers); frac < 0.49 || frac > 0.51 {
		t.Errorf("rounded up %.4f of the time, want ≈ 0.5", frac)
	}
}

// TestTruncMSBRange checks the extremes of the documented range |x| < 2^61
// and every shift.
func TestTruncMSBRange(t *testing.T) {
	lim := int64(1)<<61 - 1
	for _, s := range []uint{1, 12, 16, 32, 60, 61} {
		msbTruncCheck(t, uint64(s), 1<<14, s, func(r *rand.Rand) int64 {
			switch r.IntN(4) {
			case 0:
				return lim - r.Int64N(1000)
			case 1:
				return -lim + r.Int64N(1000)
			case 2:
				return r.Int64N(2000) - 1000
			}
			return r.Int64N(2*lim) - lim
		})
	}
}

// polyRefBig is the fixed-point semantics of the polynomial activation:
// floor((C2·z² + 2^f·C1·z + 2^2f·C0) / 2^4f).
func polyRefBig(c0, c1, c2 int64, z int64, f uint) int64 {
	zb := big.NewInt(z)
	p := new(big.Int).Mul(big.NewInt(c2), zb)
	p.Mul(p, zb)
	p.Add(p, new(big.Int).Lsh(new(big.Int).Mul(big.NewInt(c1), zb), f))
	p.Add(p, new(big.Int).Lsh(big.NewInt(c0), 2*f))
	return p.Rsh(p, 4*f).Int64()
}

// TestPolyEvalWide evaluates the polynomial protocol's local part on the
// dealer's real material (no transport) for inputs spread over the whole
// range |z| < 2^61 with coefficients small enough for |p| < 2^40, and for
// realistic activations: results are the reference floor or one more.
func TestPolyEvalWide(t *testing.T) {
	const C, hw = 4, 2048
	var seed ring.Seed
	seed[0] = 5
	d := dealer.NewGenerator(seed)
	spec := corr.ActSpec{N: 1, C: C, HW: hw}
	for _, f := range []uint{12, 16, 20} {
		rng := rand.New(rand.NewPCG(uint64(f), 3))
		// coefficients: realistic DaPa-like ones on channels 0, 1; tiny
		// ones (for huge inputs) on 2, 3.
		coef := []uint64{}
		for c := range 2 {
			cs := [3]float64{0.2 - 0.4*float64(c), 0.5 + 0.1*float64(c), 0.19947 * (1 - 2*float64(c))}
			coef = append(coef, ring.Encode(cs[0], 3*f), ring.Encode(cs[1], 2*f), ring.Encode(cs[2], f))
		}
		// encoded (C0, C1, C2) = (±small, ±small, ±1..3): P stays far
		// below 2^191 even for |z| near 2^61
		coef = append(coef, uint64(12345), uint64(1)<<f, 3, ^uint64(999), ^uint64(6), ^uint64(0))
		k0 := &PolyKey{Label: "p", C: C, coef: coef}
		b := ring.ExpandSeed(d.SessionSeed(KindCoefMask, "p"), coefMaskWords*C).Data
		k0.hat = make([]uint64, coefMaskWords*C)
		for c := range C {
			put3(k0.hat, 2*c, big64(coef[3*c+1]).shl(f).sub(at3(b, 2*c)))
			put3(k0.hat, 2*c+1, big64(coef[3*c+2]).sub(at3(b, 2*c+1)))
		}
		k1 := &PolyKey{Label: "p", C: C, hat: k0.hat}
		z := make([]uint64, C*hw)
		ch := make([]int, C*hw)
		for i := range z {
			ch[i] = i / hw
			if ch[i] < 2 {
				z[i] = uint64(rng.Int64N(1<<(2*f+10)) - 1<<(2*f+9)) // |x| < 2^9
			} else {
				z[i] = uint64(rng.Int64N(1<<62-2) - (1<<61 - 1)) // |z| < 2^61
			}
		}
		m0, m1, err := d.Generate(corr.Request{Kind: KindPoly, Label: "p", Act: spec}, uint64(f))
		if err != nil {
			t.Fatal(err)
		}
		zh := make([]uint64, len(z))
		for i := range z {
			zh[i] = z[i] + m0.Vecs[0].Data[i] + m1.Vecs[0].Data[i] + polyOffset
		}
		y0 := polyEval(Server, k0, f, zh, ch, m0.Vecs[1:])
		y1 := polyEval(Client, k1, f, zh, ch, m1.Vecs[1:])
		for i := range z {
			c := ch[i]
			want := polyRefBig(int64(coef[3*c]), int64(coef[3*c+1]), int64(coef[3*c+2]), int64(z[i]), f)
			if dlt := int64(y0[i]+y1[i]) - want; dlt != 0 && dlt != 1 {
				t.Fatalf("f=%d: poly(z=%d, ch %d) = %d, want %d (+1)", f, int64(z[i]), c, int64(y0[i]+y1[i]), want)
			}
		}
	}
}
