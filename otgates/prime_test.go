package otgates

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

// primeBelow returns the largest prime below 2^k (odd, k ≥ 2).
func primeBelow(k int) uint64 {
	q := uint64(1)<<uint(k) - 1
	for !new(big.Int).SetUint64(q).ProbablyPrime(20) {
		q -= 2
	}
	return q
}

// smallestPrimeAbove returns the smallest prime above 2^k.
func smallestPrimeAbove(k int) uint64 {
	q := uint64(1)<<uint(k) + 1
	for !new(big.Int).SetUint64(q).ProbablyPrime(20) {
		q += 2
	}
	return q
}

// residue is v mod P for signed v.
func residue(v int64, P uint64) uint64 {
	r := v % int64(P)
	if r < 0 {
		r += int64(P)
	}
	return uint64(r)
}

// TestToPrime: shares mod 2^ℓ of x become shares mod P of ⌊(x +
// 2^(s−1))/2^s⌋ − e, e ∈ {0, 1} (x itself for s = 0), for edge and random x with |x| < 2^(ℓ−2),
// over widths, shifts and moduli of both sides of 2^ℓ (the identity holds
// for any P; P > 2^(ℓ−1−s) makes it a signed value).
func TestToPrime(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(15, 1))
	type tc struct{ ell, s, pBits, n int }
	cases := []tc{{40, 12, 47, 100000}, {40, 0, 47, 100000}}
	for _, ell := range []int{2, 3, 8, 17, 32, 51, 64} {
		for _, s := range []int{0, min(1, ell-2), min(12, ell-2), ell - 2} {
			for _, pb := range []int{2, 20, ell - s + 1, 62} {
				if pb >= 2 && pb <= 62 {
					cases = append(cases, tc{ell, s, pb, 2000})
				}
			}
		}
	}
	for _, c := range cases {
		P := primeBelow(c.pBits)
		lo, hi := quarterRange(c.ell)
		x := inputs(rng, c.n, c.ell, lo, hi)
		x0, x1 := share(rng, x, c.ell)
		z0, z1 := run(t, p0, p1, func(p *Party) ([]uint64, error) {
			return p.ToPrimeTrunc([][]uint64{x0, x1}[p.ID], c.ell, c.s, P)
		})
		for i, v := range x {
			if z0[i] >= P || z1[i] >= P {
				t.Fatalf("ℓ=%d s=%d P=%d: shares %d, %d not reduced", c.ell, c.s, P, z0[i], z1[i])
			}
			want := centred(signed(v, c.ell), c.s)
			got := (z0[i] + z1[i]) % P
			if got != residue(want, P) && (c.s == 0 || got != residue(want-1, P)) {
				t.Fatalf("ℓ=%d s=%d P=%d: x = %d gave %d mod P, want %d (or one less)", c.ell, c.s, P, signed(v, c.ell), got, residue(want, P))
			}
		}
	}
	// ToPrime is the s = 0 case.
	P := smallestPrimeAbove(39)
	x := inputs(rng, 1000, 40, -(1 << 38), 1<<38)
	x0, x1 := share(rng, x, 40)
	z0, z1 := run(t, p0, p1, func(p *Party) ([]uint64, error) { return p.ToPrime([][]uint64{x0, x1}[p.ID], 40, P) })
	for i, v := range x {
		if got, want := (z0[i]+z1[i])%P, residue(signed(v, 40), P); got != want {
			t.Fatalf("ToPrime(%d) = %d mod P, want %d", signed(v, 40), got, want)
		}
	}
}

