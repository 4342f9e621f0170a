package mpc_test

import (
	"fmt"
	"math"
	"math/big"
	"testing"

	"github.com/autorep/autorep/internal/privacytest"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// refConv is a naive reference convolution over Z_2^64.
func refConv(p corr.LinearSpec, w, x []uint64) []uint64 {
	oh, ow := p.OutH(), p.OutW()
	cg, kg := p.C/p.Groups, p.K/p.Groups
	y := make([]uint64, p.YLen())
	for n := 0; n < p.N; n++ {
		for k := 0; k < p.K; k++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var acc uint64
					for c := 0; c < cg; c++ {
						for r := 0; r < p.R; r++ {
							for s := 0; s < p.S; s++ {
								h, v := i*p.StrideH-p.PadH+r, j*p.StrideW-p.PadW+s
								if h < 0 || h >= p.H || v < 0 || v >= p.W {
									continue
								}
								acc += w[((k*cg+c)*p.R+r)*p.S+s] * x[((n*p.C+(k/kg)*cg+c)*p.H+h)*p.W+v]
							}
						}
					}
					y[((n*p.K+k)*oh+i)*ow+j] = acc
				}
			}
		}
	}
	return y
}

func TestLinear(t *testing.T) {
	specs := []corr.LinearSpec{
		corr.DenseSpec(3, 20, 7),
		{N: 2, C: 4, H: 6, W: 5, K: 6, R: 3, S: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, Groups: 1},
		{N: 1, C: 4, H: 7, W: 7, K: 4, R: 3, S: 2, StrideH: 2, StrideW: 1, PadH: 1, PadW: 0, Groups: 2},
	}
	for si, p := range specs {
		w := randSigned(p.WLen(), 18, byte(10+si))
		x := randSigned(p.XLen(), 20, byte(20+si))
		bias := randSigned(p.K, 30, byte(30+si))
		xs := split(x, byte(40+si))
		var first [2][]uint64 // each party's share from the first inference
		r := run2(t, 1, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
			transport.SetPhase(s.Conn, transport.PhaseOffline)
			var k *mpc.LinearKey
			var err error
			if s.Party == mpc.Server {
				k, err = s.SetupLinear(src, "fc", p, w, bias)
			} else {
				k, err = s.SetupLinear(src, "fc", p, nil, nil)
			}
			if err != nil {
				return nil, err
			}
			transport.SetPhase(s.Conn, transport.PhaseOnline)
			// Two inferences of the same input: fresh masks each time
			// (checked below).
			y, err := s.Linear(src, k, xs[s.Party])
			if err != nil {
				return nil, err
			}
			first[s.Party] = y
			return s.Linear(src, k, xs[s.Party])
		})
		want := refConv(p, w, x)
		hw := p.OutH() * p.OutW()
		for i := range want {
			want[i] += bias[(i/hw)%p.K]
		}
		equalVec(t, "linear", reconstruct(t, r), want)
		equalVec(t, "linear, first inference", reconstruct(t, [2]result{{Out: first[0]}, {Out: first[1]}}), want)
		// A reused input mask R would repeat both parties' shares (the
		// server's W ⊛ (x − R) + [B⊛R]₀, the client's Ŵ ⊛ R + [B⊛R]₁).
		for q := range 2 {
			privacytest.FreshWords(t, fmt.Sprintf("%v's output shares of two inferences", mpc.Party(q)), first[q], r[q].Out)
		}
		// Online: the client sends 8 B per input element per inference;
		// the server never sends, so the two messages form one round.
		checkCost(t, r, 2*8*int64(p.XLen()), 0, 1)
		off := r[0].Conn.Stats().Snapshot().Phases[transport.PhaseOffline]
		if off.BytesSent != 8*int64(p.WLen()) {
			t.Errorf("setup sent %d bytes, want %d", off.BytesSent, 8*p.WLen())
		}
		// Dealer: the server gets seeds only; the client R's seed and [BR]₁.
		if got, want := r[1].Prov.Offline().ByKind[mpc.KindLinear], int64(2*8*p.YLen()); got < want || got > want+200 {
			t.Errorf("client linear dealer bytes %d, want ≈ %d", got, want)
		}
		if got := r[0].Prov.Offline().Bytes; got > 200 {
			t.Errorf("server dealer bytes %d, want only seeds", got)
		}
	}
}

