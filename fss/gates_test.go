package fss

import (
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/ring"
)

// signedRange returns values of the signed ell-bit range, sign-extended to
// 64 bits: the edges (0, ±1, ±2^(ℓ−2), extremes) plus random ones.
func signedInputs(r *rand.Rand, ell, nRand int) []uint64 {
	lo := -(int64(1) << uint(ell-1)) // ell = 64: MinInt64
	hi := ^lo                        // 2^(ℓ−1) − 1
	q := int64(1) << uint(ell-2)
	vals := []int64{0, 1, -1, 2, -2, q, -q, q - 1, -q + 1, q + 1, -q - 1, lo, lo + 1, hi, hi - 1}
	out := make([]uint64, 0, len(vals)+nRand)
	for _, v := range vals {
		if v >= lo && v <= hi {
			out = append(out, uint64(v))
		}
	}
	for range nRand {
		v := int64(r.Uint64())
		if ell < 64 {
			v >>= uint(64 - ell) // uniform signed ell-bit, sign-extended
		}
		out = append(out, uint64(v))
	}
	return out
}

// masks returns len(x) random masks, with a few edge masks at the front.
func masks(r *rand.Rand, m int) []uint64 {
	out := make([]uint64, m)
	edge := []uint64{0, 1, ^uint64(0), 1 << 63, 1<<63 - 1}
	for i := range out {
		if i < len(edge) {
			out[i] = edge[i]
		} else {
			out[i] = r.Uint64()
		}
	}
	return out
}

type gateFn struct {
	gen  func(prg *ring.PRG, rIn []uint64) (*Keys, *Keys, error)
	eval func(party int, k *Keys, xhat []uint64) ([]uint64, error)
}

// runGate generates keys for rIn, evaluates both parties on x + rIn, and
// returns the reconstructed outputs.
func runGate(t *testing.T, f gateFn, x, rIn []uint64, seed byte) []uint64 {
	t.Helper()
	k0, k1, err := f.gen(testPRG(seed), rIn)
	if err != nil {
		t.Fatal(err)
	}
	xhat := make([]uint64, len(x))
	for i := range x {
		xhat[i] = x[i] + rIn[i]
	}
	y0, err := f.eval(0, k0, xhat)
	if err != nil {
		t.Fatal(err)
	}
	y1, err := f.eval(1, k1, xhat)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]uint64, len(x))
	for i := range y {
		y[i] = y0[i] + y1[i]
	}
	return y
}

// allPairs crosses inputs with masks so every edge value meets every edge
// mask.
func allPairs(r *rand.Rand, ell int) (x, rIn []uint64) {
	xs := signedInputs(r, ell, 200)
	ms := masks(r, 40)
	for _, v := range xs[:15] {
		for _, m := range ms {
			x = append(x, v)
			rIn = append(rIn, m)
		}
	}
	for _, v := range xs {
		x = append(x, v)
		rIn = append(rIn, r.Uint64())
	}
	return x, rIn
}

func TestDReLUReLU(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, ell := range []int{2, 3, 8, 16, 32, 37, 50, 63, 64} {
		x, rIn := allPairs(r, ell)
		dr := runGate(t, gateFn{
			gen:  func(p *ring.PRG, m []uint64) (*Keys, *Keys, error) { return GenDReLU(p, m, ell) },
			eval: EvalDReLU,
		}, x, rIn, byte(ell))
		re := runGate(t, gateFn{
			gen:  func(p *ring.PRG, m []uint64) (*Keys, *Keys, error) { return GenReLU(p, m, ell) },
			eval: EvalReLU,
		}, x, rIn, byte(ell+100))
		for i, v := range x {
			wantD, wantR := uint64(0), uint64(0)
			if int64(v) >= 0 {
				wantD, wantR = 1, v
			}
			if dr[i] != wantD {
				t.Fatalf("ℓ=%d DReLU(%d) mask %#x = %d, want %d", ell, int64(v), rIn[i], dr[i], wantD)
			}
			if re[i] != wantR {
				t.Fatalf("ℓ=%d ReLU(%d) mask %#x = %d, want %d", ell, int64(v), rIn[i], int64(re[i]), int64(wantR))
			}
		}
	}
}

func TestTrunc(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct{ ell, s int }{{2, 1}, {8, 1}, {8, 7}, {16, 4}, {37, 12}, {54, 16}, {63, 12}, {64, 1}, {64, 12}, {64, 16}, {64, 63}} {
		x, rIn := allPairs(r, c.ell)
		for _, exact := range []bool{true, false} {
			y := runGate(t, gateFn{
				gen: func(p *ring.PRG, m []uint64) (*Keys, *Keys, error) {
					return GenTrunc(p, m, c.ell, c.s, exact)
				},
				eval: EvalTrunc,
			}, x, rIn, byte(c.ell*c.s))
			for i, v := range x {
				want := int64(v) >> uint(c.s)
				d := int64(y[i]) - want
				if exact && d != 0 || !exact && d != 0 && d != 1 {
					t.Fatalf("ℓ=%d s=%d exact=%v: %d >> %d with mask %#x = %d, want %d",
						c.ell, c.s, exact, int64(v), c.s, rIn[i], int64(y[i]), want)
				}
			}
		}
		// Fused ReLU then truncation: exact 0 for x < 0, one-bit error above.
		y := runGate(t, gateFn{
			gen:  func(p *ring.PRG, m []uint64) (*Keys, *Keys, error) { return GenReLUTrunc(p, m, c.ell, c.s) },
			eval: EvalReLUTrunc,
		}, x, rIn, byte(c.ell+c.s))
		for i, v := range x {
			want := max(int64(v), 0) >> uint(c.s)
			if d := int64(y[i]) - want; d != 0 && (d != 1 || int64(v) < 0) {
				t.Fatalf("ℓ=%d s=%d: ReLU(%d) >> %d with mask %#x = %d, want %d (+1 allowed for x ≥ 0)",
					c.ell, c.s, int64(v), c.s, rIn[i], int64(y[i]), want)
			}
		}
	}
}