// TestFromPrime: shares mod P of y, |y| < P/4, become shares mod 2^ℓ of y
// exactly, for edge values, edge shares (0, P−1, around P/2) and random
// ones.
func TestFromPrime(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(15, 2))
	type tc struct{ pBits, ell, n int }
	cases := []tc{{47, 51, 100000}, {47, 64, 100000}}
	for _, pb := range []int{2, 3, 13, 32, 47, 62} {
		for _, ell := range []int{1, 8, pb, pb + 2, 64} {
			if ell <= 64 {
				cases = append(cases, tc{pb, ell, 2000})
			}
		}
	}
	for _, c := range cases {
		P := primeBelow(c.pBits)
		lim := int64(P / 4) // |y| ≤ ⌊P/4⌋ < P/4 (P odd)
		edges := []int64{0, 1, -1, lim, -lim, lim - 1, -lim + 1}
		shares := []uint64{0, 1, P - 1, (P - 1) / 2, (P + 1) / 2, P / 4, P - P/4}
		var y []int64
		var y0, y1 []uint64
		add := func(v int64, s uint64) {
			y = append(y, v)
			y0 = append(y0, s)
			y1 = append(y1, (residue(v, P)+P-s)%P)
		}
		for _, v := range edges {
			if v >= -lim && v <= lim {
				for _, s := range shares {
					add(v, s)
				}
			}
		}
		for len(y) < c.n {
			add(rng.Int64N(2*lim+1)-lim, rng.Uint64N(P))
		}
		z0, z1 := run(t, p0, p1, func(p *Party) ([]uint64, error) {
			return p.FromPrime([][]uint64{y0, y1}[p.ID], P, c.ell)
		})
		for i, v := range y {
			if got, want := (z0[i]+z1[i])&mask(c.ell), uint64(v)&mask(c.ell); got != want {
				t.Fatalf("P=%d ℓ=%d: y = %d (shares %d, %d) gave %d, want %d", P, c.ell, v, y0[i], y1[i], got, want)
			}
			if z0[i] > mask(c.ell) || z1[i] > mask(c.ell) {
				t.Fatalf("P=%d ℓ=%d: output shares above 2^ℓ", P, c.ell)
			}
		}
	}
}

// TestFromPrimeTrunc: shares mod P of y, |y| < P/4 − 2^s, become shares
// mod 2^ℓ of ⌊y/2^s⌋ up to one unit either way, for edge and random y and
// edge shares; an error of 2 units or a wrong sign fails.
func TestFromPrimeTrunc(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(15, 5))
	type tc struct{ pBits, ell, s, n int }
	cases := []tc{{46, 40, 24, 100000}}
	for _, pb := range []int{8, 32, 47, 62} {
		for _, s := range []int{1, 3, pb - 5} {
			for _, ell := range []int{pb - s - 1, 40, 64} {
				if s >= 1 && ell >= 2 && ell >= pb-s-1 { // |⌊y/2^s⌋| < 2^(pb−2−s) fits ℓ

					cases = append(cases, tc{pb, ell, s, 2000})
				}
			}
		}
	}
	for _, c := range cases {
		P := primeBelow(c.pBits)
		lim := int64(P/4) - int64(1)<<uint(c.s) // |y| ≤ lim < P/4 − 2^s
		var y []int64
		var y0, y1 []uint64
		add := func(v int64, sh uint64) {
			y = append(y, v)
			y0 = append(y0, sh)
			y1 = append(y1, (residue(v, P)+P-sh)%P)
		}
		for _, v := range []int64{0, 1, -1, lim, -lim, int64(1) << uint(c.s), -(int64(1) << uint(c.s))} {
			for _, sh := range []uint64{0, 1, P - 1, (P - 1) / 2, (P + 1) / 2} {
				add(v, sh)
			}
		}
		for len(y) < c.n {
			add(rng.Int64N(2*lim+1)-lim, rng.Uint64N(P))
		}
		z0, z1 := run(t, p0, p1, func(p *Party) ([]uint64, error) {
			return p.FromPrimeTrunc([][]uint64{y0, y1}[p.ID], P, c.ell, c.s)
		})
		for i, v := range y {
			want := v >> uint(c.s)
			got := signed((z0[i]+z1[i])&mask(c.ell), c.ell)
			if d := got - want; d < -1 || d > 1 {
				t.Fatalf("P=%d ℓ=%d s=%d: y = %d (shares %d, %d) gave %d, want %d ± 1", P, c.ell, c.s, v, y0[i], y1[i], got, want)
			}
		}
	}
	if _, err := p0.FromPrimeTrunc([]uint64{1}, primeBelow(20), 32, 18); err == nil {
		t.Error("FromPrimeTrunc accepted 2^s ≥ P/4")
	}
}