func TestMulSquare(t *testing.T) {
	const n = 500
	x, y := randSigned(n, 64, 7), randSigned(n, 64, 8)
	xs, ys := split(x, 9), split(y, 10)
	r := run2(t, 4, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
		z, err := s.Mul(src, "m", xs[s.Party], ys[s.Party])
		if err != nil {
			return nil, err
		}
		q, err := s.Square(src, "q", xs[s.Party])
		return append(z, q...), err
	})
	want := make([]uint64, 2*n)
	for i := range x {
		want[i], want[n+i] = x[i]*y[i], x[i]*x[i]
	}
	equalVec(t, "mul|square", reconstruct(t, r), want)
	checkCost(t, r, 32*n+16*n, 2, 2)
}

// polyCoefs returns per-channel real coefficients (c0, c1, c2).
func polyCoefs(C int) [][]float64 {
	co := make([][]float64, C)
	for c := range co {
		co[c] = []float64{0.2 + 0.01*float64(c), 0.5 - 0.03*float64(c), 0.19947 * float64(1+c%3) * float64(1-2*(c%2))}
	}
	return co
}

// polyRef is the plaintext fixed-point polynomial of the protocol at
// f = frac: see polyRefF.
func polyRef(co []float64, z uint64) uint64 { return polyRefF(co, z, frac) }

// polyRefF is the fixed-point semantics of the polynomial activation: for
// z at scale 2f and C2, C1, C0 = c2, c1, c0 encoded at f, 2f, 3f
// fractional bits, P = C2·z² + 2^f·C1·z + 2^2f·C0 (scale 5f, exact) and
// the result is floor(P / 2^4f) at scale f (the protocol may add one).
func polyRefF(co []float64, z uint64, f uint) uint64 {
	c0 := big.NewInt(int64(ring.Encode(co[0], 3*f)))
	c1 := big.NewInt(int64(ring.Encode(co[1], 2*f)))
	c2 := big.NewInt(int64(ring.Encode(co[2], f)))
	zb := big.NewInt(int64(z))
	p := new(big.Int).Mul(c2, zb)
	p.Mul(p, zb)
	p.Add(p, new(big.Int).Lsh(new(big.Int).Mul(c1, zb), f))
	p.Add(p, new(big.Int).Lsh(c0, 2*f))
	return uint64(p.Rsh(p, 4*f).Int64())
}

func TestPoly(t *testing.T) {
	spec := corr.ActSpec{N: 2, C: 3, HW: 10}
	co := polyCoefs(spec.C)
	x := randSigned(spec.Len(), 2*frac+4, 11) // |z| < 8 at 2f
	xs := split(x, 12)
	r := run2(t, 5, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
		transport.SetPhase(s.Conn, transport.PhaseOffline)
		var c [][]float64
		if s.Party == mpc.Server {
			c = co
		}
		k, err := s.SetupPoly(src, "p", spec.C, c)
		if err != nil {
			return nil, err
		}
		if s.Party == mpc.Server {
			if off := s.Conn.Stats().Total().BytesSent; off != 48*int64(spec.C) {
				t.Errorf("poly setup sent %d bytes, want %d", off, 48*spec.C)
			}
		}
		// A send burst spanning the phases would count as one round:
		// restart the counters for the online phase.
		s.Conn.Stats().Reset()
		transport.SetPhase(s.Conn, transport.PhaseOnline)
		return s.Poly(src, k, spec, xs[s.Party])
	})
	want := make([]uint64, len(x))
	for i, v := range x {
		want[i] = polyRef(co[(i/spec.HW)%spec.C], v)
	}
	got := reconstruct(t, r)
	closeVec(t, "poly", got, want, 1)
	checkCost(t, r, 16*int64(len(x)), 1, 1)
	// Real-valued sanity: decode and compare with float evaluation.
	for i, v := range x {
		xf := ring.Decode(v, 2*frac)
		c := co[(i/spec.HW)%spec.C]
		wf := c[2]*xf*xf + c[1]*xf + c[0]
		if d := math.Abs(ring.Decode(got[i], frac) - wf); d > 1e-3 {
			t.Fatalf("poly[%d] = %g, float %g", i, ring.Decode(got[i], frac), wf)
		}
	}
}

