package helinear

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	lring "github.com/tuneinsight/lattigo/v6/ring"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// pair sets up a server and a client over an in-process pipe.
func pair(t testing.TB, ell uint) (*Server, *Client) {
	t.Helper()
	return pairWith(t, func() (*Params, error) { return NewParams(ell) }, nil)
}

// pairWith sets up a server and a client with parameters from mk (each
// party its own), the server's end of the pipe wrapped by wrap (nil: as
// is).
func pairWith(t testing.TB, mk func() (*Params, error), wrap func(transport.Conn) transport.Conn) (*Server, *Client) {
	t.Helper()
	a, b := transport.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	var cl *Client
	errc := make(chan error, 1)
	go func() {
		p, err := mk()
		if err == nil {
			cl, err = NewClientParams(b, p)
		}
		errc <- err
	}()
	p, err := mk()
	if err != nil {
		t.Fatal(err)
	}
	var sc transport.Conn = a
	if wrap != nil {
		sc = wrap(a)
	}
	s, err := NewServerParams(sc, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return s, cl
}

// both runs the server's and the client's sides concurrently.
func both(srv func() ([]uint64, error), cli func() ([]uint64, error)) (ys, yc []uint64, err error) {
	type res struct {
		y   []uint64
		err error
	}
	ch := make(chan res, 1)
	go func() { y, err := cli(); ch <- res{y, err} }()
	ys, errS := srv()
	r := <-ch
	return ys, r.y, errors.Join(errS, r.err)
}

func randVec(rng *rand.Rand, n int) []uint64 {
	v := make([]uint64, n)
	for i := range v {
		v[i] = rng.Uint64()
	}
	return v
}

// sharedVec returns a random vector x of n elements and additive shares
// of it, x = xs + xc.
func sharedVec(rng *rand.Rand, n int) (x, xs, xc []uint64) {
	x, xs = randVec(rng, n), randVec(rng, n)
	xc = make([]uint64, n)
	for i := range x {
		xc[i] = x[i] - xs[i]
	}
	return x, xs, xc
}

// checkShares asserts that ys + yc ≡ want (mod 2^ℓ) elementwise.
func checkShares(t *testing.T, what string, ell uint, ys, yc, want []uint64) {
	t.Helper()
	m := ^uint64(0) >> (64 - ell)
	if len(ys) != len(want) || len(yc) != len(want) {
		t.Fatalf("%s: lengths %d, %d, want %d", what, len(ys), len(yc), len(want))
	}
	bad := 0
	for i := range want {
		if (ys[i]+yc[i])&m != want[i]&m || ys[i]&^m != 0 || yc[i]&^m != 0 {
			if bad < 3 {
				t.Errorf("%s: y[%d] = %#x + %#x, want %#x (mod 2^%d)", what, i, ys[i], yc[i], want[i]&m, ell)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d outputs wrong", what, bad, len(want))
	}
}

func runConv(t *testing.T, s *Server, cl *Client, rng *rand.Rand, p ring.ConvParams, withBias bool) {
	t.Helper()
	x, xs, xc := sharedVec(rng, p.XLen())
	w := randVec(rng, p.WLen())
	var bias []uint64
	if withBias {
		bias = randVec(rng, p.K)
	}
	want := make([]uint64, p.YLen())
	if err := ring.Conv2d(p, x, w, want); err != nil {
		t.Fatal(err)
	}
	if bias != nil {
		plane := p.OutH() * p.OutW()
		for i := range want {
			want[i] += bias[i/plane%p.K]
		}
	}
	ys, yc, err := both(func() ([]uint64, error) { return s.Conv2d(p, w, bias, xs) },
		func() ([]uint64, error) { return cl.Conv2d(p, xc) })
	if err != nil {
		t.Fatal(err)
	}
	checkShares(t, "conv", s.P.Ell, ys, yc, want)
}

// TestConvResNet20Shapes checks every ResNet-20 layer shape exactly at
// ℓ = 64 (three key switching digits) and 28 (the twoparty suite's
// width; one digit of two primes).
func TestConvResNet20Shapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, ell := range []uint{64, 28} {
		s, cl := pair(t, ell)
		// Every ResNet-20 shape (the fully connected one as a 1×1
		// convolution), and one at batch 2.
		for _, l := range resnet20Layers {
			runConv(t, s, cl, rng, l.conv, true)
		}
		runConv(t, s, cl, rng, ring.ConvParams{N: 2, C: 64, H: 8, W: 8, K: 64, R: 3, S: 3, PadH: 1, PadW: 1}, true)
	}
}

func TestConvRandomShapes(t *testing.T) {
	for _, f := range []int{1, 2} { // both stride decompositions
		forceFactor = f
		convRandomShapes(t)
	}
	forceFactor = 0
}

func convRandomShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, ell := range []uint{1, 16, 41, 64} {
		s, cl := pair(t, ell)
		for range 4 {
			g := 1 + rng.IntN(3)
			p := ring.ConvParams{N: 1 + rng.IntN(2), C: g * (1 + rng.IntN(4)), H: 1 + rng.IntN(12), W: 1 + rng.IntN(12),
				K: g * (1 + rng.IntN(4)), R: 1 + rng.IntN(3), S: 1 + rng.IntN(3),
				StrideH: 1 + rng.IntN(2), StrideW: 1 + rng.IntN(3), PadH: rng.IntN(2), PadW: rng.IntN(2), Groups: g}
			if p.H+2*p.PadH < p.R || p.W+2*p.PadW < p.S {
				continue
			}
			runConv(t, s, cl, rng, p, rng.IntN(2) == 0)
		}
	}
}

func TestFC(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, ell := range []uint{64, 32, 8} {
		s, cl := pair(t, ell)
		for _, sh := range [][3]int{{2, 64, 10}, {1, 1, 1}, {3, 500, 7}, {1, 9000, 3}, {2, 100, 300}} {
			batch, in, out := sh[0], sh[1], sh[2]
			x, xs, xc := sharedVec(rng, batch*in)
			w, bias := randVec(rng, in*out), randVec(rng, out)
			want := make([]uint64, batch*out)
			if err := ring.MatMulTransB(batch, out, in, x, w, want); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				want[i] += bias[i%out]
			}
			ys, yc, err := both(func() ([]uint64, error) { return s.FC(batch, in, out, w, bias, xs) },
				func() ([]uint64, error) { return cl.FC(batch, in, out, xc) })
			if err != nil {
				t.Fatal(err)
			}
			checkShares(t, "fc", ell, ys, yc, want)
		}
	}
}

