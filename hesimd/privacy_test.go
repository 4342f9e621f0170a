package hesimd

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	lring "github.com/tuneinsight/lattigo/v6/ring"

	"github.com/autorep/autorep/internal/privacytest"
	"github.com/autorep/autorep/internal/rq"
)

// floodedNoise runs the server's computation (before the modulus switch:
// a stronger view than the client's, which is a public function of it) on
// one degree-2 query of the client's, with the server's secrets given as
// the slot vectors w1, quad, w0, and returns the noise of every
// coefficient as the client computes it with its key: phase − Q·m/P,
// as a float64 (exact to 53 bits).
func floodedNoise(t *testing.T, cl *Client, s *Server, w1, quad, w0 []uint64, rng *rand.Rand) []float64 {
	t.Helper()
	p := cl.P
	xc := randVec(rng, p.N, p.p)
	sq := make([]uint64, p.N)
	for j, v := range xc {
		sq[j] = rq.MulMod(v, v, p.p)
	}
	msg, err := cl.encrypt([][]uint64{xc, sq})
	if err != nil {
		t.Fatal(err)
	}
	c0s, c1s, err := p.parseFresh(msg, 2)
	if err != nil {
		t.Fatal(err)
	}
	ct := s.answer([2][]lring.Poly{c0s, c1s}, w1, quad, w0)
	// phase = c0 + c1·s over Q, then CRT per coefficient.
	r := p.rQ
	ph := r.NewPoly()
	r.NTT(ct[1], ph)
	r.MulCoeffsBarrett(ph, cl.sk, ph)
	r.INTT(ph, ph)
	r.Add(ph, ct[0], ph)
	bigQ := big.NewInt(1)
	for _, q := range p.Q {
		bigQ.Mul(bigQ, new(big.Int).SetUint64(q))
	}
	bp := new(big.Int).SetUint64(p.p)
	qp := new(big.Int).Mul(bigQ, bp)
	half := new(big.Int).Rsh(qp, 1)
	out := make([]float64, p.N)
	for j := range p.N {
		x := new(big.Int)
		for i, q := range p.Q {
			bq := new(big.Int).SetUint64(q)
			qHat := new(big.Int).Div(bigQ, bq)
			x.Add(x, new(big.Int).Mul(qHat, new(big.Int).SetUint64(rq.MulMod(ph.Coeffs[i][j], p.qHatIn[i], q))))
		}
		x.Mod(x, bigQ)
		// P·phase = Q·m + P·noise: m = ⌊P·phase/Q⌉, P·noise centred mod QP.
		x.Mul(x, bp)
		m := new(big.Int).Add(x, new(big.Int).Rsh(bigQ, 1))
		m.Div(m, bigQ)
		x.Sub(x, m.Mul(m, bigQ))
		x.Mod(x, qp)
		if x.Cmp(half) > 0 {
			x.Sub(x, qp)
		}
		f, _ := new(big.Float).Quo(new(big.Float).SetInt(x), new(big.Float).SetInt(bp)).Float64()
		out[j] = f
	}
	return out
}

// ks2 returns the two-sample Kolmogorov–Smirnov statistic of a and b.
func ks2(a, b []float64) float64 {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	var d float64
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		x := min(a[i], b[j])
		for i < len(a) && a[i] <= x {
			i++
		}
		for j < len(b) && b[j] <= x {
			j++
		}
		d = max(d, math.Abs(float64(i)/float64(len(a))-float64(j)/float64(len(b))))
	}
	return d
}