// actRef is the plaintext fixed-point mixed activation for z at 2f.
func actRef(spec corr.ActSpec, co [][]float64, z []uint64) []uint64 {
	return actRefF(spec, co, z, frac)
}

func actRefF(spec corr.ActSpec, co [][]float64, z []uint64, frac uint) []uint64 {
	y := make([]uint64, len(z))
	per := spec.C * spec.HW
	for i, v := range z {
		pos := i % per
		if spec.ReLU != nil && spec.ReLU.At(pos) {
			if x := uint64(int64(v) >> frac); int64(x) > 0 {
				y[i] = x
			}
			continue
		}
		y[i] = polyRefF(co[pos/spec.HW], v, frac)
	}
	return y
}

// TestActPrecisions runs a mixed layer at other fixed-point precisions and
// gate widths.
func TestActPrecisions(t *testing.T) {
	spec := corr.ActSpec{N: 1, C: 3, HW: 20, ReLU: maskWhere(60, func(i int) bool { return i%2 == 0 })}
	co := polyCoefs(3)
	for _, tc := range []struct {
		f   uint
		ell int
	}{{12, 0}, {20, 0}, {16, 48}, {12, 30}} {
		z := randSigned(spec.Len(), 2*tc.f+3, byte(tc.f)) // |z| < 4
		zs := split(z, byte(tc.ell))
		r := run2(t, 40, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
			s.Frac, s.Ell = tc.f, tc.ell
			var c [][]float64
			if s.Party == mpc.Server {
				c = co
			}
			k, err := s.SetupPoly(src, "act", 3, c)
			if err != nil {
				return nil, err
			}
			return s.Act(src, "act", k, spec, zs[s.Party])
		})
		closeVec(t, fmt.Sprintf("act f=%d ell=%d", tc.f, tc.ell), reconstruct(t, r), actRefF(spec, co, z, tc.f), 1)
		// Polynomial positions need no FSS keys: the client gets four 24-byte
		// and four 16-byte corrections per position, the server seeds only.
		npoly := int64(spec.Len() / 2)
		if got := r[1].Prov.Offline().ByKind[mpc.KindPoly]; got < 160*npoly || got > 160*npoly+100 {
			t.Errorf("ell=%d: client's poly dealer bytes %d, want ≈ %d", tc.ell, got, 160*npoly)
		}
		if got := r[0].Prov.Offline().ByKind[mpc.KindPoly]; got > 200 {
			t.Errorf("ell=%d: server's poly dealer bytes %d, want seeds only", tc.ell, got)
		}
		if got := r[0].Prov.Offline().ByKind[fssgates.KindTrunc]; got != 0 {
			t.Errorf("ell=%d: %d truncation dealer bytes, want none", tc.ell, got)
		}
	}
	// A precision the polynomial cannot represent is refused.
	run2(t, 41, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
		s.Frac = 21
		if _, err := s.SetupPoly(src, "p", 1, [][]float64{{0, 1, 0}}); err == nil {
			t.Error("f = 21 accepted for a polynomial")
		}
		return nil, nil
	})
}