// TestPlanPacking checks that every ResNet-20 layer's answers are packed
// densely (galois.go): at most 3·⌈outputs/N⌉ returned ciphertexts per
// image (the 64×8×8 layer sent 64 answers before packing with
// automorphisms, 16 with kernel packing alone); TestConvResNet20Shapes
// checks that the packed answers decrypt to the right values.
func TestPlanPacking(t *testing.T) {
	for _, ell := range []uint{37, 64} {
		pr, err := NewParams(ell)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range resnet20Layers {
			pl, err := planConv(l.conv, pr)
			if err != nil {
				t.Fatal(err)
			}
			got, lower := len(pl.groups(1)), ceilDiv(pl.yLen, N)
			t.Logf("ℓ = %d, %dx%dx%d→%d: %d client polynomials, %d answers packed 2^%d to %d ciphertexts (≥ %d)",
				ell, l.conv.C, l.conv.H, l.conv.W, l.conv.K, len(pl.ins), len(pl.outs), pl.packLog, got, lower)
			if got > 3*lower {
				t.Errorf("ℓ = %d, %+v: %d ciphertexts for %d outputs", ell, l.conv, got, pl.yLen)
			}
		}
	}
}

// TestParams checks every ℓ: log Q within the 128-bit bound for N = 8192,
// and Q' wide enough for the answers (ℓ + 12 bits less rounding down of
// the primes).
func TestParams(t *testing.T) {
	for ell := uint(1); ell <= 64; ell++ {
		p, err := NewParams(ell)
		if err != nil {
			t.Fatal(err)
		}
		if p.LogQ > MaxLogQ {
			t.Errorf("ℓ = %d: log Q = %.1f > %d", ell, p.LogQ, MaxLogQ)
		}
		// The switch's random rounding, switchHP ≈ 2^8.8, must stay near
		// 2^−(ℓ+3) of Q' (fit's budget is 2^−(ℓ+1) in all), and the
		// smallest layer must fit.
		// The Galois keys' modulus Q″·P is within the bound too, P's
		// primes are NTT primes outside the session's, and the digits
		// partition Q″.
		if lq := log2Prod(p.ksQ); p.PackLog < 1 || lq > MaxLogQ || len(p.P) == 0 {
			t.Errorf("ℓ = %d: packing 2^%d, Galois keys mod 2^%.1f, P = %v", ell, p.PackLog, lq, p.P)
		}
		for i, q := range p.P {
			if slices.Contains(p.Q, q) || slices.Contains(p.P[:i], q) || !new(big.Int).SetUint64(q).ProbablyPrime(20) || q%(2*N) != 1 {
				t.Errorf("ℓ = %d: special prime %d", ell, q)
			}
		}
		var idx []int
		for _, d := range p.digits {
			idx = append(idx, d.idx...)
		}
		if len(idx) != len(p.ppQ) || !slices.IsSorted(idx) || idx[0] != 0 || idx[len(idx)-1] != len(p.ppQ)-1 {
			t.Errorf("ℓ = %d: digits %v of %d primes", ell, idx, len(p.ppQ))
		}
		if p.LogQReply < float64(ell)+11.9 {
			t.Errorf("ℓ = %d: log Q' = %.1f < ℓ + 11.9", ell, p.LogQReply)
		}
		for k := range p.PackLog + 1 {
			if _, _, err := p.fit(1, k); err != nil {
				t.Errorf("ℓ = %d, packing 2^%d: %v", ell, k, err)
			}
		}
		if ell == 28 {
			// One digit of Q' and q_x, keys for τ_3..τ_6: a pack of 64
			// carries 1 + 4 + 16 + 64 + 256 + 1024 switches of its rounds
			// 6..3, 4·2 of round 2's (τ_3 twice) and 1·4 of round 1's.
			eks := math.Sqrt(2*math.Ln2*66)*math.Sqrt(10.5*N)*2*math.Exp2(log2Prod(p.ppQ)-log2Prod(p.P)) + float64(N+1)/2*(1+1.0/65536)
			if len(p.digits) != 1 || p.numKeys() != 4 || math.Abs(p.packNoise(6)/eks-1372) > 1e-6 {
				t.Errorf("ℓ = 28: %d digits, %d keys, pack noise %.1f switches", len(p.digits), p.numKeys(), p.packNoise(6)/eks)
			}
		}
		if ell == 16 || ell == 28 || ell == 30 || ell == 32 || ell == 37 || ell == 64 {
			t.Logf("ℓ = %d: %d primes, log Q = %.1f ≤ %d, Q' = first %d (log %.1f), Q″ log %.1f, Galois keys (%d digits) mod 2^%.1f ≤ 2^%d, %d B",
				ell, len(p.Q), p.LogQ, MaxLogQ, p.ReplyPrimes, p.LogQReply, log2Prod(p.ppQ), len(p.digits), log2Prod(p.ksQ), MaxLogQ, p.keyBytes())
		}
	}
}