// TestCircuitPrivacy checks that the noise the client could compute from
// the flooded answer is distributed alike for two sets of server secrets
// (all-zero coefficients, where only the re-randomisation's noise is
// secret-free, and full-size random ones, whose products add noise up to
// 2^(log N + log P + 4)), by a two-sample Kolmogorov–Smirnov test at
// α ≈ 10^−6, that the same test tells them apart when flooding is off,
// that the flooded noise is uniform over [−F, F) and inside the
// decryption bound, that the client's outputs are uniform, and that the
// answer's words are distributed alike for the two sets of secrets.
func TestCircuitPrivacy(t *testing.T) {
	cl, s := session(t, 32)
	p := s.P
	rng := rand.New(rand.NewPCG(3, 4))
	zero := make([]uint64, p.N)
	rand1, rand2, rand0 := randVec(rng, p.N, p.p), randVec(rng, p.N, p.p), randVec(rng, p.N, p.p)
	n := float64(p.N)
	crit := math.Sqrt(-math.Log(1e-6/2)/2) * math.Sqrt(2/n) // KS, equal sizes
	F := math.Exp2(float64(p.FloodBits - 1))
	for _, flood := range []bool{true, false} {
		s.noFlood = !flood
		eZero := floodedNoise(t, cl, s, zero, zero, rand0, rng)
		eRand := floodedNoise(t, cl, s, rand1, rand2, rand0, rng)
		d := ks2(eZero, eRand)
		t.Logf("flood %v: KS distance %.4f (critical %.4f)", flood, d, crit)
		if flood && d >= crit {
			t.Errorf("flooded noise depends on the server's secrets: KS distance %.4f ≥ %.4f", d, crit)
		}
		if !flood && d < crit {
			t.Errorf("the test does not see unflooded noise: KS distance %.4f < %.4f", d, crit)
		}
		if !flood {
			// Unflooded, the noise is the secret-dependent part plus the
			// re-randomisation's: under the tail bound E + 42N + 21 (it
			// fails with probability 2^−64 per coefficient).
			// Also with the largest plaintexts: every coefficient of w1 and
			// of the quadratic plaintext (P−1)/2, the bound's worst case.
			wMax := p.maxPlain()
			eMax := floodedNoise(t, cl, s, wMax, wMax, rand0, rng)
			lim := p.noise.E + 42*n + 21
			for name, e := range map[string][]float64{"random": eRand, "largest": eMax} {
				var m float64
				for _, v := range e {
					m = max(m, math.Abs(v))
				}
				t.Logf("unflooded noise, %s plaintexts: max 2^%.2f, bound 2^%.2f (worst case over the client's coins 2^%.2f)",
					name, math.Log2(m), math.Log2(lim), math.Log2(2*n*21.5*float64(p.p-1)/2+42*n+21.5))
				if m > lim {
					t.Errorf("unflooded noise 2^%.2f above the tail bound 2^%.2f", math.Log2(m), math.Log2(lim))
				}
			}
			continue
		}
		// Uniform over [−F, F): KS against the uniform CDF.
		for _, e := range [][]float64{eZero, eRand} {
			sorted := slices.Clone(e)
			slices.Sort(sorted)
			var du, maxAbs float64
			for i, v := range sorted {
				cdf := (v + F) / (2 * F)
				du = max(du, math.Abs(cdf-float64(i)/n), math.Abs(cdf-float64(i+1)/n))
				maxAbs = max(maxAbs, math.Abs(v))
			}
			if lim := math.Sqrt(-math.Log(1e-6/2)/2) / math.Sqrt(n); du >= lim {
				t.Errorf("flooded noise not uniform on [−F, F): KS %.4f ≥ %.4f", du, lim)
			}
			// Decryption margin before the switch: P·noise/Q ≤ P·T/Q.
			if got := math.Exp2(math.Log2(maxAbs) + math.Log2(float64(p.p)) - p.LogQ); got > p.margins[0] {
				t.Errorf("noise 2^%.1f uses %.3f of the margin, above P·T/Q = %.3f", math.Log2(maxAbs), got, p.margins[0])
			}
		}
	}
	s.noFlood = false
	// The client's outputs y − r are uniform mod P (r uniform).
	m := 4 * p.N
	b, c, xs, xc := make([]uint64, m), make([]uint64, m), make([]uint64, m), make([]uint64, m)
	_, yc, errS, errC := run(cl, s, 1, nil, b, c, xs, xc)
	if errS != nil || errC != nil {
		t.Fatal(errS, errC)
	}
	for i := range yc { // P ≈ 2^32: the low 32 bits are near uniform
		yc[i] |= uint64(rng.Uint32()) << 32
	}
	privacytest.Uniform(t, "client outputs", yc)

	// Degree 2 (form degSplit): the first answer's decryption α = a·xc −
	// r1 is uniform even for constant a and xc (r1 hides a).
	{
		a, v := make([]uint64, m), make([]uint64, m)
		for i := range a {
			a[i], v[i] = 5, 1
		}
		done := make(chan error, 1)
		var ys [][]uint64
		go func() {
			err := cl.sendQuery(degSplit, v)
			if err == nil {
				ys, err = cl.recvAnswers(m, 2)
			}
			done <- err
		}()
		if _, err := s.Quad(2, a, v, v, v); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		for i := range ys[0] {
			ys[0][i] |= uint64(rng.Uint32()) << 32
		}
		privacytest.Uniform(t, "degree-2 first answer", ys[0])
	}

	// The answers' words (c1 mod q', c0 mod 2^C0Bits, both answers of the
	// degree-2 form) are distributed alike for all-zero and full-size
	// random secrets.
	rec := privacytest.NewRecorder(cl.Conn)
	cl.Conn = rec
	words := func(a, b, c, xs []uint64) []uint64 {
		from := rec.Len()
		if _, _, errS, errC := run(cl, s, 2, a, b, c, xs, randVec(rng, len(xs), p.p)); errS != nil || errC != nil {
			t.Fatal(errS, errC)
		}
		msgs := rec.Messages(from)
		ans := msgs[len(msgs)-1]
		var out []uint64
		for range answers(degSplit) {
			w1, w0 := make([]uint64, p.N), make([]uint64, p.N)
			sb := rq.SegBytes(p.N, uint(bitsLen(p.QR)))
			rq.UnpackSeg(ans[:sb], w1, uint(bitsLen(p.QR)))
			ans = ans[sb:]
			sb = rq.SegBytes(p.N, p.C0Bits)
			rq.UnpackSeg(ans[:sb], w0, p.C0Bits)
			ans = ans[sb:]
			out = append(append(out, w1...), w0...)
		}
		if len(ans) != 0 {
			t.Fatalf("%d bytes left after the answers", len(ans))
		}
		return out
	}
	z := make([]uint64, p.N)
	privacytest.SameDistribution(t, "answer words", words(z, z, z, z),
		words(randVec(rng, p.N, p.p), randVec(rng, p.N, p.p), randVec(rng, p.N, p.p), randVec(rng, p.N, p.p)))
}