func TestActMixed(t *testing.T) {
	spec := corr.ActSpec{N: 2, C: 4, HW: 9}
	spec.ReLU = maskWhere(spec.C*spec.HW, func(i int) bool { return i%3 != 1 })
	nrelu := spec.ReLU.Count()
	npoly := spec.C*spec.HW - nrelu
	co := polyCoefs(spec.C)
	z := randSigned(spec.Len(), 2*frac+4, 13) // |z| < 8 at 2f
	zs := split(z, 14)
	r := run2(t, 6, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
		transport.SetPhase(s.Conn, transport.PhaseOffline)
		var c [][]float64
		if s.Party == mpc.Server {
			c = co
		}
		k, err := s.SetupPoly(src, "act", spec.C, c)
		if err != nil {
			return nil, err
		}
		s.Conn.Stats().Reset()
		transport.SetPhase(s.Conn, transport.PhaseOnline)
		return s.Act(src, "act", k, spec, zs[s.Party])
	})
	got := reconstruct(t, r)
	want := actRef(spec, co, z)
	closeVec(t, "act", got, want, 1)
	for i := range got { // ReLU of a negative input is exactly 0
		if spec.ReLU.At(i%(spec.C*spec.HW)) && int64(z[i]) < 0 && got[i] != 0 {
			t.Fatalf("act ReLU position %d = %d, want 0", i, int64(got[i]))
		}
	}
	// ReLU (truncation fused) and polynomial (truncation included): 16 B
	// each, one round for the whole layer.
	checkCost(t, r, int64(spec.N)*(16*int64(nrelu)+16*int64(npoly)), 1, 1)

	// ReLU-only layer: 16 B per ReLU including its truncation, 1 round.
	spec2 := corr.ActSpec{N: 3, C: 2, HW: 8, ReLU: maskWhere(16, func(i int) bool { return true })}
	z2 := randSigned(spec2.Len(), 2*frac+6, 15)
	zs2 := split(z2, 16)
	r2 := run2(t, 7, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
		return s.Act(src, "relu", nil, spec2, zs2[s.Party])
	})
	closeVec(t, "act relu", reconstruct(t, r2), actRef(spec2, nil, z2), 1)
	checkCost(t, r2, 16*int64(spec2.Len()), 1, 1)
}

func TestPooling(t *testing.T) {
	p := mpc.PoolSpec{N: 2, C: 3, H: 7, W: 6, K: 3, Stride: 2, Pad: 1}
	x := randSigned(p.N*p.C*p.H*p.W, 24, 17)
	xs := split(x, 18)
	r := run2(t, 8, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
		m, err := s.MaxPool(src, "mp", p, xs[s.Party])
		if err != nil {
			return nil, err
		}
		g, err := mpc.GlobalSumPool(2, 3, 7, xs[s.Party][:42-10])
		if err == nil {
			t.Error("GlobalSumPool accepted a wrong size")
		}
		g, err = mpc.GlobalSumPool(1, 2, 12, xs[s.Party][:24])
		if err != nil {
			return nil, err
		}
		return append(m, g...), nil
	})
	got := reconstruct(t, r)
	// Reference max pool (padding ignored).
	var want []uint64
	for nc := 0; nc < p.N*p.C; nc++ {
		for i := 0; i < p.OutH(); i++ {
			for j := 0; j < p.OutW(); j++ {
				best := int64(math.MinInt64)
				for a := 0; a < p.K; a++ {
					for b := 0; b < p.K; b++ {
						h, w := i*p.Stride-p.Pad+a, j*p.Stride-p.Pad+b
						if h >= 0 && h < p.H && w >= 0 && w < p.W {
							best = max(best, int64(x[(nc*p.H+h)*p.W+w]))
						}
					}
				}
				want = append(want, uint64(best))
			}
		}
	}
	for c := 0; c < 2; c++ {
		var s uint64
		for _, v := range x[c*12 : (c+1)*12] {
			s += v
		}
		want = append(want, s)
	}
	nmax := p.OutLen()
	equalVec(t, "max pool", got[:nmax], want[:nmax])
	// Global sum pool: local and exact.
	equalVec(t, "global sum pool", got[nmax:], want[nmax:])
	// Max pool: ⌈log2 9⌉ = 4 ReLU rounds; the sum costs nothing.
	outs := int64(p.OutLen())
	checkCost(t, r, 16*8*outs-16*int64(missing(p)), 4, 4)
}