// TestCosts checks the traffic counted on the transport against the
// formulas of docs/PROTOCOLS.md: setup one public key and the Galois keys
// (a seed and PackLog·(k'+1) polynomials over Q″·P), then per layer one
// message each way, 16 B per message + Σ_i N·⌈log q_i⌉/8 per client
// polynomial up and Σ_{i<k'} N·⌈log q_i⌉/8 + c0 at its outputs per packed
// answer down.
func TestCosts(t *testing.T) {
	const ell = 37
	s, cl := pair(t, ell)
	pr := cl.P
	if got, want := cl.Conn.Stats().Total().BytesSent, int64(2*ring.SeedSize+pr.freshBytes()+pr.keyBytes()); got != want {
		t.Errorf("setup: %d B, want %d", got, want)
	}
	p := ring.ConvParams{N: 2, C: 16, H: 32, W: 32, K: 32, R: 3, S: 3, PadH: 1, PadW: 1, StrideH: 2, StrideW: 2}
	pl, err := planConv(p, pr)
	if err != nil {
		t.Fatal(err)
	}
	var up, down int64 = int64(ring.SeedSize + p.N*len(pl.ins)*pl.lv.freshBytes()), 0
	outputs := 0
	for _, g := range pl.groups(p.N) {
		down += int64(pr.replyBytes(pl.groupTargets(g)))
		outputs += pl.groupTargets(g)
	}
	if outputs != p.YLen() {
		t.Errorf("answers carry %d outputs, want %d", outputs, p.YLen())
	}
	c0 := cl.Conn.Stats().Total()
	rng := rand.New(rand.NewPCG(1, 1))
	w, xs, xc := randVec(rng, p.WLen()), randVec(rng, p.XLen()), randVec(rng, p.XLen())
	if _, _, err := both(func() ([]uint64, error) { return s.Conv2d(p, w, nil, xs) },
		func() ([]uint64, error) { return cl.Conv2d(p, xc) }); err != nil {
		t.Fatal(err)
	}
	c1 := cl.Conn.Stats().Total()
	if c1.BytesSent-c0.BytesSent != up || c1.BytesRecv-c0.BytesRecv != down || c1.MsgsSent-c0.MsgsSent != 1 || c1.MsgsRecv-c0.MsgsRecv != 1 {
		t.Errorf("layer: sent %d B in %d msgs, received %d B in %d msgs; want %d B, %d B, one message each way",
			c1.BytesSent-c0.BytesSent, c1.MsgsSent-c0.MsgsSent, c1.BytesRecv-c0.BytesRecv, c1.MsgsRecv-c0.MsgsRecv, up, down)
	}
	t.Logf("batch 2: %d B up, %d B down", up, down)
}

