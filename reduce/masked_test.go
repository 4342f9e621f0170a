package reduce

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

func randTensor(rng *rand.Rand, scale float32, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = scale * float32(rng.NormFloat64())
	}
	return t
}

// weightedSum is Σ y·w in float64 (the test loss).
func weightedSum(y, w *tensor.Tensor) float64 {
	var s float64
	for i := range y.Data {
		s += float64(y.Data[i]) * float64(w.Data[i])
	}
	return s
}

func TestHysteresis(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := NewMasked("s", []int{1, 2, 4}, 2, rng)
	if err != nil {
		t.Fatal(err)
	}
	m.Threshold = 0.1
	// kept (m=1): stays while a > −t (a = −t drops, per [a > −t]).
	// dropped (m=0): back only when a > t (a = t stays dropped).
	mask := []float32{1, 1, 1, 1, 0, 0, 0, 0}
	score := []float32{0.5, -0.05, -0.1, -0.2, 0.5, 0.05, 0.1, -0.5}
	want := []float32{1, 1, 0, 0, 1, 0, 0, 0}
	copy(m.Mask, mask)
	copy(m.Score.Value.Data, score)
	m.UpdateMask()
	for i := range want {
		if m.Mask[i] != want[i] {
			t.Errorf("element %d: mask %g score %g -> %g, want %g", i, mask[i], score[i], m.Mask[i], want[i])
		}
	}
	if m.Count() != 3 {
		t.Errorf("Count = %d, want 3", m.Count())
	}
	// Apply runs the update before the forward pass.
	copy(m.Mask, mask)
	x := autograd.Const(tensor.Full(-1, 3, 1, 2, 4))
	m.Apply(x)
	for i := range want {
		if m.Mask[i] != want[i] {
			t.Fatalf("Apply did not update mask: %v", m.Mask)
		}
	}
	// Frozen: no update.
	copy(m.Mask, mask)
	m.Frozen = true
	m.UpdateMask()
	for i := range mask {
		if m.Mask[i] != mask[i] {
			t.Fatalf("frozen mask changed: %v", m.Mask)
		}
	}
}

func TestMaskedForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m, _ := NewMasked("s", []int{2, 1, 3}, 2, rng)
	for i := range m.Score.Value.Data {
		m.Score.Value.Data[i] = 1 // keep masks as set
	}
	copy(m.Mask, []float32{1, 0, 1, 0, 0, 1})
	copy(m.Coef.Value.Data, []float32{0.1, 0.5, 0.2, -1, 2, 3})
	x := randTensor(rng, 1, 2, 2, 1, 3)
	y := m.Apply(autograd.Const(x)).Value
	for b := 0; b < 2; b++ {
		for i := 0; i < 6; i++ {
			v := x.Data[b*6+i]
			ch := i / 3
			co := m.Coef.Value.Data[ch*3 : ch*3+3]
			want := co[0] + co[1]*v + co[2]*v*v
			if m.Mask[i] == 1 {
				want = float32(math.Max(float64(v), 0))
			}
			if d := math.Abs(float64(y.Data[b*6+i] - want)); d > 1e-6 {
				t.Errorf("y[%d,%d] = %g, want %g", b, i, y.Data[b*6+i], want)
			}
		}
	}
}