// TestPrimeRoundTrip: ToPrime then FromPrime returns the input (s = 0),
// the composition the two-party suite's polynomial path uses.
func TestPrimeRoundTrip(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(15, 3))
	P := primeBelow(45)
	x := inputs(rng, 5000, 40, -(1 << 38), 1<<38)
	x0, x1 := share(rng, x, 40)
	z0, z1 := run(t, p0, p1, func(p *Party) ([]uint64, error) {
		y, err := p.ToPrime([][]uint64{x0, x1}[p.ID], 40, P)
		if err != nil {
			return nil, err
		}
		return p.FromPrime(y, P, 40)
	})
	checkExact(t, "round trip", x, z0, z1, 40, 0)
}

func TestPrimeBadInputs(t *testing.T) {
	p0, p1 := parties(t)
	P := primeBelow(31)
	for _, bad := range []uint64{0, 1, 2, 1 << 40, 1 << 62, 1<<63 + 1} {
		if _, err := p0.ToPrime([]uint64{1}, 32, bad); err == nil {
			t.Errorf("ToPrime accepted modulus %d", bad)
		}
		if _, err := p0.FromPrime([]uint64{1}, bad, 32); err == nil {
			t.Errorf("FromPrime accepted modulus %d", bad)
		}
	}
	if _, err := p0.ToPrimeTrunc([]uint64{1}, 32, 31, P); err == nil {
		t.Error("ToPrimeTrunc accepted s = ℓ−1")
	}
	if _, err := p0.ToPrime([]uint64{1}, 65, P); err == nil {
		t.Error("ToPrime accepted ℓ = 65")
	}
	if _, err := p0.FromPrime([]uint64{1}, P, 0); err == nil {
		t.Error("FromPrime accepted ℓ = 0")
	}
	if _, err := p0.bitProductMod([]uint8{2}, P); err == nil {
		t.Error("bitProductMod accepted a non-bit")
	}
	r0, r1 := run(t, p0, p1, func(p *Party) ([]uint64, error) { return p.ToPrime(nil, 32, P) })
	if len(r0) != 0 || len(r1) != 0 {
		t.Fatal("ToPrime of nothing returned something")
	}
}

// TestPrimeMalformed: a correction message of the wrong length or with a
// value not below P is an error for the receiver, not a wrong share or a
// panic.
func TestPrimeMalformed(t *testing.T) {
	P := primeBelow(31)
	w := 31
	for name, msg := range map[string][]byte{
		"short":     make([]byte, (4*w+7)/8-1),
		"long":      make([]byte, (4*w+7)/8+1),
		"not mod P": packUints([]uint64{0, 0, 1<<31 - 1, 0}, w),
		"empty":     nil,
	} {
		p0, p1 := parties(t)
		done := make(chan error, 1)
		go func() {
			if _, _, err := p0.OT.MulSend.ROT(4); err != nil {
				done <- err
				return
			}
			done <- p0.Conn.Send(msg)
		}()
		_, err := p1.ToPrime([]uint64{1, 2, 3, 4}, 32, P)
		if e := <-done; e != nil {
			t.Fatal(e)
		}
		if err == nil {
			t.Errorf("%s: ToPrime accepted a malformed correction", name)
		}
	}
}

func TestPackUints(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 4))
	for _, w := range []int{1, 7, 8, 13, 47, 63, 64} {
		v := make([]uint64, 37)
		for i := range v {
			v[i] = rng.Uint64() & (^uint64(0) >> uint(64-w))
		}
		got, err := unpackUints(packUints(v, w), len(v), w)
		if err != nil {
			t.Fatal(err)
		}
		for i := range v {
			if got[i] != v[i] {
				t.Fatalf("w=%d: value %d: %x, want %x", w, i, got[i], v[i])
			}
		}
	}
}

// TestConvSplit: the split gates (ToPrimeTruncSplit, FromPrimeTruncSplit,
// TruncSplit: the bit product's two messages left to the caller) give the
// values their gates give, on edge and random inputs; First sends from
// party 1 only and Second from party 0 only, one message each (so pi can
// put them in another gate's rounds), with their COTs made ahead too
// (PrimeCOTs and TruncCOTs, none left); steps out of order are errors.
func TestConvSplit(t *testing.T) {
	for _, ahead := range []bool{false, true} {
		testConvSplit(t, ahead)
	}
}