// TestLevels checks the session's primes (distinct, prime, ≡ 1 mod 2N,
// product within the 128-bit bound: every level is a subset) and that a
// layer runs at the smallest level its noise allows: a narrow layer and a
// smaller weight bound take fewer bits, and each chosen level holds the
// decryption bound that plan.budget states.
func TestLevels(t *testing.T) {
	for _, ell := range []uint{1, 16, 37, 64} {
		p, err := NewParams(ell)
		if err != nil {
			t.Fatal(err)
		}
		for i, q := range p.Q {
			if q%(2*N) != 1 || !new(big.Int).SetUint64(q).ProbablyPrime(20) || slices.Contains(p.Q[:i], q) {
				t.Errorf("ℓ = %d: prime %d: %d not a distinct NTT prime", ell, i, q)
			}
		}
		if p.LogQ > MaxLogQ {
			t.Errorf("ℓ = %d: log Q = %.1f > %d", ell, p.LogQ, MaxLogQ)
		}
	}
	small, err := NewParams(37)
	if err != nil {
		t.Fatal(err)
	}
	narrow, err := NewParamsW(37, 24)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := planFC(64, 10, small)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := planConv(ring.ConvParams{N: 1, C: 64, H: 8, W: 8, K: 64, R: 3, S: 3, PadH: 1, PadW: 1}, small)
	if err != nil {
		t.Fatal(err)
	}
	convW, err := planConv(ring.ConvParams{N: 1, C: 64, H: 8, W: 8, K: 64, R: 3, S: 3, PadH: 1, PadW: 1}, narrow)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ℓ = 37: fc 64→10 at log Q %.1f, conv 64×8×8 at %.1f, with 24-bit weights %.1f (all primes %.1f)",
		fc.lv.logQ, conv.lv.logQ, convW.lv.logQ, small.LogQ)
	if fc.lv.logQ >= small.LogQ || convW.lv.logQ >= conv.lv.logQ {
		t.Errorf("levels not chosen by noise: fc %.1f, conv %.1f, conv with 24-bit weights %.1f, all %.1f",
			fc.lv.logQ, conv.lv.logQ, convW.lv.logQ, small.LogQ)
	}
	for _, pl := range []*plan{fc, conv} {
		// The flood is 2^(κ+2) times the W-dependent noise and the whole
		// noise stays within Q″/2^(ℓ+1), by the bounds' own terms: E_W ≤ 9.57·√(10.5·L)·2^36 +
		// L·2^35 (the subgaussian tail 2^−65 of docs/SECURITY.md), the
		// packing's (4^k − 1)/3 key switches.
		l := 0
		for _, op := range pl.outs {
			n := 0
			for _, tm := range op.terms {
				n += len(pl.ws[tm.w])
			}
			l = max(l, n)
		}
		L := float64(l)
		ew := math.Sqrt(2*math.Ln2*66)*math.Sqrt(10.5*L)*math.Exp2(36) + L*math.Exp2(35)
		if ew > 21.5*L*math.Exp2(36) || math.Abs(ew-small.noiseW(l)) > 1e-9*ew {
			t.Errorf("E_W for %d weights: %g, noiseW %g", l, ew, small.noiseW(l))
		}
		fl := math.Exp2(float64(pl.floodBits - 1))
		// Flooded at Q″ (packed or not, k = 0 adds no key switches).
		logQ2 := log2Prod(small.ppQ)
		b := ew*math.Exp2(logQ2-pl.lv.logQ) + small.packNoise(pl.packLog)
		if fl < math.Exp2(Kappa+2)*b || math.Log2(fl+b+21*(2*N+1)+1) >= logQ2-37-1 {
			t.Errorf("packed 2^%d at level log Q %.1f, flood 2^%d at Q″ = 2^%.1f for %d weights", pl.packLog, pl.lv.logQ, pl.floodBits-1, logQ2, l)
		}
	}
}

