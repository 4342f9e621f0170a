package otgates

import (
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/transport"
)

// parties sets up the two parties over an in-memory pipe.
func parties(t testing.TB) (*Party, *Party) {
	t.Helper()
	c0, c1 := transport.Pipe()
	return partiesOver(t, c0, c1)
}

// partiesOver sets up the two parties over the two ends c0, c1.
func partiesOver(t testing.TB, c0, c1 transport.Conn) (*Party, *Party) {
	t.Helper()
	var p0, p1 *Party
	errs := make(chan error, 1)
	go func() { var err error; p1, err = New(c1, 1); errs <- err }()
	p0, err := New(c0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	return p0, p1
}

// run calls f for both parties concurrently and returns their results.
func run[T any](t testing.TB, p0, p1 *Party, f func(p *Party) (T, error)) (T, T) {
	t.Helper()
	var r1 T
	errs := make(chan error, 1)
	go func() { var err error; r1, err = f(p1); errs <- err }()
	r0, err := f(p0)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	return r0, r1
}

func signed(v uint64, ell int) int64 {
	return int64(v<<uint(64-ell)) >> uint(64-ell)
}

// inputs returns n values in the signed range [lo, hi) of ℓ bits (as
// ℓ-bit words), the edge values of that range first.
func inputs(rng *rand.Rand, n, ell int, lo, hi int64) []uint64 {
	m := mask(ell)
	in := func(e int64) bool { return lo == hi || e >= lo && e < hi } // lo == hi: the whole 64-bit range
	var x []uint64
	for _, e := range []int64{0, 1, -1, 2, -2, lo, lo + 1, hi - 1, hi - 2} {
		if in(e) {
			x = append(x, uint64(e)&m)
		}
	}
	if ell >= 3 {
		q := int64(1) << uint(ell-2)
		for _, e := range []int64{q, -q, q - 1, -q + 1} {
			if in(e) {
				x = append(x, uint64(e)&m)
			}
		}
	}
	span := uint64(hi - lo)
	for len(x) < n {
		var r uint64
		if span == 0 { // the whole 64-bit range
			r = rng.Uint64()
		} else {
			r = rng.Uint64N(span)
		}
		x = append(x, (uint64(lo)+r)&m)
	}
	return x
}

func fullRange(ell int) (int64, int64) {
	if ell == 64 {
		return -1 << 63, -1 << 63 // span 0: the whole range
	}
	return -(int64(1) << uint(ell-1)), int64(1) << uint(ell-1)
}

func quarterRange(ell int) (int64, int64) {
	return -(int64(1) << uint(ell-2)), int64(1) << uint(ell-2)
}

func share(rng *rand.Rand, x []uint64, ell int) ([]uint64, []uint64) {
	a, b := make([]uint64, len(x)), make([]uint64, len(x))
	for i, v := range x {
		a[i] = rng.Uint64() & mask(ell)
		b[i] = (v - a[i]) & mask(ell)
	}
	return a, b
}

var ells = []int{2, 3, 8, 17, 32, 37, 63, 64}

const nTest = 600

func TestLessThan(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, bits := range []int{1, 3, 4, 5, 8, 9, 31, 32, 63, 64} {
		a, b := make([]uint64, nTest), make([]uint64, nTest)
		for i := range a {
			a[i], b[i] = rng.Uint64()&mask(bits), rng.Uint64()&mask(bits)
			if i%3 == 0 { // many ties and near-ties
				b[i] = (a[i] + uint64(i%5) - 2) & mask(bits)
			}
		}
		a[0], b[0] = 0, mask(bits)
		a[1], b[1] = mask(bits), 0
		r0, r1 := run(t, p0, p1, func(p *Party) ([]uint8, error) {
			if p.ID == 0 {
				return p.LessThan(a, bits)
			}
			return p.LessThan(b, bits)
		})
		for i := range a {
			want := uint8(0)
			if a[i] < b[i] {
				want = 1
			}
			if got := r0[i] ^ r1[i]; got != want {
				t.Fatalf("bits=%d: %d < %d gave %d", bits, a[i], b[i], got)
			}
		}
	}
}

func TestDReLUAndReLU(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(2, 2))
	for _, ell := range ells {
		lo, hi := fullRange(ell)
		x := inputs(rng, nTest, ell, lo, hi)
		x0, x1 := share(rng, x, ell)
		d0, d1 := run(t, p0, p1, func(p *Party) ([]uint8, error) {
			return p.DReLU([][]uint64{x0, x1}[p.ID], ell)
		})
		y0, y1 := run(t, p0, p1, func(p *Party) ([]uint64, error) {
			return p.ReLU([][]uint64{x0, x1}[p.ID], ell)
		})
		for i, v := range x {
			s := signed(v, ell)
			want := uint8(0)
			if s >= 0 {
				want = 1
			}
			if got := d0[i] ^ d1[i]; got != want {
				t.Fatalf("ℓ=%d: DReLU(%d) = %d", ell, s, got)
			}
			if got, want := (y0[i]+y1[i])&mask(ell), uint64(max(s, 0))&mask(ell); got != want {
				t.Fatalf("ℓ=%d: ReLU(%d) = %d, want %d", ell, s, signed(got, ell), want)
			}
			if y0[i] > mask(ell) || y1[i] > mask(ell) {
				t.Fatalf("ℓ=%d: output share above 2^ℓ", ell)
			}
		}
	}
}

