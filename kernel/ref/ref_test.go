package ref

import (
	"math"
	"math/rand"
	"testing"
)

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol*(1+math.Abs(want)) {
		t.Errorf("%s: got %.6g, want %.6g", what, got, want)
	}
}

var convCases = []ConvParams{
	{N: 1, C: 1, H: 5, W: 5, K: 1, R: 3, S: 3, PadH: 1, PadW: 1},
	{N: 2, C: 3, H: 7, W: 6, K: 4, R: 3, S: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{N: 2, C: 4, H: 5, W: 5, K: 6, R: 3, S: 2, StrideH: 1, StrideW: 2, PadH: 0, PadW: 1, Groups: 2},
	{N: 1, C: 4, H: 4, W: 4, K: 4, R: 3, S: 3, PadH: 1, PadW: 1, Groups: 4},
	{N: 3, C: 2, H: 6, W: 5, K: 3, R: 1, S: 1, StrideH: 2, StrideW: 2},
}

// im2colConv is an independent forward convolution via im2col + Sgemm.
func im2colConv(p ConvParams, x, w, bias []float32) []float32 {
	p = p.Norm()
	oh, ow := p.OutH(), p.OutW()
	cg, kg := p.C/p.Groups, p.K/p.Groups
	y := make([]float32, p.YLen())
	col := make([]float32, cg*p.R*p.S*oh*ow)
	for n := 0; n < p.N; n++ {
		for g := 0; g < p.Groups; g++ {
			for ci := 0; ci < cg; ci++ {
				for r := 0; r < p.R; r++ {
					for s := 0; s < p.S; s++ {
						row := ((ci*p.R+r)*p.S + s) * oh * ow
						for i := 0; i < oh; i++ {
							for j := 0; j < ow; j++ {
								h, v := i*p.StrideH-p.PadH+r, j*p.StrideW-p.PadW+s
								var e float32
								if h >= 0 && h < p.H && v >= 0 && v < p.W {
									e = x[((n*p.C+g*cg+ci)*p.H+h)*p.W+v]
								}
								col[row+i*ow+j] = e
							}
						}
					}
				}
			}
			out := y[(n*p.K+g*kg)*oh*ow:]
			Sgemm(false, false, kg, oh*ow, cg*p.R*p.S, 1, w[g*kg*cg*p.R*p.S:], cg*p.R*p.S, col, oh*ow, 0, out, oh*ow)
			if bias != nil {
				for k := 0; k < kg; k++ {
					for i := 0; i < oh*ow; i++ {
						out[k*oh*ow+i] += bias[g*kg+k]
					}
				}
			}
		}
	}
	return y
}

func TestConvForwardMatchesIm2col(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, p := range convCases {
		c := NewConv(p)
		x, w, b := randSlice(rng, p.XLen()), randSlice(rng, c.Params().WLen()), randSlice(rng, p.K)
		y := make([]float32, p.YLen())
		c.Forward(x, w, b, y)
		want := im2colConv(p, x, w, b)
		for i := range y {
			if math.Abs(float64(y[i]-want[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("%v: y[%d] = %g, want %g", c, i, y[i], want[i])
			}
		}
	}
}

func TestConvKnownValues(t *testing.T) {
	// 1×1×3×3 input 1..9, 2×2 all-ones kernel, no padding: sums of 2×2 windows.
	c := NewConv(ConvParams{N: 1, C: 1, H: 3, W: 3, K: 1, R: 2, S: 2})
	y := make([]float32, 4)
	c.Forward([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, []float32{1, 1, 1, 1}, []float32{0.5}, y)
	want := []float32{12.5, 16.5, 24.5, 28.5}
	for i := range y {
		if y[i] != want[i] {
			t.Fatalf("y = %v, want %v", y, want)
		}
	}
}

// TestConvBackwardAdjoint checks that the backward passes are the adjoints
// of the forward map: <dy, conv(x,w)> = <dx, x> = <dw, w> (conv is bilinear).
func TestConvBackwardAdjoint(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, p := range convCases {
		c := NewConv(p)
		x, w, dy := randSlice(rng, p.XLen()), randSlice(rng, c.Params().WLen()), randSlice(rng, p.YLen())
		y := make([]float32, p.YLen())
		c.Forward(x, w, nil, y)
		dx, dw, db := make([]float32, len(x)), make([]float32, len(w)), make([]float32, p.K)
		c.BackwardData(dy, w, dx)
		c.BackwardWeights(x, dy, dw, db)
		f := dot(dy, y)
		near(t, c.String()+" <dx,x>", dot(dx, x), f, 1e-4)
		near(t, c.String()+" <dw,w>", dot(dw, w), f, 1e-4)
		// dbias: derivative of <dy, y + b> w.r.t. b_k is the sum of dy over channel k.
		yb := make([]float32, p.YLen())
		one := make([]float32, p.K)
		one[p.K-1] = 1
		c.Forward(x, w, one, yb)
		near(t, c.String()+" dbias", float64(db[p.K-1]), dot(dy, yb)-f, 1e-4)
	}
}

func TestBatchNormGradient(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	n, c, hw := 3, 2, 5
	eps := float32(1e-5)
	x, dy := randSlice(rng, n*c*hw), randSlice(rng, n*c*hw)
	gamma, beta := randSlice(rng, c), randSlice(rng, c)
	loss := func(x, gamma, beta []float32) float64 {
		y, m, v := make([]float32, len(x)), make([]float32, c), make([]float32, c)
		BatchNormTrainForward(n, c, hw, x, gamma, beta, y, m, v, eps)
		return dot(dy, y)
	}
	y, mean, vr := make([]float32, len(x)), make([]float32, c), make([]float32, c)
	BatchNormTrainForward(n, c, hw, x, gamma, beta, y, mean, vr, eps)
	// Normalised output has zero mean and unit variance per channel.
	for ch := 0; ch < c; ch++ {
		var s, q float64
		for i := 0; i < n; i++ {
			for _, v := range y[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				z := (float64(v) - float64(beta[ch])) / float64(gamma[ch])
				s += z
				q += z * z
			}
		}
		near(t, "normalised mean", s/float64(n*hw), 0, 1e-4)
		near(t, "normalised var", q/float64(n*hw), 1, 1e-3)
	}
	dx, dg, dbt := make([]float32, len(x)), make([]float32, c), make([]float32, c)
	BatchNormBackward(n, c, hw, x, dy, gamma, mean, vr, dx, dg, dbt, eps)
	const h = 1e-2
	fd := func(s []float32, i int) float64 {
		old := s[i]
		s[i] = old + h
		lp := loss(x, gamma, beta)
		s[i] = old - h
		lm := loss(x, gamma, beta)
		s[i] = old
		return (lp - lm) / (2 * h)
	}
	for i := range x {
		near(t, "dx", float64(dx[i]), fd(x, i), 2e-2)
	}
	for i := 0; i < c; i++ {
		near(t, "dgamma", float64(dg[i]), fd(gamma, i), 2e-2)
		near(t, "dbeta", float64(dbt[i]), fd(beta, i), 2e-2)
	}
}

func TestBatchNormInfer(t *testing.T) {
	y := make([]float32, 2)
	BatchNormInferForward(1, 1, 2, []float32{1, 3}, []float32{2}, []float32{1}, []float32{1}, []float32{4}, y, 0)
	if y[0] != 1 || y[1] != 3 {
		t.Fatalf("y = %v, want [1 3]", y)
	}
}

var poolCases = []PoolParams{
	{N: 1, C: 1, H: 4, W: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
	{N: 2, C: 3, H: 7, W: 5, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{N: 1, C: 2, H: 5, W: 6, KH: 3, KW: 2, StrideH: 1, StrideW: 2, PadH: 1},
}

func TestMaxPool(t *testing.T) {
	m := NewMaxPool(PoolParams{N: 1, C: 1, H: 2, W: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2})
	x := []float32{1, 5, -1, -2, 3, 2, -3, -4}
	y, ws := make([]float32, 2), make([]byte, m.WorkspaceSize())
	m.Forward(x, y, ws)
	if y[0] != 5 || y[1] != -1 {
		t.Fatalf("y = %v, want [5 -1]", y)
	}
	dx := make([]float32, 8)
	m.Backward([]float32{10, 20}, ws, dx)
	want := []float32{0, 10, 20, 0, 0, 0, 0, 0}
	for i := range dx {
		if dx[i] != want[i] {
			t.Fatalf("dx = %v, want %v", dx, want)
		}
	}
	rng := rand.New(rand.NewSource(4))
	for _, p := range poolCases {
		m := NewMaxPool(p)
		x, dy := randSlice(rng, p.XLen()), randSlice(rng, p.YLen())
		y, ws, dx := make([]float32, p.YLen()), make([]byte, m.WorkspaceSize()), make([]float32, p.XLen())
		m.Forward(x, y, ws)
		m.Backward(dy, ws, dx)
		// max pooling is piecewise linear: <dx, x> = <dy, y>.
		near(t, "maxpool adjoint", dot(dx, x), dot(dy, y), 1e-5)
	}
}

func TestAvgPool(t *testing.T) {
	// PyTorch: AvgPool2d(2, stride=1, padding=1) on [[1,2],[3,4]] (count_include_pad).
	a := NewAvgPool(PoolParams{N: 1, C: 1, H: 2, W: 2, KH: 2, KW: 2, PadH: 1, PadW: 1})
	y := make([]float32, 9)
	a.Forward([]float32{1, 2, 3, 4}, y)
	want := []float32{0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1}
	for i := range y {
		if math.Abs(float64(y[i]-want[i])) > 1e-6 {
			t.Fatalf("y = %v, want %v", y, want)
		}
	}
	rng := rand.New(rand.NewSource(5))
	for _, p := range poolCases {
		a := NewAvgPool(p)
		x, dy := randSlice(rng, p.XLen()), randSlice(rng, p.YLen())
		y, dx := make([]float32, p.YLen()), make([]float32, p.XLen())
		a.Forward(x, y)
		a.Backward(dy, dx)
		near(t, "avgpool adjoint", dot(dx, x), dot(dy, y), 1e-5)
	}
}

func TestGlobalAvgPool(t *testing.T) {
	y := make([]float32, 2)
	GlobalAvgPoolForward(1, 2, 2, []float32{1, 3, 5, 9}, y)
	if y[0] != 2 || y[1] != 7 {
		t.Fatalf("y = %v", y)
	}
	dx := make([]float32, 4)
	GlobalAvgPoolBackward(1, 2, 2, []float32{2, 4}, dx)
	if dx[0] != 1 || dx[1] != 1 || dx[2] != 2 || dx[3] != 2 {
		t.Fatalf("dx = %v", dx)
	}
}

func TestSgemmTransposes(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	m, n, k := 5, 4, 3
	a, b := randSlice(rng, m*k), randSlice(rng, k*n) // A m×k, B k×n
	at, bt := make([]float32, k*m), make([]float32, n*k)
	for i := 0; i < m; i++ {
		for l := 0; l < k; l++ {
			at[l*m+i] = a[i*k+l]
		}
	}
	for l := 0; l < k; l++ {
		for j := 0; j < n; j++ {
			bt[j*k+l] = b[l*n+j]
		}
	}
	c0 := randSlice(rng, m*n)
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			aa, lda := a, k
			if ta {
				aa, lda = at, m
			}
			bb, ldb := b, n
			if tb {
				bb, ldb = bt, k
			}
			c := append([]float32(nil), c0...)
			Sgemm(ta, tb, m, n, k, 2, aa, lda, bb, ldb, 0.5, c, n)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var s float64
					for l := 0; l < k; l++ {
						s += float64(a[i*k+l]) * float64(b[l*n+j])
					}
					near(t, "sgemm", float64(c[i*n+j]), 2*s+0.5*float64(c0[i*n+j]), 1e-5)
				}
			}
		}
	}
	// beta = 0 must ignore NaNs in C.
	c := []float32{float32(math.NaN())}
	Sgemm(false, false, 1, 1, 1, 1, []float32{2}, 1, []float32{3}, 1, 0, c, 1)
	if c[0] != 6 {
		t.Fatalf("beta=0: c = %v, want 6", c[0])
	}
}

func TestValidate(t *testing.T) {
	bad := []ConvParams{
		{N: 1, C: 3, H: 4, W: 4, K: 4, R: 3, S: 3, Groups: 2},
		{N: 1, C: 1, H: 2, W: 2, K: 1, R: 3, S: 3},
		{N: 0, C: 1, H: 2, W: 2, K: 1, R: 1, S: 1},
		{N: 1, C: 1, H: 2, W: 2, K: 1, R: 1, S: 1, PadH: -1},
	}
	for _, p := range bad {
		if p.Validate() == nil {
			t.Errorf("%+v: no error", p)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("NewConv with invalid params did not panic")
		}
	}()
	NewConv(bad[0])
}

func TestBlockedLayout(t *testing.T) {
	// Two images of 32 channels, 2 spatial positions: element (n, ch, i)
	// holds 1000n + 10ch + i; nChw16c puts the 16 channels of a block last.
	n, c, hw := 2, 32, 2
	x := make([]float32, n*c*hw)
	for img := 0; img < n; img++ {
		for ch := 0; ch < c; ch++ {
			for i := 0; i < hw; i++ {
				x[(img*c+ch)*hw+i] = float32(1000*img + 10*ch + i)
			}
		}
	}
	b := make([]float32, len(x))
	ToLayout(Blocked, n, c, hw, x, b)
	// image 0, block 0, position 1, channel 3 -> offset 0*32 + 1*16 + 3
	if b[19] != 31 {
		t.Fatalf("b[19] = %g, want 31", b[19])
	}
	// image 1, block 1 (channels 16..31), position 0, channel 17 -> 64 + 32 + 1
	if b[97] != 1170 {
		t.Fatalf("b[97] = %g, want 1170", b[97])
	}
	if Blocked.Offset(c, hw, 17, 0) != 33 || Blocked.Channel(c, hw, 33) != 17 || NCHW.Channel(c, hw, 33) != 16 {
		t.Fatal("Offset/Channel disagree with the layout")
	}
	back := make([]float32, len(x))
	FromLayout(Blocked, n, c, hw, b, back)
	for i := range x {
		if back[i] != x[i] {
			t.Fatalf("round trip differs at %d", i)
		}
	}
	// 3 channels are not blocked.
	y := []float32{1, 2, 3}
	z := make([]float32, 3)
	ToLayout(Blocked, 1, 3, 1, y, z)
	if z[0] != 1 || z[2] != 3 {
		t.Fatalf("unblocked copy: %v", z)
	}
}

func TestConvBlockedAndPostOps(t *testing.T) {
	rng := rand.New(rand.NewSource(10))
	p := ConvParams{N: 2, C: 16, H: 4, W: 4, K: 32, R: 3, S: 3, PadH: 1, PadW: 1}
	x, w, b := randSlice(rng, p.XLen()), randSlice(rng, p.WLen()), randSlice(rng, p.K)
	y := make([]float32, p.YLen())
	NewConv(p).Forward(x, w, b, y)
	// Blocked conv on blocked x gives blocked y.
	xb, yb, want := make([]float32, len(x)), make([]float32, len(y)), make([]float32, len(y))
	ToLayout(Blocked, p.N, p.C, p.H*p.W, x, xb)
	NewConvOpts(p, ConvOpts{Layout: Blocked}).Forward(xb, w, b, yb)
	ToLayout(Blocked, p.N, p.K, p.OutH()*p.OutW(), y, want)
	for i := range yb {
		if yb[i] != want[i] {
			t.Fatalf("blocked forward differs at %d", i)
		}
	}
	// Sum + ReLU: relu(prev + conv).
	prev := randSlice(rng, len(y))
	got := append([]float32(nil), prev...)
	NewConvOpts(p, ConvOpts{Sum: true, ReLU: true}).Forward(x, w, b, got)
	for i := range got {
		if e := max(prev[i]+y[i], 0); math.Abs(float64(got[i]-e)) > 1e-5 {
			t.Fatalf("sum+relu [%d] = %g, want %g", i, got[i], e)
		}
	}
}

func TestFoldBatchNorm(t *testing.T) {
	w := []float32{1, 2, 3, 4} // two channels of two weights
	b := FoldBatchNorm(w, []float32{1, 0}, []float32{2, 1}, []float32{0.5, 0}, []float32{1, 2}, []float32{3, 0}, 1)
	// channel 0: s = 2/sqrt(3+1) = 1, b = 0.5 + (1−1)·1; channel 1: s = 1/sqrt(0+1) = 1, b = 0 + (0−2)·1.
	if w[0] != 1 || w[1] != 2 || b[0] != 0.5 || b[1] != -2 {
		t.Fatalf("w = %v, b = %v", w, b)
	}
	w = []float32{1, 2}
	b = FoldBatchNorm(w, nil, []float32{4}, []float32{1}, []float32{1}, []float32{3}, 1)
	// s = 4/2 = 2: w = [2 4], b = 1 + (0-1)·2 = -1
	if w[0] != 2 || w[1] != 4 || b[0] != -1 {
		t.Fatalf("w = %v, b = %v", w, b)
	}
}