// TestMaskedGradients checks ∂L/∂x, ∂L/∂coef by finite differences and
// ∂L/∂a = ∂L/∂m·softplus(a), with ∂L/∂m by finite differences on the
// relaxed (real-mask) function.
func TestMaskedGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	shape := []int{3, 2, 2}
	m, _ := NewMasked("s", shape, 3, rng)
	for i := range m.Mask {
		m.Mask[i] = float32(i % 2)
		m.Score.Value.Data[i] = float32(rng.NormFloat64())
	}
	m.Frozen = false
	m.Threshold = 100 // no hysteresis flip: masks stay as set
	for i := range m.Coef.Value.Data {
		m.Coef.Value.Data[i] = float32(rng.NormFloat64()) * 0.3
	}
	xt := randTensor(rng, 1, 4, 3, 2, 2)
	for i, v := range xt.Data { // stay away from the kink
		if math.Abs(float64(v)) < 0.05 {
			xt.Data[i] = 0.3
		}
	}
	w := randTensor(rng, 1, 4, 3, 2, 2)
	x := autograd.Param(xt)
	y := m.Apply(x)
	y.Backward(w.Clone()) // the backward pass may reuse the seed's storage

	c, s := 3, 4
	loss := func(xv *tensor.Tensor, mask []float32, coef *tensor.Tensor) float64 {
		return weightedSum(maskedForward(xv, mask, coef, c, s), w)
	}
	const h = 1e-2
	check := func(what string, i int, got float32, plus, minus float64) {
		t.Helper()
		fd := (plus - minus) / (2 * h)
		if math.Abs(float64(got)-fd) > 2e-3*math.Max(1, math.Abs(fd)) {
			t.Errorf("%s[%d]: analytic %g, finite difference %g", what, i, got, fd)
		}
	}
	for i := range xt.Data {
		xp, xm := xt.Clone(), xt.Clone()
		xp.Data[i] += h
		xm.Data[i] -= h
		check("dx", i, x.Grad.Data[i], loss(xp, m.Mask, m.Coef.Value), loss(xm, m.Mask, m.Coef.Value))
	}
	for i := range m.Coef.Value.Data {
		cp, cm := m.Coef.Value.Clone(), m.Coef.Value.Clone()
		cp.Data[i] += h
		cm.Data[i] -= h
		check("dcoef", i, m.Coef.Grad.Data[i], loss(xt, m.Mask, cp), loss(xt, m.Mask, cm))
	}
	for i := range m.Mask {
		mp := append([]float32(nil), m.Mask...)
		mm := append([]float32(nil), m.Mask...)
		mp[i] += h
		mm[i] -= h
		sp := softplus(m.Score.Value.Data[i])
		if math.Abs(float64(sp)-math.Log1p(math.Exp(float64(m.Score.Value.Data[i])))) > 1e-6 {
			t.Fatalf("softplus wrong")
		}
		check("da/softplus(a)", i, m.Score.Grad.Data[i]/sp, loss(xt, mp, m.Coef.Value), loss(xt, mm, m.Coef.Value))
	}
}

func TestFrozenMaskNoScoreGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m, _ := NewMasked("s", []int{2, 2}, 2, rng)
	m.Frozen = true
	x := autograd.Param(randTensor(rng, 1, 3, 2, 2))
	m.Apply(x).Backward(tensor.Full(1, 3, 2, 2))
	if m.Score.Grad != nil {
		t.Fatal("frozen mask: score received a gradient")
	}
	if x.Grad == nil || m.Coef.Grad == nil {
		t.Fatal("frozen mask: x or coefficients got no gradient")
	}
}

func TestDaPaRefitSchedule(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	m, _ := NewMasked("s", []int{1, 4}, 2, rng)
	m.PolyBound = 0 // the exact least-squares fit (TestPolyBound covers the bound)
	m.SetTraining(true)
	before := m.Coef.Value.Clone()
	x := randTensor(rng, 2, 64, 1, 4)
	for i := range x.Data {
		x.Data[i] += 1
	}
	xv := autograd.Param(x)
	for step := 1; step < m.DaPaEvery; step++ {
		m.Apply(xv)
	}
	if tensor.MaxAbsDiff(before, m.Coef.Value) != 0 {
		t.Fatal("coefficients refitted before DaPaEvery steps")
	}
	m.Apply(xv)
	want, _ := DaPa(float64(m.Stats.Mean[0]), math.Sqrt(float64(m.Stats.Var[0])), 2)
	for k := range want {
		if math.Abs(float64(m.Coef.Value.Data[k])-want[k]) > 1e-5 {
			t.Fatalf("after %d steps coef = %v, want DaPa %v", m.Steps(), m.Coef.Value.Data, want)
		}
	}
	if math.Abs(float64(m.Stats.Mean[0])-1) > 0.3 || math.Abs(math.Sqrt(float64(m.Stats.Var[0]))-2) > 0.4 {
		t.Fatalf("running stats mean %g var %g, want about 1, 4", m.Stats.Mean[0], m.Stats.Var[0])
	}
	// Eval mode or no-grad: no steps counted.
	m.SetTraining(false)
	steps := m.Steps()
	m.Apply(xv)
	m.SetTraining(true)
	autograd.NoGrad(func() { m.Apply(xv) })
	if m.Steps() != steps {
		t.Fatal("eval/no-grad forward counted as a training step")
	}
}