// TestWeightBound runs a convolution with a 24-bit weight bound (exact,
// weights at both ends of the range) and checks that a weight outside it
// is refused with an error before anything is sent back.
func TestWeightBound(t *testing.T) {
	const ell, wb = 37, 24
	s, cl := pairWith(t, func() (*Params, error) { return NewParamsW(ell, wb) }, nil)
	cp := ring.ConvParams{N: 1, C: 4, H: 6, W: 6, K: 3, R: 3, S: 3, PadH: 1, PadW: 1}
	rng := rand.New(rand.NewPCG(11, 12))
	x, xs, xc := sharedVec(rng, cp.XLen())
	w := randVec(rng, cp.WLen())
	for i := range w {
		w[i] = uint64(int64(w[i]) >> (64 - wb))
	}
	lo := int64(-1) << (wb - 1)
	w[0], w[1] = uint64(-lo-1), uint64(lo) // the extremes
	want := make([]uint64, cp.YLen())
	if err := ring.Conv2d(cp, x, w, want); err != nil {
		t.Fatal(err)
	}
	ys, yc, err := both(func() ([]uint64, error) { return s.Conv2d(cp, w, nil, xs) },
		func() ([]uint64, error) { return cl.Conv2d(cp, xc) })
	if err != nil {
		t.Fatal(err)
	}
	checkShares(t, "conv, 24-bit weights", ell, ys, yc, want)
	w[2] = uint64(1) << (wb - 1)
	if _, err := s.Conv2d(cp, w, nil, xs); err == nil || !strings.Contains(err.Error(), "bound") {
		t.Errorf("weight 2^%d with a %d-bit bound: err = %v", wb-1, wb, err)
	}
	if _, err := NewParamsW(37, 38); err == nil {
		t.Error("38-bit weight bound at ℓ = 37: no error")
	}
	if _, err := NewParamsW(37, 0); err == nil {
		t.Error("0-bit weight bound: no error")
	}
}

// TestWeightBoundSuiteWidths runs, at the twoparty suite's ℓ = 28 with
// the 12-bit bound pi's plans of the committed ResNet-20 models carry,
// the ResNet-20 layers that sum the most weights per answer with every
// weight at an end of the bound (±2^11, the largest W-dependent noise):
// exact, and at the packing modulus Q″, the lowest level, where weights
// of any size need a higher one; every ResNet-20 layer plans at Q″.
func TestWeightBoundSuiteWidths(t *testing.T) {
	const ell, wb = 28, 12
	s, cl := pairWith(t, func() (*Params, error) { return NewParamsW(ell, wb) }, nil)
	unbounded, err := NewParams(ell)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, p := range []ring.ConvParams{
		{N: 1, C: 64, H: 8, W: 8, K: 64, R: 3, S: 3, PadH: 1, PadW: 1},
		{N: 1, C: 32, H: 16, W: 16, K: 64, R: 3, S: 3, PadH: 1, PadW: 1, StrideH: 2, StrideW: 2},
	} {
		pl, err := planConv(p, s.P)
		if err != nil {
			t.Fatal(err)
		}
		pa, err := planConv(p, unbounded)
		if err != nil {
			t.Fatal(err)
		}
		if lm := log2Prod(s.P.ppQ); pl.lv.logQ != lm || pa.lv.logQ <= lm {
			t.Errorf("%s: level 2^%.1f with %d-bit weights, 2^%.1f with any, Q″ = 2^%.1f", layerName(p), pl.lv.logQ, wb, pa.lv.logQ, lm)
		}
		x, xs, xc := sharedVec(rng, p.XLen())
		lo := int64(-1) << (wb - 1)
		w := make([]uint64, p.WLen())
		for i := range w {
			w[i] = uint64(-lo - 1) // 2^11 − 1
			if rng.IntN(2) == 0 {
				w[i] = uint64(lo) // −2^11
			}
		}
		want := make([]uint64, p.YLen())
		if err := ring.Conv2d(p, x, w, want); err != nil {
			t.Fatal(err)
		}
		ys, yc, err := both(func() ([]uint64, error) { return s.Conv2d(p, w, nil, xs) },
			func() ([]uint64, error) { return cl.Conv2d(p, xc) })
		if err != nil {
			t.Fatal(err)
		}
		checkShares(t, layerName(p)+", extreme 12-bit weights", ell, ys, yc, want)
	}
	// Every ResNet-20 layer plans at Q″ with 12-bit weights at ℓ = 28 and
	// 30 (the suite's widths), so a bound per layer could lower none.
	for _, ell := range []uint{28, 30} {
		pr, err := NewParamsW(ell, wb)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range resnet20Layers {
			var pl *plan
			if isFC(l.conv) {
				pl, err = planFC(l.conv.C, l.conv.K, pr)
			} else {
				pl, err = planConv(l.conv, pr)
			}
			if err != nil {
				t.Fatal(err)
			}
			if lm := log2Prod(pr.ppQ); pl.lv.logQ != lm {
				t.Errorf("ℓ = %d, %s: level 2^%.1f with %d-bit weights, Q″ = 2^%.1f", ell, layerName(l.conv), pl.lv.logQ, wb, lm)
			}
		}
	}
}