// missing counts the comparisons saved by windows cut by the padding.
func missing(p mpc.PoolSpec) int {
	m := 0
	for i := 0; i < p.OutH(); i++ {
		for j := 0; j < p.OutW(); j++ {
			n := 0
			for a := 0; a < p.K; a++ {
				for b := 0; b < p.K; b++ {
					h, w := i*p.Stride-p.Pad+a, j*p.Stride-p.Pad+b
					if h >= 0 && h < p.H && w >= 0 && w < p.W {
						n++
					}
				}
			}
			m += p.K*p.K - n
		}
	}
	return m * p.N * p.C
}

func TestInputAndReveal(t *testing.T) {
	x := randSigned(100, 30, 21)
	r := run2(t, 9, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
		var in []uint64
		if s.Party == mpc.Client {
			in = x
		}
		sh, err := s.ShareInput(in, len(x))
		if err != nil {
			return nil, err
		}
		// Re-randomise through a ReLU so the server's share is non-trivial.
		y, err := fssgates.ReLU(s, src, "r", sh, 0)
		if err != nil {
			return nil, err
		}
		return s.RevealToClient("out", y)
	})
	if r[0].Out != nil {
		t.Fatal("the server learned the output")
	}
	want := make([]uint64, len(x))
	for i, v := range x {
		if int64(v) > 0 {
			want[i] = v
		}
	}
	equalVec(t, "revealed", r[1].Out, want)
	c0 := online(r[0])
	if c0.BytesRecv != 8*100 {
		t.Errorf("server received %d bytes, want %d (ReLU opening only)", c0.BytesRecv, 800)
	}
}

// TestLayerPipelining: a linear layer followed by a ReLU activation layer
// costs one round per party in total, because the client's two messages
// (masked input, its half of the activation's opening) go back to back.
func TestLayerPipelining(t *testing.T) {
	p1, p2 := corr.DenseSpec(1, 12, 8), corr.DenseSpec(1, 8, 3)
	w1, w2 := randSigned(p1.WLen(), 14, 100), randSigned(p2.WLen(), 14, 101)
	spec := corr.ActSpec{N: 1, C: 8, HW: 1, ReLU: corr.MaskOf([]bool{true, true, true, true, true, true, true, true})}
	x := randSigned(12, frac+1, 102)
	r := run2(t, 60, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
		var a, b, in []uint64
		if s.Party == mpc.Server {
			a, b = w1, w2
		} else {
			in = x
		}
		k1, err := s.SetupLinear(src, "fc1", p1, a, nil)
		if err != nil {
			return nil, err
		}
		k2, err := s.SetupLinear(src, "fc2", p2, b, nil)
		if err != nil {
			return nil, err
		}
		s.Conn.Stats().Reset()
		h, _ := s.ShareInput(in, 12)
		if h, err = s.Linear(src, k1, h); err != nil {
			return nil, err
		}
		if h, err = s.Act(src, "act", nil, spec, h); err != nil {
			return nil, err
		}
		if h, err = s.Linear(src, k2, h); err != nil {
			return nil, err
		}
		return s.RevealToClient("out", h)
	})
	// Client: [x−R, act opening], [x₂−R₂]; server: [act opening], [reveal].
	checkCost(t, r, 8*12+16*8+8*8+8*3, 2, 2)
	want := refConv(p2, w2, actRef(spec, nil, refConv(p1, w1, x)))
	closeVec(t, "pipelined logits", r[1].Out, want, 8<<14)
}