// TestTruncStochastic checks that the one-bit gate rounds up with
// probability (x mod 2^s)/2^s: x = 3/4 in units of 2^s rounds up about 3/4
// of the time.
func TestTruncStochastic(t *testing.T) {
	const m, s = 20000, 8
	r := rand.New(rand.NewPCG(7, 8))
	x := make([]uint64, m)
	v := int64(-5)<<s + 3<<(s-2) // −5 + 3/4 in units of 2^s
	for i := range x {
		x[i] = uint64(v)
	}
	y := runGate(t, gateFn{
		gen:  func(p *ring.PRG, mm []uint64) (*Keys, *Keys, error) { return GenTrunc(p, mm, 40, s, false) },
		eval: EvalTrunc,
	}, x, masks(r, m), 77)
	up := 0
	for _, v := range y {
		switch int64(v) {
		case -5:
		case -4:
			up++
		default:
			t.Fatalf("got %d, want -5 or -4", int64(v))
		}
	}
	// Binomial(20000, 0.75): sd ≈ 61; allow 6 sd.
	if f := float64(up) / m; f < 0.75-0.019 || f > 0.75+0.019 {
		t.Fatalf("rounded up %.4f of the time, want 0.75", f)
	}
}

func TestGateErrors(t *testing.T) {
	prg := testPRG(1)
	r := []uint64{1, 2, 3}
	if _, _, err := GenReLU(prg, r, 1); err == nil {
		t.Error("ReLU ℓ=1: no error")
	}
	if _, _, err := GenReLU(prg, r, 65); err == nil {
		t.Error("ReLU ℓ=65: no error")
	}
	if _, _, err := GenTrunc(prg, r, 64, 0, true); err == nil {
		t.Error("shift 0: no error")
	}
	if _, _, err := GenTrunc(prg, r, 16, 16, false); err == nil {
		t.Error("shift = ℓ: no error")
	}
	if _, _, err := GenDReLU(nil, r, 16); err == nil {
		t.Error("nil PRG: no error")
	}
	k0, k1, err := GenReLU(prg, r, 32)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EvalReLU(1, k0, r); err == nil {
		t.Error("wrong party: no error")
	}
	if _, err := EvalReLU(1, k1, r[:2]); err == nil {
		t.Error("wrong length: no error")
	}
	if _, err := EvalDReLU(1, k1, r); err == nil {
		t.Error("ReLU keys in EvalDReLU: no error")
	}
	if _, err := EvalTrunc(0, nil, nil); err == nil {
		t.Error("nil keys: no error")
	}
	if _, err := k0.Slice(2, 4); err == nil {
		t.Error("slice out of range: no error")
	}
	if _, _, err := GenDCF(prg, 8, 1, []uint64{256}, []uint64{1}); err == nil {
		t.Error("alpha ≥ 2^n: no error")
	}
	if _, _, err := GenDCF(prg, 8, 2, []uint64{3}, []uint64{1}); err == nil {
		t.Error("short beta: no error")
	}
	if _, _, err := GenDCF(prg, 0, 1, nil, nil); err == nil {
		t.Error("n = 0: no error")
	}
	if _, _, err := GenDCF(nil, 8, 1, nil, nil); err == nil {
		t.Error("GenDCF nil PRG: no error")
	}
	if _, _, err := GenReLUTrunc(prg, r, 64, 0); err == nil {
		t.Error("fused shift 0: no error")
	}
	if _, err := Eval(0, &Keys{}, nil); err == nil {
		t.Error("zero Keys: no error")
	}
	if _, err := EvalDCF(1, &DCFKeys{}, nil); err == nil {
		t.Error("DCF wrong party: no error")
	}
}

func TestSliceAndSizes(t *testing.T) {
	prg := testPRG(2)
	rIn := []uint64{5, 6, 7, 8}
	k0, k1, err := GenReLU(prg, rIn, 64)
	if err != nil {
		t.Fatal(err)
	}
	if k0.BytesPerElement() != 2072 || KeyBytes(GateReLU, 64, 0) != 2072 {
		t.Errorf("ReLU ℓ=64 key %d bytes, want 2072", k0.BytesPerElement())
	}
	for _, c := range []struct {
		g          Gate
		ell, s, by int
	}{{GateDReLU, 64, 0, 1544}, {GateTrunc, 64, 12, 1568}, {GateTruncExact, 64, 12, 1880}, {GateReLU, 2, 0, 88}, {GateReLU, 64, 3, 0},
		{GateReLUTrunc, 64, 16, 3104}, {GateReLUTrunc, 64, 64, 0}, {Gate(99), 64, 0, 0}} {
		if got := KeyBytes(c.g, c.ell, c.s); got != c.by {
			t.Errorf("KeyBytes(%v, %d, %d) = %d, want %d", c.g, c.ell, c.s, got, c.by)
		}
	}
	s0, _ := k0.Slice(1, 3)
	s1, _ := k1.Slice(1, 3)
	x := []uint64{uint64(1<<63 - 7), 3} // masked inputs; x = x̂ − r_in
	y0, _ := EvalReLU(0, s0, x)
	y1, _ := EvalReLU(1, s1, x)
	for i := range x {
		v := int64(x[i] - rIn[i+1])
		want := max(v, 0)
		if got := int64(y0[i] + y1[i]); got != want {
			t.Errorf("slice element %d: ReLU(%d) = %d", i, v, got)
		}
	}
}