func TestPenalty(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	a, _ := NewMasked("a", []int{2, 5}, 2, rng)  // 10
	b, _ := NewMasked("b", []int{1, 30}, 2, rng) // 30
	sites := []*Masked{a, b}
	// All kept: density 1; budget 10 of 40 -> limit 0.25.
	p := &Penalty{Lambda: 8, Budget: 10}
	loss, err := p.Loss(sites)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(loss.Value.Data[0])-8*0.75) > 1e-6 {
		t.Fatalf("penalty %g, want 6", loss.Value.Data[0])
	}
	loss.Backward()
	// Relaxed density Σm/total has ∂/∂m = 1/total, so ∂/∂a = λ/total·softplus(a).
	for _, s := range sites {
		for i, av := range s.Score.Value.Data {
			want := 8.0 / 40 * float64(softplus(av))
			if math.Abs(float64(s.Score.Grad.Data[i])-want) > 1e-6 {
				t.Fatalf("site %s grad[%d] = %g, want %g", s.Name, i, s.Score.Grad.Data[i], want)
			}
		}
	}
	// Under budget: value and gradient zero.
	a.Score.ZeroGrad()
	b.Score.ZeroGrad()
	for i := range b.Mask {
		b.Mask[i] = 0
	}
	loss, _ = p.Loss(sites)
	if loss.Value.Data[0] != 0 {
		t.Fatalf("under budget: penalty %g", loss.Value.Data[0])
	}
	loss.Backward()
	for _, s := range sites {
		if s.Score.Grad != nil {
			for _, g := range s.Score.Grad.Data {
				if g != 0 {
					t.Fatal("under budget: nonzero score gradient")
				}
			}
		}
	}
	// Weighted: site b costs 3 per ReLU. Kept: all of a (10·1), none of b.
	p.Weights = []float64{1, 3}
	d, lim := p.Density(sites)
	if math.Abs(d-10.0/100) > 1e-12 || math.Abs(lim-0.25) > 1e-12 {
		t.Fatalf("weighted density %g limit %g", d, lim)
	}
	for i := range b.Mask {
		b.Mask[i] = 1
	}
	loss, _ = p.Loss(sites)
	loss.Backward()
	ga, gb := a.Score.Grad.Data[0]/softplus(a.Score.Value.Data[0]), b.Score.Grad.Data[0]/softplus(b.Score.Value.Data[0])
	if math.Abs(float64(ga)-8.0/100) > 1e-6 || math.Abs(float64(gb)-24.0/100) > 1e-6 {
		t.Fatalf("weighted grads %g %g, want 0.08 0.24", ga, gb)
	}
	p.Weights = []float64{1}
	if _, err := p.Loss(sites); err == nil {
		t.Fatal("wrong number of weights accepted")
	}
	p.Weights = []float64{1, -1}
	if _, err := p.Loss(sites); err == nil {
		t.Fatal("negative weight accepted")
	}
}

func TestNewFixedValidates(t *testing.T) {
	if _, err := NewFixed("s", []int{2, 2}, []float32{1, 0, 1}, [][]float32{{0, 1}, {0, 1}}); err == nil {
		t.Error("short mask accepted")
	}
	if _, err := NewFixed("s", []int{2, 2}, []float32{1, 0, 1, 0.5}, [][]float32{{0, 1}, {0, 1}}); err == nil {
		t.Error("non-binary mask accepted")
	}
	if _, err := NewFixed("s", []int{2, 2}, []float32{1, 0, 1, 0}, [][]float32{{0, 1}}); err == nil {
		t.Error("missing coefficient row accepted")
	}
	if _, err := NewMasked("s", []int{0, 2}, 2, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Error("empty shape accepted")
	}
}

// TestMaskedParallelMatchesSerial checks the multi-goroutine path (large
// batch) of the kernels against image-by-image evaluation.
func TestMaskedParallelMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	c, s, n := 8, 64, 64
	mask := make([]float32, c*s)
	for i := range mask {
		mask[i] = float32(rng.IntN(2))
	}
	coef := randTensor(rng, 0.3, c, 3)
	x := randTensor(rng, 1, n, c, 8, 8)
	g := randTensor(rng, 1, n, c, 8, 8)
	tb := newPolyTables(mask, coef.Data, c, s, nil)
	y, dx := tensor.New(x.Shape...), tensor.New(x.Shape...)
	tb.forward(x.Data, y.Data)
	dm, dc := tb.backward(x.Data, g.Data, dx.Data, true, true)
	sumM, sumC := tensor.New(c*s), tensor.New(c, 3)
	for b := 0; b < n; b++ {
		xb := x.Data[b*c*s : (b+1)*c*s]
		gb := g.Data[b*c*s : (b+1)*c*s]
		yb, dxb := make([]float32, c*s), make([]float32, c*s)
		tb.forward(xb, yb)
		dmb, dcb := tb.backward(xb, gb, dxb, true, true)
		for i := range yb {
			if yb[i] != y.Data[b*c*s+i] || dxb[i] != dx.Data[b*c*s+i] {
				t.Fatalf("image %d element %d differs", b, i)
			}
		}
		sumM.AddInPlace(tensor.FromData(dmb, c*s))
		sumC.AddInPlace(tensor.FromData(dcb, c, 3))
	}
	if d := tensor.MaxAbsDiff(sumM, tensor.FromData(dm, c*s)); d > 1e-4 {
		t.Fatalf("mask gradient differs by %g", d)
	}
	if d := tensor.MaxAbsDiff(sumC, tensor.FromData(dc, c, 3)); d > 1e-3 {
		t.Fatalf("coefficient gradient differs by %g", d)
	}
}