// TestDither checks the random rounding of the last switch: dividing c
// by the last prime q after dither gives ⌊c/q⌋ or ⌈c/q⌉, ⌈c/q⌉
// with probability frac(c/q) (mean c/q: the error has mean 0), for
// values of c spread over (−Q/2, Q/2).
func TestDither(t *testing.T) {
	pr, err := NewParams(28)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{P: pr}
	if s.prg, err = ring.NewRandomPRG(); err != nil {
		t.Fatal(err)
	}
	qs := pr.ppQ // Q' and q_x
	rg := pr.pp
	q := new(big.Int).SetUint64(qs[len(qs)-1])
	bigQ := new(big.Int).Mul(new(big.Int).SetUint64(qs[0]), q)
	rng := rand.New(rand.NewPCG(3, 4))
	want := make([]*big.Int, N) // c_j, centred
	c := rg.NewPoly()
	for j := range want {
		v := new(big.Int).SetUint64(rng.Uint64())
		v.Lsh(v, 64).Add(v, new(big.Int).SetUint64(rng.Uint64())).Mod(v, bigQ)
		v.Sub(v, new(big.Int).Rsh(bigQ, 1))
		if j < 8 { // exact multiples and halves of q too
			v.Mul(q, big.NewInt(int64(j)-4))
			if j%2 == 1 {
				v.Add(v, new(big.Int).Rsh(q, 1))
			}
		}
		want[j] = v
	}
	const reps = 64
	sum := make([]float64, N)
	out := make([]*big.Int, N)
	for j := range out {
		out[j] = new(big.Int)
	}
	for range reps {
		for j, v := range want {
			for i, qi := range qs {
				c.Coeffs[i][j] = new(big.Int).Mod(v, new(big.Int).SetUint64(qi)).Uint64()
			}
		}
		dither(s.prg, qs, c)
		rg.AtLevel(len(qs)-1).DivRoundByLastModulus(c, c)
		one := lring.Poly{Coeffs: c.Coeffs[:1]}
		pr.rr.PolyToBigintCentered(one, 1, out)
		for j, v := range want {
			fl := new(big.Int).Div(v, q) // Euclidean: ⌊v/q⌋ for q > 0
			d := new(big.Int).Sub(out[j], fl).Int64()
			if d != 0 && d != 1 {
				t.Fatalf("coefficient %d: %v/q rounded to %v (floor %v)", j, v, out[j], fl)
			}
			sum[j] += float64(d)
		}
	}
	// Round-ups against frac(c/q), separately for fractions below and
	// above ½ (rounding to nearest would be off by about ∓N·reps/8 in
	// each): Σ (ups − reps·frac) has standard deviation ≤ √(N·reps)/2.
	var dev [2]float64
	for j, v := range want {
		fr, _ := new(big.Rat).SetFrac(new(big.Int).Mod(v, q), q).Float64()
		dev[int(2*fr)] += sum[j] - reps*fr
		if fr == 0 && sum[j] != 0 {
			t.Errorf("coefficient %d: a multiple of q rounded up", j)
		}
	}
	if lim := 6 * math.Sqrt(N*reps) / 2; math.Abs(dev[0]) > lim || math.Abs(dev[1]) > lim {
		t.Errorf("round-ups deviate from the fractional parts by %.0f and %.0f (6σ = %.0f): biased", dev[0], dev[1], lim)
	}
}