func TestB2A(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(3, 3))
	for _, ell := range []int{1, 2, 32, 64} {
		b0, b1 := make([]uint8, nTest), make([]uint8, nTest)
		for i := range b0 {
			b0[i], b1[i] = uint8(rng.IntN(2)), uint8(rng.IntN(2))
		}
		a0, a1 := run(t, p0, p1, func(p *Party) ([]uint64, error) {
			return p.B2A([][]uint8{b0, b1}[p.ID], ell)
		})
		for i := range b0 {
			if got, want := (a0[i]+a1[i])&mask(ell), uint64(b0[i]^b1[i]); got != want {
				t.Fatalf("ℓ=%d: B2A(%d ⊕ %d) = %d", ell, b0[i], b1[i], got)
			}
		}
	}
}

// checkTrunc checks that got is ⌊(x + 2^(s−1))/2^s⌋ or one less (x itself
// for s = 0): the centred truncation, ⌊x/2^s⌋ + δ, δ ∈ {−1, 0, 1}, with
// δ = 1 only when x's low s bits are at least 2^(s−1) and δ = −1 only when
// they are below.
func checkTrunc(t *testing.T, what string, x []uint64, z0, z1 []uint64, ell, s int) {
	t.Helper()
	for i, v := range x {
		want := centred(signed(v, ell), s)
		got := signed((z0[i]+z1[i])&mask(ell), ell)
		if got != want && (s == 0 || got != want-1) {
			t.Fatalf("%s ℓ=%d s=%d: %d >> %d gave %d, want %d or %d (floor %d)", what, ell, s, signed(v, ell), s, got, want, want-1, signed(v, ell)>>uint(s))
		}
	}
}

// centred is ⌊(v + 2^(s−1))/2^s⌋ (v for s = 0): the centred truncations'
// value before their carry, without v + 2^(s−1) overflowing.
func centred(v int64, s int) int64 {
	if s == 0 {
		return v
	}
	return v>>uint(s) + (v&(1<<uint(s)-1)+1<<uint(s-1))>>uint(s)
}

// checkExact checks that got is ⌊x/2^s⌋.
func checkExact(t *testing.T, what string, x []uint64, z0, z1 []uint64, ell, s int) {
	t.Helper()
	for i, v := range x {
		if got, want := signed((z0[i]+z1[i])&mask(ell), ell), signed(v, ell)>>uint(s); got != want {
			t.Fatalf("%s ℓ=%d s=%d: %d >> %d gave %d, want %d", what, ell, s, signed(v, ell), s, got, want)
		}
	}
}

func TestTrunc(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(4, 4))
	for _, ell := range []int{3, 8, 17, 32, 37, 64} {
		for _, s := range []int{1, min(12, ell-2), ell - 2} {
			lo, hi := quarterRange(ell)
			x := inputs(rng, nTest, ell, lo, hi)
			x0, x1 := share(rng, x, ell)
			z0, z1 := run(t, p0, p1, func(p *Party) ([]uint64, error) {
				return p.Trunc([][]uint64{x0, x1}[p.ID], ell, s)
			})
			checkTrunc(t, "Trunc", x, z0, z1, ell, s)
			// Known sign: [0, 2^(ℓ−1)).
			x = inputs(rng, nTest, ell, 0, int64(mask(ell-1))+1)
			x0, x1 = share(rng, x, ell)
			z0, z1 = run(t, p0, p1, func(p *Party) ([]uint64, error) {
				return p.TruncNonNeg([][]uint64{x0, x1}[p.ID], ell, s)
			})
			checkTrunc(t, "TruncNonNeg", x, z0, z1, ell, s)
			z0, z1 = run(t, p0, p1, func(p *Party) ([]uint64, error) {
				return p.TruncExactNonNeg([][]uint64{x0, x1}[p.ID], ell, s)
			})
			checkExact(t, "TruncExactNonNeg", x, z0, z1, ell, s)
			x = inputs(rng, nTest, ell, lo, hi)
			x0, x1 = share(rng, x, ell)
			z0, z1 = run(t, p0, p1, func(p *Party) ([]uint64, error) {
				return p.TruncExact([][]uint64{x0, x1}[p.ID], ell, s)
			})
			checkExact(t, "TruncExact", x, z0, z1, ell, s)
		}
	}
}