func TestEdgeCases(t *testing.T) {
	spec := corr.ActSpec{N: 2, C: 2, HW: 3} // all polynomial
	co := polyCoefs(2)
	z := randSigned(spec.Len(), 2*frac+3, 110)
	zs := split(z, 111)
	x := randSigned(12, 20, 112)
	xs := split(x, 113)
	r := run2(t, 90, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
		var c [][]float64
		if s.Party == mpc.Server {
			c = co
		}
		k, err := s.SetupPoly(src, "act", 2, c)
		if err != nil {
			return nil, err
		}
		y, err := s.Act(src, "act", k, spec, zs[s.Party])
		if err != nil {
			return nil, err
		}
		// Empty gate batches and 1×1 pools need no messages.
		for _, f := range []func() ([]uint64, error){
			func() ([]uint64, error) { return fssgates.ReLU(s, src, "e", nil, 0) },
			func() ([]uint64, error) { return fssgates.ReLUTrunc(s, src, "e", nil, 16, 0) },
			func() ([]uint64, error) { return fssgates.Trunc(s, src, "e", nil, 16, 0) },
		} {
			if e, err := f(); err != nil || len(e) != 0 {
				t.Errorf("empty batch: %v, %d values", err, len(e))
			}
		}
		p1 := mpc.PoolSpec{N: 1, C: 3, H: 2, W: 2, K: 1, Stride: 1}
		m, err := s.MaxPool(src, "mp1", p1, xs[s.Party])
		if err != nil {
			return nil, err
		}
		return append(y, m...), nil
	})
	got := reconstruct(t, r)
	closeVec(t, "all-poly act", got[:spec.Len()], actRef(spec, co, z), 1)
	equalVec(t, "1×1 max pool", got[spec.Len():spec.Len()+12], x)
	// Setup (48 B per channel, server → client) and an all-polynomial
	// layer (16 B per position) in one round; nothing else.
	checkCost(t, r, 16*int64(spec.Len())+48*2, 1, 1)
}

// TestTruncMSB runs the MSB-trick truncation over the pipe: floor or one
// more for inputs across |x| < 2^61, 16 B per element, one round, and the
// dealer sends the client 16 B per element (two explicit shares) and the
// server only seeds.
func TestTruncMSB(t *testing.T) {
	const n = 600
	x := randSigned(n, 61, 120)
	for i := 0; i < 8; i++ { // range ends
		x[i] = uint64(1)<<61 - 1 - uint64(i)
		x[8+i] = -x[i]
	}
	xs := split(x, 121)
	for _, shift := range []uint{1, 16, 40, 61} {
		r := run2(t, 122, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
			return s.TruncMSB(src, "t", xs[s.Party], shift)
		})
		want := make([]uint64, n)
		for i, v := range x {
			want[i] = uint64(int64(v) >> shift)
		}
		got := reconstruct(t, r)
		for i := range got {
			if d := got[i] - want[i]; d > 1 {
				t.Fatalf("shift %d: trunc-msb(%d) = %d, want %d or one more", shift, int64(x[i]), int64(got[i]), int64(want[i]))
			}
		}
		checkCost(t, r, 16*n, 1, 1)
		if d := r[1].Prov.Offline().ByKind[mpc.KindTruncMSB]; d < 16*n || d > 16*n+80 {
			t.Errorf("client dealer bytes %d, want ≈ %d", d, 16*n)
		}
		if d := r[0].Prov.Offline().ByKind[mpc.KindTruncMSB]; d > 80 {
			t.Errorf("server dealer bytes %d, want seeds only", d)
		}
	}
	run2(t, 123, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
		if _, err := s.TruncMSB(src, "t", xs[s.Party], 62); err == nil {
			t.Error("shift 62 accepted")
		}
		return nil, nil
	})
}