func testConvSplit(t *testing.T, ahead bool) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(15, 7))
	const ell, s = 32, 10
	P := primeBelow(36)
	lo, hi := quarterRange(ell)
	x := append(inputs(rng, 20000, ell, lo, hi), 0, 1, mask(ell), uint64(hi-1), uint64(lo)&mask(ell))
	x0, x1 := share(rng, x, ell)
	lim := int64(P/4) - 1<<(2*s)
	var y []int64
	var y0, y1 []uint64
	for len(y) < len(x) {
		v := rng.Int64N(2*lim+1) - lim
		if len(y) < 4 {
			v = []int64{0, -1, lim, -lim}[len(y)]
		}
		sh := rng.Uint64N(P)
		y, y0, y1 = append(y, v), append(y0, sh), append(y1, (residue(v, P)+P-sh)%P)
	}
	n := len(x)
	if ahead {
		run(t, p0, p1, func(p *Party) (struct{}, error) { return struct{}{}, p.MakeCOTs(PrimeCOTs(2 * n).Add(TruncCOTs(n, s))) })
	}
	// Each gate, run as First / Second / Result, checking who sends.
	split := func(mk func(p *Party) (*Conv, error), in [2][]uint64) (z0, z1 []uint64) {
		var c [2]*Conv
		run(t, p0, p1, func(p *Party) (struct{}, error) { var err error; c[p.ID], err = mk(p); return struct{}{}, err })
		for step, from := range []int{1, 0} {
			before := [2]int64{p0.Conn.Stats().Total().MsgsSent, p1.Conn.Stats().Total().MsgsSent}
			run(t, p0, p1, func(p *Party) (struct{}, error) {
				if step == 0 {
					return struct{}{}, c[p.ID].First([][]uint64{nil, in[1]}[p.ID])
				}
				return struct{}{}, c[p.ID].Second([][]uint64{in[0], nil}[p.ID])
			})
			sent := [2]int64{p0.Conn.Stats().Total().MsgsSent - before[0], p1.Conn.Stats().Total().MsgsSent - before[1]}
			if sent[from] != 1 || sent[1-from] != 0 {
				t.Fatalf("step %d: messages sent %v, want one from party %d only", step+1, sent, from)
			}
		}
		if err := c[0].First(nil); err == nil {
			t.Error("First after Second accepted")
		}
		return run(t, p0, p1, func(p *Party) ([]uint64, error) { return c[p.ID].Result() })
	}
	z0, z1 := split(func(p *Party) (*Conv, error) { return p.ToPrimeTruncSplit(n, ell, s, P) }, [2][]uint64{x0, x1})
	for i, v := range x {
		want := centred(signed(v, ell), s)
		if got := (z0[i] + z1[i]) % P; got != residue(want, P) && got != residue(want-1, P) {
			t.Fatalf("ToPrimeTruncSplit: x = %d gave %d mod P, want %d or one less", signed(v, ell), got, residue(want, P))
		}
	}
	z0, z1 = split(func(p *Party) (*Conv, error) { return p.TruncSplit(n, ell, s) }, [2][]uint64{x0, x1})
	for i, v := range x {
		want := centred(signed(v, ell), s)
		if got := signed((z0[i]+z1[i])&mask(ell), ell); got != want && got != want-1 {
			t.Fatalf("TruncSplit: x = %d gave %d, want %d or one less", signed(v, ell), got, want)
		}
	}
	z0, z1 = split(func(p *Party) (*Conv, error) { return p.FromPrimeTruncSplit(n, P, ell, 2*s) }, [2][]uint64{y0, y1})
	for i, v := range y {
		if d := signed((z0[i]+z1[i])&mask(ell), ell) - v>>(2*s); d < -1 || d > 1 {
			t.Fatalf("FromPrimeTruncSplit: y = %d gave an error of %d", v, d)
		}
	}
	if ahead {
		for id, q := range []*Party{p0, p1} {
			if l := q.COTsLeft(); l.Total() != 0 {
				t.Errorf("party %d: %v COTs left", id, l)
			}
		}
	}
}