// m0 is a fresh degree-2 site.
func m0(t *testing.T) *Masked {
	m, err := NewMasked("s", []int{2, 1, 2}, 2, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPolyBound(t *testing.T) {
	for _, degree := range []int{2, 3} {
		rng := rand.New(rand.NewPCG(11, uint64(degree)))
		m, _ := NewMasked("s", []int{2, 1, 8}, degree, rng)
		m.SetTraining(true)
		d := degree + 1
		// Channel 0 sees |x| up to 10, channel 1 up to 0.5.
		x := tensor.New(4, 2, 1, 8)
		for b := 0; b < 4; b++ {
			for p := 0; p < 8; p++ {
				x.Data[(b*2)*8+p] = float32(rng.Float64()*16 - 8)
				x.Data[(b*2+1)*8+p] = float32(rng.Float64() - 0.5)
			}
		}
		x.Data[3] = -10
		x.Data[(1*2+1)*8+5] = 0.5
		for i := range m.Coef.Value.Data {
			m.Coef.Value.Data[i] = 1
		}
		m.Apply(autograd.Param(x))
		if m.Range[0] != 10 || m.Range[1] != 0.5 {
			t.Fatalf("degree %d: range %v after the first batch, want [10 0.5]", degree, m.Range)
		}
		for c, r := range []float64{10, 0.5} {
			lim := m.PolyBound
			for k := 0; k < d; k++ {
				got := float64(m.Coef.Value.Data[c*d+k])
				want := 1.0
				if k >= 2 {
					lim /= r
					want = math.Min(1, lim)
				}
				if math.Abs(got-want) > 1e-6*want {
					t.Errorf("degree %d channel %d c%d = %g, want %g", degree, c, k, got, want)
				}
				// Within the range the term stays within κ·|x|.
				if k >= 2 && got*math.Pow(r, float64(k)) > m.PolyBound*r*(1+1e-6) && want < 1 {
					t.Errorf("degree %d channel %d: |c%d|·R^%d = %g > κR", degree, c, k, k, got*math.Pow(r, float64(k)))
				}
			}
		}
		// The range is a running average of batch maxima.
		x2 := tensor.Full(-20, 4, 2, 1, 8)
		m.Apply(autograd.Param(x2))
		want := float32(0.9*10 + 0.1*20)
		if math.Abs(float64(m.Range[0]-want)) > 1e-5 {
			t.Errorf("degree %d: running range %g, want %g", degree, m.Range[0], want)
		}
		// A non-finite batch leaves it alone; eval mode does not update it.
		x2.Data[0] = float32(math.NaN())
		m.Apply(autograd.Param(x2))
		m.SetTraining(false)
		m.Apply(autograd.Param(tensor.Full(100, 4, 2, 1, 8)))
		if math.Abs(float64(m.Range[0]-want)) > 1e-5 {
			t.Errorf("degree %d: range %g after a NaN batch and an eval pass, want %g", degree, m.Range[0], want)
		}
		// Exported coefficients are bounded too.
		m.Coef.Value.Data[d-1] = 5
		if got := m.PolyMask().Coef[0][d-1]; float64(got) > m.PolyBound/math.Pow(float64(want), float64(d-2))*(1+1e-6) {
			t.Errorf("degree %d: PolyMask exports unbounded c%d = %g", degree, d-1, got)
		}
	}
	// Checkpoints from before the bound (no poly_range) still resume.
	optional := false
	for _, b := range m0(t).Buffers() {
		optional = optional || (b.Name == "poly_range" && b.Optional)
	}
	if !optional {
		t.Error("poly_range is not an optional buffer")
	}
	// Degree 1 and PolyBound 0 are left alone.
	rng := rand.New(rand.NewPCG(12, 13))
	m, _ := NewMasked("s", []int{1, 4}, 2, rng)
	m.PolyBound = 0
	m.SetTraining(true)
	before := m.Coef.Value.Clone()
	m.Apply(autograd.Param(tensor.Full(50, 2, 1, 4)))
	if tensor.MaxAbsDiff(before, m.Coef.Value) != 0 {
		t.Error("PolyBound 0 changed the coefficients")
	}
}