// TestQuadElementwiseView: in PrecomputeQuadElementwise's form the client
// decrypts α = a·ρ − r1 and β = u·ρ − s offline and receives e = r1 +
// 2a·z + b − u online in the clear. With constant coefficients and
// constant inputs each of the three is uniform mod P (r1, s and u hide
// them), so the client's view says nothing of a and b.
func TestQuadElementwiseView(t *testing.T) {
	cl, s := session(t, 32)
	p := s.P
	m := 4 * p.N
	a, b, c, xs, xc := make([]uint64, m), make([]uint64, m), make([]uint64, m), make([]uint64, m), make([]uint64, m)
	for i := range a {
		a[i], b[i], c[i], xs[i], xc[i] = 5, 7, 1, 3, 2
	}
	cm, sm := prePair(t, cl, func() (*ClientMask, error) { return cl.PrecomputeQuadElementwise(m) },
		func() (*ServerMask, error) { return s.PrecomputeQuadElementwise(a) })
	alpha, beta := slices.Clone(cm.ans), slices.Clone(cm.ans2)
	rec := privacytest.NewRecorder(cl.Conn)
	cl.Conn = rec
	if _, _, errS, errC := onlinePair(cl, s, cm, sm, a, b, c, xs, xc); errS != nil || errC != nil {
		t.Fatal(errS, errC)
	}
	msgs := rec.Messages(0)
	if len(msgs) != 1 {
		t.Fatalf("client received %d online messages, want 1 (e)", len(msgs))
	}
	w := uint(bitsLen(p.p))
	e := make([]uint64, m)
	rq.UnpackSeg(msgs[0], e, w)
	rng := rand.New(rand.NewPCG(5, 6))
	for name, v := range map[string][]uint64{"α": alpha, "β": beta, "e": e} {
		for i := range v { // P ≈ 2^32: the low 32 bits are near uniform
			v[i] |= uint64(rng.Uint32()) << 32
		}
		privacytest.Uniform(t, "elementwise degree 2, client's "+name, v)
	}
}
