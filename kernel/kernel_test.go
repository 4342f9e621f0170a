package kernel

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/autorep/autorep/kernel/ref"
)

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// agree fails unless got and want agree to a relative tolerance scaled by
// the largest magnitude of want (sums of many terms cancel).
func agree(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var scale float64
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if d > tol*(1+scale) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: [%d] = %g, want %g (scale %g)", what, i, got[i], want[i], scale)
		}
	}
}

var convCases = []ConvParams{
	{N: 1, C: 1, H: 5, W: 5, K: 1, R: 3, S: 3, PadH: 1, PadW: 1},
	{N: 2, C: 3, H: 7, W: 6, K: 4, R: 3, S: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{N: 2, C: 4, H: 5, W: 5, K: 6, R: 3, S: 2, StrideH: 1, StrideW: 2, PadH: 0, PadW: 1, Groups: 2},
	{N: 1, C: 4, H: 4, W: 4, K: 4, R: 3, S: 3, PadH: 1, PadW: 1, Groups: 4},
	{N: 3, C: 2, H: 6, W: 5, K: 3, R: 1, S: 1, StrideH: 2, StrideW: 2},
	{N: 2, C: 16, H: 8, W: 8, K: 32, R: 3, S: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{N: 3, C: 32, H: 5, W: 7, K: 16, R: 3, S: 3, PadH: 1, PadW: 1},
	{N: 2, C: 16, H: 8, W: 8, K: 32, R: 1, S: 1, StrideH: 2, StrideW: 2},
	{N: 1, C: 3, H: 9, W: 9, K: 16, R: 3, S: 3, PadH: 1, PadW: 1},
	{N: 2, C: 32, H: 6, W: 6, K: 32, R: 3, S: 3, PadH: 1, PadW: 1, Groups: 2},
	{N: 1, C: 5, H: 6, W: 6, K: 7, R: 2, S: 2, PadH: 2, PadW: 2},
	{N: 2, C: 32, H: 8, W: 8, K: 32, R: 3, S: 3, PadH: 1, PadW: 1}, // Winograd under AlgoAuto
	{N: 3, C: 64, H: 5, W: 7, K: 48, R: 3, S: 3, PadH: 1, PadW: 1}, // Winograd, odd spatial size
	{N: 1, C: 32, H: 9, W: 9, K: 32, R: 3, S: 3, PadH: 0, PadW: 0}, // Winograd, no padding
}

func TestConvMatchesRef(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, l := range []Layout{NCHW, Blocked} {
		for _, p := range convCases {
			name := fmt.Sprintf("%v %+v", l, p)
			o := ConvOpts{Layout: l}
			c, r := NewConvOpts(p, o), ref.NewConvOpts(p, o)
			x, w, b := randSlice(rng, p.XLen()), randSlice(rng, c.Params().WLen()), randSlice(rng, p.K)
			dy := randSlice(rng, p.YLen())
			y, yr := make([]float32, p.YLen()), make([]float32, p.YLen())
			c.Forward(x, w, b, y)
			r.Forward(x, w, b, yr)
			agree(t, name+" forward", y, yr, 1e-5)
			c.Forward(x, w, nil, y)
			r.Forward(x, w, nil, yr)
			agree(t, name+" forward no bias", y, yr, 1e-5)
			dx, dxr := make([]float32, len(x)), make([]float32, len(x))
			c.BackwardData(dy, w, dx)
			r.BackwardData(dy, w, dxr)
			agree(t, name+" backward data", dx, dxr, 1e-5)
			dw, dwr := make([]float32, len(w)), make([]float32, len(w))
			db, dbr := make([]float32, p.K), make([]float32, p.K)
			c.BackwardWeights(x, dy, dw, db)
			r.BackwardWeights(x, dy, dwr, dbr)
			agree(t, name+" backward weights", dw, dwr, 1e-5)
			agree(t, name+" backward bias", db, dbr, 1e-5)
			c.BackwardWeights(x, dy, dw, nil)
			agree(t, name+" backward weights, no bias", dw, dwr, 1e-5)
			clear(dx)
			clear(dw)
			clear(db)
			c.Backward(x, dy, w, dx, dw, db)
			agree(t, name+" combined dx", dx, dxr, 1e-5)
			agree(t, name+" combined dw", dw, dwr, 1e-5)
			agree(t, name+" combined dbias", db, dbr, 1e-5)
			clear(dw)
			c.Backward(x, dy, nil, nil, dw, nil)
			agree(t, name+" combined dw only", dw, dwr, 1e-5)
			clear(dx)
			c.Backward(nil, dy, w, dx, nil, nil)
			agree(t, name+" combined dx only", dx, dxr, 1e-5)
		}
	}
}

// winogradAvailable reports whether oneDNN implements Winograd for p on
// this CPU (it needs AVX-512); NewConvOpts panics otherwise.
func winogradAvailable(p ConvParams) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	NewConvOpts(p, ConvOpts{Algo: AlgoWinograd})
	return true
}

// TestConvAlgorithms forces each algorithm on Winograd-capable shapes and
// compares with the reference (Winograd rounds differently: looser bound).
func TestConvAlgorithms(t *testing.T) {
	rng := rand.New(rand.NewSource(14))
	for _, p := range []ConvParams{
		{N: 2, C: 16, H: 8, W: 8, K: 16, R: 3, S: 3, PadH: 1, PadW: 1},
		{N: 2, C: 32, H: 6, W: 10, K: 64, R: 3, S: 3, PadH: 1, PadW: 1},
	} {
		for _, a := range []Algo{AlgoDirect, AlgoWinograd} {
			if a == AlgoWinograd && !winogradAvailable(p) {
				t.Logf("oneDNN has no Winograd kernel for this CPU; skipping %+v", p)
				continue
			}
			for _, l := range []Layout{NCHW, Blocked} {
				for _, post := range []ConvOpts{{}, {Sum: true, ReLU: true}} {
					o := post
					o.Layout, o.Algo = l, a
					name := fmt.Sprintf("%+v %+v", p, o)
					c, r := NewConvOpts(p, o), ref.NewConvOpts(p, o)
					x, w, b := randSlice(rng, p.XLen()), randSlice(rng, p.WLen()), randSlice(rng, p.K)
					y := randSlice(rng, p.YLen())
					yr := append([]float32(nil), y...)
					c.Forward(x, w, b, y)
					r.Forward(x, w, b, yr)
					agree(t, name+" forward", y, yr, 1e-4)
					if o.ReLU {
						continue
					}
					dy := randSlice(rng, p.YLen())
					dx, dxr := make([]float32, len(x)), make([]float32, len(x))
					dw, dwr := make([]float32, len(w)), make([]float32, len(w))
					db, dbr := make([]float32, p.K), make([]float32, p.K)
					c.Backward(x, dy, w, dx, dw, db)
					r.Backward(x, dy, w, dxr, dwr, dbr)
					agree(t, name+" dx", dx, dxr, 1e-4)
					agree(t, name+" dw", dw, dwr, 1e-4)
					agree(t, name+" dbias", db, dbr, 1e-4)
					t.Logf("%s: %q", name, c.Impl())
				}
			}
		}
	}
}

func TestConvPostOps(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, p := range []ConvParams{
		{N: 2, C: 16, H: 6, W: 6, K: 16, R: 3, S: 3, PadH: 1, PadW: 1},
		{N: 1, C: 3, H: 5, W: 7, K: 5, R: 3, S: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	} {
		for _, l := range []Layout{NCHW, Blocked} {
			for _, o := range []ConvOpts{{ReLU: true}, {Sum: true}, {Sum: true, ReLU: true}} {
				o.Layout = l
				name := fmt.Sprintf("%+v %+v", p, o)
				c, r := NewConvOpts(p, o), ref.NewConvOpts(p, o)
				x, w, b := randSlice(rng, p.XLen()), randSlice(rng, p.WLen()), randSlice(rng, p.K)
				y := randSlice(rng, p.YLen())
				yr := append([]float32(nil), y...)
				c.Forward(x, w, b, y)
				r.Forward(x, w, b, yr)
				agree(t, name, y, yr, 1e-5)
				if o.ReLU {
					func() {
						defer func() {
							if recover() == nil {
								t.Errorf("%s: BackwardData did not panic", name)
							}
						}()
						c.BackwardData(y, w, x)
					}()
				} else {
					dy := randSlice(rng, p.YLen())
					dx, dxr := make([]float32, len(x)), make([]float32, len(x))
					c.BackwardData(dy, w, dx)
					r.BackwardData(dy, w, dxr)
					agree(t, name+" backward data", dx, dxr, 1e-5)
				}
			}
		}
	}
}

func TestFoldBatchNorm(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	p := ConvParams{N: 2, C: 16, H: 5, W: 5, K: 32, R: 3, S: 3, PadH: 1, PadW: 1}
	x, w, b := randSlice(rng, p.XLen()), randSlice(rng, p.WLen()), randSlice(rng, p.K)
	g, be, m, v := randSlice(rng, p.K), randSlice(rng, p.K), randSlice(rng, p.K), randSlice(rng, p.K)
	for i := range v {
		v[i] = v[i]*v[i] + 0.5
	}
	c := NewConvOpts(p, ConvOpts{Layout: Blocked})
	y, z := make([]float32, p.YLen()), make([]float32, p.YLen())
	c.Forward(x, w, b, y)
	NewBatchNorm(p.N, p.K, p.OutH()*p.OutW(), 1e-5, Blocked).InferForward(y, g, be, m, v, z)
	wf := append([]float32(nil), w...)
	bf := FoldBatchNorm(wf, b, g, be, m, v, 1e-5)
	c.Forward(x, wf, bf, y)
	agree(t, "folded", y, z, 1e-5)
}

func TestBatchNormMatchesRef(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	shapes := [][3]int{{1, 1, 1 * 7}, {4, 3, 25}, {2, 16, 64}, {3, 32, 9}, {1, 48, 4}}
	const eps = 1e-5
	for _, l := range []Layout{NCHW, Blocked} {
		for _, s := range shapes {
			n, c, hw := s[0], s[1], s[2]
			if n*hw == 1 {
				continue
			}
			name := fmt.Sprintf("%v n%d c%d hw%d", l, n, c, hw)
			b, r := NewBatchNorm(n, c, hw, eps, l), ref.NewBatchNorm(n, c, hw, eps, l)
			x, dy := randSlice(rng, n*c*hw), randSlice(rng, n*c*hw)
			for i := range x {
				x[i] = 3*x[i] + 1 // nonzero mean, non-unit variance
			}
			gamma, beta := randSlice(rng, c), randSlice(rng, c)
			y, yr := make([]float32, len(x)), make([]float32, len(x))
			m, v, mr, vr := make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
			b.TrainForward(x, gamma, beta, y, m, v)
			r.TrainForward(x, gamma, beta, yr, mr, vr)
			agree(t, name+" train y", y, yr, 1e-4)
			agree(t, name+" mean", m, mr, 1e-5)
			agree(t, name+" variance", v, vr, 1e-5)
			dx, dxr := make([]float32, len(x)), make([]float32, len(x))
			dg, dgr, dbt, dbtr := make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
			b.Backward(x, dy, gamma, m, v, dx, dg, dbt)
			r.Backward(x, dy, gamma, mr, vr, dxr, dgr, dbtr)
			agree(t, name+" dx", dx, dxr, 1e-4)
			agree(t, name+" dgamma", dg, dgr, 1e-4)
			agree(t, name+" dbeta", dbt, dbtr, 1e-4)
			// Fused ReLU; the backward pass in place (dx = dy).
			b.TrainForwardReLU(x, gamma, beta, y, m, v)
			r.TrainForwardReLU(x, gamma, beta, yr, mr, vr)
			agree(t, name+" relu y", y, yr, 1e-4)
			copy(dx, dy)
			b.BackwardReLU(x, y, dx, gamma, m, v, dx, dg, dbt)
			r.BackwardReLU(x, yr, dy, gamma, mr, vr, dxr, dgr, dbtr)
			agree(t, name+" relu dx", dx, dxr, 1e-4)
			agree(t, name+" relu dgamma", dg, dgr, 1e-4)
			agree(t, name+" relu dbeta", dbt, dbtr, 1e-4)
			res := randSlice(rng, len(x))
			b.TrainForwardAddReLU(x, res, gamma, beta, y, m, v)
			r.TrainForwardAddReLU(x, res, gamma, beta, yr, mr, vr)
			agree(t, name+" add+relu y", y, yr, 1e-4)
			dres, dresr := make([]float32, len(x)), make([]float32, len(x))
			copy(dx, dy)
			b.BackwardAddReLU(x, y, dx, gamma, m, v, dx, dres, dg, dbt)
			r.BackwardAddReLU(x, yr, dy, gamma, mr, vr, dxr, dresr, dgr, dbtr)
			agree(t, name+" add+relu dx", dx, dxr, 1e-4)
			agree(t, name+" add+relu dres", dres, dresr, 1e-6)
			agree(t, name+" add+relu dgamma", dg, dgr, 1e-4)
			agree(t, name+" add+relu dbeta", dbt, dbtr, 1e-4)
			rm, rv := randSlice(rng, c), randSlice(rng, c)
			for i := range rv {
				rv[i] = rv[i]*rv[i] + 0.1
			}
			b.InferForward(x, gamma, beta, rm, rv, y)
			r.InferForward(x, gamma, beta, rm, rv, yr)
			agree(t, name+" infer", y, yr, 1e-5)
			if l == NCHW {
				BatchNormTrainForward(n, c, hw, x, gamma, beta, y, m, v, eps)
				ref.BatchNormTrainForward(n, c, hw, x, gamma, beta, yr, mr, vr, eps)
				agree(t, name+" func train", y, yr, 1e-4)
				BatchNormBackward(n, c, hw, x, dy, gamma, m, v, dx, dg, dbt, eps)
				ref.BatchNormBackward(n, c, hw, x, dy, gamma, mr, vr, dxr, dgr, dbtr, eps)
				agree(t, name+" func dx", dx, dxr, 1e-4)
				BatchNormInferForward(n, c, hw, x, gamma, beta, rm, rv, y, eps)
				ref.BatchNormInferForward(n, c, hw, x, gamma, beta, rm, rv, yr, eps)
				agree(t, name+" func infer", y, yr, 1e-5)
			}
		}
	}
}

var poolCases = []PoolParams{
	{N: 1, C: 1, H: 4, W: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
	{N: 2, C: 3, H: 7, W: 5, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{N: 1, C: 2, H: 5, W: 6, KH: 3, KW: 2, StrideH: 1, StrideW: 2, PadH: 1},
	{N: 2, C: 16, H: 8, W: 8, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
	{N: 3, C: 32, H: 9, W: 7, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{N: 2, C: 3, H: 7, W: 7, KH: 2, KW: 2, StrideH: 3, StrideW: 3}, // stride > window
	{N: 1, C: 16, H: 3, W: 5, KH: 1, KW: 1},                        // identity window
}

func TestPoolMatchesRef(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for _, l := range []Layout{NCHW, Blocked} {
		for _, p := range poolCases {
			name := fmt.Sprintf("%v %+v", l, p)
			x, dy := randSlice(rng, p.XLen()), randSlice(rng, p.YLen())
			y, yr := make([]float32, p.YLen()), make([]float32, p.YLen())
			dx, dxr := make([]float32, p.XLen()), make([]float32, p.XLen())

			m, mr := NewMaxPoolLayout(p, l), ref.NewMaxPoolLayout(p, l)
			ws, wsr := make([]byte, m.WorkspaceSize()), make([]byte, mr.WorkspaceSize())
			m.Forward(x, y, ws)
			mr.Forward(x, yr, wsr)
			agree(t, name+" max forward", y, yr, 0)
			m.Backward(dy, ws, dx)
			mr.Backward(dy, wsr, dxr)
			agree(t, name+" max backward", dx, dxr, 1e-6)
			clear(y)
			m.Forward(x, y, nil)
			agree(t, name+" max inference", y, yr, 0)

			a, ar := NewAvgPoolLayout(p, l), ref.NewAvgPoolLayout(p, l)
			a.Forward(x, y)
			ar.Forward(x, yr)
			agree(t, name+" avg forward", y, yr, 1e-6)
			a.Backward(dy, dx)
			ar.Backward(dy, dxr)
			agree(t, name+" avg backward", dx, dxr, 1e-6)
		}
	}
}

func TestGlobalAvgPoolMatchesRef(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, l := range []Layout{NCHW, Blocked} {
		for _, s := range [][3]int{{1, 1, 1}, {2, 3, 10}, {4, 64, 64}, {2, 32, 49}} {
			n, c, hw := s[0], s[1], s[2]
			name := fmt.Sprintf("%v %v", l, s)
			g, gr := NewGlobalAvgPool(n, c, hw, l), ref.NewGlobalAvgPool(n, c, hw, l)
			x, dy := randSlice(rng, n*c*hw), randSlice(rng, n*c)
			y, yr := make([]float32, n*c), make([]float32, n*c)
			g.Forward(x, y)
			gr.Forward(x, yr)
			agree(t, name+" forward", y, yr, 1e-6)
			dx, dxr := make([]float32, len(x)), make([]float32, len(x))
			g.Backward(dy, dx)
			gr.Backward(dy, dxr)
			agree(t, name+" backward", dx, dxr, 1e-6)
			if l == NCHW {
				GlobalAvgPoolForward(n, c, hw, x, y)
				agree(t, name+" func forward", y, yr, 1e-6)
				GlobalAvgPoolBackward(n, c, hw, dy, dx)
				agree(t, name+" func backward", dx, dxr, 1e-6)
			}
		}
	}
}

func TestLayoutRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	for _, s := range [][3]int{{2, 32, 9}, {1, 3, 4}, {3, 16, 1}, {1, 48, 5}} {
		n, c, hw := s[0], s[1], s[2]
		x := randSlice(rng, n*c*hw)
		b, br, back := make([]float32, len(x)), make([]float32, len(x)), make([]float32, len(x))
		ToLayout(Blocked, n, c, hw, x, b)
		ref.ToLayout(Blocked, n, c, hw, x, br)
		agree(t, fmt.Sprint("to blocked ", s), b, br, 0)
		FromLayout(Blocked, n, c, hw, b, back)
		agree(t, fmt.Sprint("round trip ", s), back, x, 0)
		for img := 0; img < n; img++ {
			for ch := 0; ch < c; ch++ {
				for i := 0; i < hw; i++ {
					off := Blocked.Offset(c, hw, ch, i)
					if got, want := b[img*c*hw+off], x[(img*c+ch)*hw+i]; got != want {
						t.Fatalf("%v: Offset(%d,%d) gives %g, want %g", s, ch, i, got, want)
					}
					if got := Blocked.Channel(c, hw, off); got != ch {
						t.Fatalf("%v: Channel(%d) = %d, want %d", s, off, got, ch)
					}
				}
			}
		}
	}
}

func TestSgemmMatchesRef(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for _, d := range [][3]int{{1, 1, 1}, {5, 7, 3}, {64, 33, 129}, {130, 70, 17}} {
		m, n, k := d[0], d[1], d[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				lda, ldb, ldc := k+1, n+2, n+3
				if ta {
					lda = m + 1
				}
				if tb {
					ldb = k + 2
				}
				ar, br := m, k
				if ta {
					ar = k
				}
				if tb {
					br = n
				}
				a, b := randSlice(rng, ar*lda), randSlice(rng, br*ldb)
				c := randSlice(rng, m*ldc)
				cr := append([]float32(nil), c...)
				Sgemm(ta, tb, m, n, k, 1.5, a, lda, b, ldb, 0.25, c, ldc)
				ref.Sgemm(ta, tb, m, n, k, 1.5, a, lda, b, ldb, 0.25, cr, ldc)
				agree(t, fmt.Sprintf("sgemm %v ta=%v tb=%v", d, ta, tb), c, cr, 1e-5)
			}
		}
	}
	c := []float32{float32(math.NaN()), 7}
	Sgemm(false, false, 1, 1, 1, 1, []float32{2}, 1, []float32{3}, 1, 0, c, 1)
	if c[0] != 6 || c[1] != 7 {
		t.Fatalf("beta=0: c = %v, want [6 7]", c)
	}
	Sgemm(false, false, 1, 1, 0, 1, nil, 1, nil, 1, 2, c, 1)
	if c[0] != 12 {
		t.Fatalf("k=0: c = %v, want 12", c[0])
	}
}

func TestBadArgumentsPanic(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	p := ConvParams{N: 1, C: 2, H: 4, W: 4, K: 2, R: 3, S: 3}
	c := NewConv(p)
	mustPanic("short x", func() { c.Forward(make([]float32, 3), make([]float32, p.WLen()), nil, make([]float32, p.YLen())) })
	mustPanic("bad params", func() { NewConv(ConvParams{N: 1, C: 3, H: 4, W: 4, K: 2, R: 3, S: 3, Groups: 2}) })
	mustPanic("short gemm", func() {
		Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
	})
	m := NewMaxPool(poolCases[0])
	mustPanic("short workspace", func() { m.Backward(make([]float32, 4), make([]byte, 1), make([]float32, 16)) })
}

func TestSetThreads(t *testing.T) {
	old := Threads()
	defer SetThreads(old)
	SetThreads(1)
	if Threads() != 1 {
		t.Fatalf("Threads() = %d after SetThreads(1)", Threads())
	}
	// A forward pass still agrees with the reference on one thread.
	rng := rand.New(rand.NewSource(8))
	p := convCases[5]
	x, w := randSlice(rng, p.XLen()), randSlice(rng, p.WLen())
	y, yr := make([]float32, p.YLen()), make([]float32, p.YLen())
	NewConv(p).Forward(x, w, nil, y)
	ref.NewConv(p).Forward(x, w, nil, yr)
	agree(t, "one thread", y, yr, 1e-5)
	SetThreads(0)
	if Threads() < 1 {
		t.Fatalf("Threads() = %d after SetThreads(0)", Threads())
	}
}

// TestConcurrentUse runs convolutions and batch norms from several
// goroutines at once: calls are serialised inside the package and must not
// disturb each other's intermediate buffers.
func TestConcurrentUse(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	type job struct {
		c       *Conv
		x, w, y []float32
		want    []float32
	}
	var jobs []job
	for i, p := range []ConvParams{convCases[5], convCases[6], convCases[1], convCases[9]} {
		l := Layout(i % 2)
		c := NewConvOpts(p, ConvOpts{Layout: l})
		j := job{c: c, x: randSlice(rng, p.XLen()), w: randSlice(rng, p.WLen()), y: make([]float32, p.YLen()), want: make([]float32, p.YLen())}
		ref.NewConvOpts(p, ConvOpts{Layout: l}).Forward(j.x, j.w, nil, j.want)
		jobs = append(jobs, j)
	}
	errs := make(chan error, len(jobs))
	for _, j := range jobs {
		go func() {
			for range 20 {
				clear(j.y)
				j.c.Forward(j.x, j.w, nil, j.y)
				for i := range j.y {
					if math.Abs(float64(j.y[i]-j.want[i])) > 1e-4*(1+math.Abs(float64(j.want[i]))) {
						errs <- fmt.Errorf("%v: y[%d] = %g, want %g", j.c, i, j.y[i], j.want[i])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range jobs {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestNoAllocations checks that the hot-path calls do not allocate Go
// memory once their primitives exist.
func TestNoAllocations(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	p := convCases[5]
	c := NewConvOpts(p, ConvOpts{Layout: Blocked})
	x, w, y := randSlice(rng, p.XLen()), randSlice(rng, p.WLen()), make([]float32, p.YLen())
	dx, dw := make([]float32, p.XLen()), make([]float32, p.WLen())
	n, k, hw := p.N, p.K, p.OutH()*p.OutW()
	bn := NewBatchNorm(n, k, hw, 1e-5, Blocked)
	g, b, m, v := randSlice(rng, k), randSlice(rng, k), make([]float32, k), make([]float32, k)
	z, dz := make([]float32, p.YLen()), make([]float32, p.YLen())
	dg, db := make([]float32, k), make([]float32, k)
	gap := NewGlobalAvgPool(n, k, hw, Blocked)
	pooled := make([]float32, n*k)
	step := func() {
		c.Forward(x, w, nil, y)
		bn.TrainForward(y, g, b, z, m, v)
		gap.Forward(z, pooled)
		gap.Backward(pooled, dz)
		bn.Backward(y, dz, g, m, v, z, dg, db)
		c.Backward(x, z, w, dx, dw, nil)
		Sgemm(false, false, 4, 4, 4, 1, x, 4, x, 4, 0, dx, 4)
	}
	step()
	if a := testing.AllocsPerRun(5, step); a != 0 {
		t.Errorf("%v allocations per step, want 0", a)
	}
}

// TestBatchNormLargeMean checks the statistics when the mean dwarfs the
// spread (one-pass unshifted sums would lose the variance).
func TestBatchNormLargeMean(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	for _, l := range []Layout{NCHW, Blocked} {
		n, c, hw := 8, 16, 300
		x := randSlice(rng, n*c*hw)
		for i := range x {
			x[i] = 1000 + 0.01*x[i]
		}
		g, b := randSlice(rng, c), randSlice(rng, c)
		y, yr := make([]float32, len(x)), make([]float32, len(x))
		m, v, mr, vr := make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
		NewBatchNorm(n, c, hw, 1e-8, l).TrainForward(x, g, b, y, m, v)
		ref.NewBatchNorm(n, c, hw, 1e-8, l).TrainForward(x, g, b, yr, mr, vr)
		for i := range v {
			if math.Abs(float64(v[i]-vr[i])) > 1e-3*float64(vr[i]) {
				t.Fatalf("%v: variance[%d] = %g, want %g", l, i, v[i], vr[i])
			}
		}
		agree(t, fmt.Sprint(l, " normalised"), y, yr, 2e-3)
	}
}

// TestConvWeightCache checks that the kept reordered weights follow the
// caller's data: the same buffer changed in place, a different buffer
// with equal contents, and changed weights between forward and backward.
func TestConvWeightCache(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	for _, p := range []ConvParams{
		{N: 2, C: 16, H: 6, W: 6, K: 32, R: 3, S: 3, PadH: 1, PadW: 1},
		{N: 2, C: 32, H: 6, W: 6, K: 16, R: 3, S: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	} {
		for _, l := range []Layout{NCHW, Blocked} {
			c, r := NewConvOpts(p, ConvOpts{Layout: l}), ref.NewConvOpts(p, ConvOpts{Layout: l})
			x, w := randSlice(rng, p.XLen()), randSlice(rng, p.WLen())
			y, yr := make([]float32, p.YLen()), make([]float32, p.YLen())
			dy := randSlice(rng, p.YLen())
			dx, dxr := make([]float32, p.XLen()), make([]float32, p.XLen())
			for step := 0; step < 4; step++ {
				switch step {
				case 1: // same buffer, new values
					for i := range w {
						w[i] = float32(rng.NormFloat64())
					}
				case 2: // new buffer, same values
					w = append([]float32(nil), w...)
				case 3: // one value changed
					w[len(w)-1] += 1
				}
				c.Forward(x, w, nil, y)
				r.Forward(x, w, nil, yr)
				agree(t, fmt.Sprintf("%v step %d forward", l, step), y, yr, 1e-4)
				c.BackwardData(dy, w, dx)
				r.BackwardData(dy, w, dxr)
				agree(t, fmt.Sprintf("%v step %d dx", l, step), dx, dxr, 1e-4)
			}
		}
	}
}

// TestBatchNormDeterministic checks that batch norm gives bit-identical
// results whatever the thread count and scheduling (training runs and
// their resumed continuations must agree bit for bit).
func TestBatchNormDeterministic(t *testing.T) {
	defer SetThreads(Threads())
	rng := rand.New(rand.NewSource(31))
	const n, c, hw = 24, 32, 49
	x, dy := randSlice(rng, n*c*hw), randSlice(rng, n*c*hw)
	gamma, beta := randSlice(rng, c), randSlice(rng, c)
	for _, l := range []Layout{NCHW, Blocked} {
		var ref []float32
		for run, threads := range []int{1, 2, 2, 3} {
			SetThreads(threads)
			b := NewBatchNorm(n, c, hw, 1e-5, l)
			y, m, v := make([]float32, len(x)), make([]float32, c), make([]float32, c)
			dx, dg, db := make([]float32, len(x)), make([]float32, c), make([]float32, c)
			b.TrainForward(x, gamma, beta, y, m, v)
			b.Backward(x, dy, gamma, m, v, dx, dg, db)
			got := append(append(append(append(append(y, m...), v...), dx...), dg...), db...)
			if run == 0 {
				ref = got
				continue
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("%v, %d threads: value %d = %g, with 1 thread %g", l, threads, i, got[i], ref[i])
				}
			}
		}
	}
}