func TestSquare(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(5, 5))
	for _, ell := range append([]int{1}, ells...) {
		lo, hi := int64(0), int64(2)
		if ell > 1 {
			lo, hi = fullRange(ell)
		}
		x := inputs(rng, nTest, ell, lo, hi)
		x0, x1 := share(rng, x, ell)
		z0, z1 := run(t, p0, p1, func(p *Party) ([]uint64, error) {
			return p.Square([][]uint64{x0, x1}[p.ID], ell)
		})
		for i, v := range x {
			if got, want := (z0[i]+z1[i])&mask(ell), v*v&mask(ell); got != want {
				t.Fatalf("ℓ=%d: %d² = %d, want %d", ell, v, got, want)
			}
		}
	}
}

func TestMulPrivate(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(8, 8))
	for _, ell := range []int{1, 2, 17, 32, 64} {
		lo, hi := int64(0), int64(2)
		if ell > 1 {
			lo, hi = fullRange(ell)
		}
		x := inputs(rng, nTest, ell, lo, hi)
		a := inputs(rng, nTest, ell, lo, hi)
		rng.Shuffle(len(a), func(i, j int) { a[i], a[j] = a[j], a[i] })
		x0, x1 := share(rng, x, ell)
		z0, z1 := run(t, p0, p1, func(p *Party) ([]uint64, error) {
			if p.ID == 0 {
				return p.MulPrivate(a, x0, ell)
			}
			return p.MulPrivate(nil, x1, ell)
		})
		for i := range x {
			if got, want := (z0[i]+z1[i])&mask(ell), a[i]*x[i]&mask(ell); got != want {
				t.Fatalf("ℓ=%d: %d·%d = %d, want %d", ell, a[i], x[i], got, want)
			}
		}
	}
}

func TestMaxPool2x2(t *testing.T) {
	p0, p1 := parties(t)
	rng := rand.New(rand.NewPCG(6, 6))
	for _, ell := range []int{3, 8, 32, 64} {
		lo, hi := quarterRange(ell)
		x := inputs(rng, 4*nTest/4, ell, lo, hi)
		x0, x1 := share(rng, x, ell)
		z0, z1 := run(t, p0, p1, func(p *Party) ([]uint64, error) {
			return p.MaxPool2x2([][]uint64{x0, x1}[p.ID], ell)
		})
		for i := range len(x) / 4 {
			want := signed(x[4*i], ell)
			for _, v := range x[4*i+1 : 4*i+4] {
				want = max(want, signed(v, ell))
			}
			if got := signed((z0[i]+z1[i])&mask(ell), ell); got != want {
				t.Fatalf("ℓ=%d window %d: max %d, want %d", ell, i, got, want)
			}
		}
	}
}

func TestEmptyAndBadInputs(t *testing.T) {
	p0, p1 := parties(t)
	r0, r1 := run(t, p0, p1, func(p *Party) ([]uint64, error) { return p.ReLU(nil, 32) })
	if len(r0) != 0 || len(r1) != 0 {
		t.Fatal("ReLU of nothing returned something")
	}
	if _, err := p0.Select([]uint8{2}, []uint64{1}, 32); err == nil {
		t.Error("Select accepted a non-bit")
	}
	if _, err := p0.Select([]uint8{1}, []uint64{1, 2}, 32); err == nil {
		t.Error("Select accepted operands of different lengths")
	}
	if _, err := p0.Max([]uint64{1}, nil, 32); err == nil {
		t.Error("Max accepted operands of different lengths")
	}
	if _, err := p0.MaxPool2x2(make([]uint64, 3), 32); err == nil {
		t.Error("MaxPool2x2 accepted 3 values")
	}
	for _, ell := range []int{0, 65} {
		if _, err := p0.ReLU([]uint64{1}, ell); err == nil {
			t.Errorf("ReLU accepted ℓ = %d", ell)
		}
	}
	if _, err := p0.Trunc([]uint64{1}, 32, 31); err == nil {
		t.Error("Trunc accepted s = ℓ−1")
	}
	if _, err := p0.LessThan([]uint64{1}, 65); err == nil {
		t.Error("LessThan accepted 65 bits")
	}
}
