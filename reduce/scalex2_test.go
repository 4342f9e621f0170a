package reduce

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
	trainpkg "github.com/autorep/autorep/train"
)

// scaledCoef is coef [C, d] with the x² column times s (the polynomial
// the scaled site applies).
func scaledCoef(coef *tensor.Tensor, s float32) *tensor.Tensor {
	out := coef.Clone()
	for i := 2; i < len(out.Data); i += coef.Shape[1] {
		out.Data[i] *= s
	}
	return out
}

// With ScaleX2 S the site computes relu or S·θ2·x² + θ1·x + θ0 from the
// stored θ; the gradients w.r.t. x and θ match finite differences of that
// function (so ∂L/∂θ2 = S·∂L/∂c2), and the exported PolyMask holds the
// applied coefficients and computes the same outputs.
func TestScaleX2(t *testing.T) {
	const s = 0.1
	for _, degree := range []int{2, 3} {
		rng := rand.New(rand.NewPCG(21, uint64(degree)))
		c, sp := 3, 4
		m, _ := NewMasked("s", []int{c, 2, 2}, degree, rng)
		m.ScaleX2 = s
		m.Threshold = 100 // masks stay as set
		for i := range m.Mask {
			m.Mask[i] = float32(i % 2)
		}
		for i := range m.Coef.Value.Data {
			m.Coef.Value.Data[i] = float32(rng.NormFloat64())
		}
		xt := randTensor(rng, 1.5, 4, c, 2, 2)
		for i, v := range xt.Data { // away from the kink
			if math.Abs(float64(v)) < 0.05 {
				xt.Data[i] = 0.3
			}
		}
		w := randTensor(rng, 1, 4, c, 2, 2)
		x := autograd.Param(xt)
		y := m.Apply(x)
		want := maskedForward(xt, m.Mask, scaledCoef(m.Coef.Value, s), c, sp)
		for i := range want.Data {
			if math.Abs(float64(y.Value.Data[i]-want.Data[i])) > 1e-5 {
				t.Fatalf("degree %d: y[%d] = %g, want %g", degree, i, y.Value.Data[i], want.Data[i])
			}
		}
		y.Backward(w.Clone())
		loss := func(xv, theta *tensor.Tensor) float64 {
			return weightedSum(maskedForward(xv, m.Mask, scaledCoef(theta, s), c, sp), w)
		}
		const h = 1e-2
		check := func(what string, i int, got float32, plus, minus float64) {
			t.Helper()
			fd := (plus - minus) / (2 * h)
			if math.Abs(float64(got)-fd) > 2e-3*math.Max(1, math.Abs(fd)) {
				t.Errorf("degree %d %s[%d]: analytic %g, finite difference %g", degree, what, i, got, fd)
			}
		}
		for i := range xt.Data {
			xp, xm := xt.Clone(), xt.Clone()
			xp.Data[i] += h
			xm.Data[i] -= h
			check("dx", i, x.Grad.Data[i], loss(xp, m.Coef.Value), loss(xm, m.Coef.Value))
		}
		for i := range m.Coef.Value.Data {
			cp, cm := m.Coef.Value.Clone(), m.Coef.Value.Clone()
			cp.Data[i] += h
			cm.Data[i] -= h
			check("dθ", i, m.Coef.Grad.Data[i], loss(xt, cp), loss(xt, cm))
		}
		// Export: applied coefficients, same function.
		pm := m.PolyMask()
		d := degree + 1
		for ch := range pm.Coef {
			for k := range d {
				wantC := m.Coef.Value.Data[ch*d+k]
				if k == 2 {
					wantC *= s
				}
				if pm.Coef[ch][k] != wantC {
					t.Errorf("degree %d: exported c%d[%d] = %g, want %g", degree, k, ch, pm.Coef[ch][k], wantC)
				}
			}
		}
		ye := pm.Apply(autograd.Const(xt)).Value
		for i := range ye.Data {
			if math.Abs(float64(ye.Data[i]-y.Value.Data[i])) > 1e-5 {
				t.Fatalf("degree %d: exported site gives %g at %d, the search site %g", degree, ye.Data[i], i, y.Value.Data[i])
			}
		}
	}
}

// The polynomial bound applies to the applied x² coefficient S·θ2.
func TestScaleX2Bound(t *testing.T) {
	const s, r = 0.1, 4
	rng := rand.New(rand.NewPCG(23, 1))
	m, _ := NewMasked("s", []int{1, 4}, 2, rng)
	m.ScaleX2 = s
	m.Range[0] = r
	m.Coef.Value.Data[2] = 5
	m.Bound()
	if got, want := float64(m.Coef.Value.Data[2]), m.PolyBound/(r*s); math.Abs(got-want) > 1e-6*want {
		t.Fatalf("θ2 = %g after the bound, want κ/(S·R) = %g", got, want)
	}
	if got, want := float64(m.PolyMask().Coef[0][2]), m.PolyBound/r; math.Abs(got-want) > 1e-6*want {
		t.Fatalf("exported c2 = %g, want κ/R = %g", got, want)
	}
	m.Coef.Value.Data[2] = 0.05 // within the bound: left alone
	m.Bound()
	if m.Coef.Value.Data[2] != 0.05 {
		t.Fatalf("θ2 within the bound changed to %g", m.Coef.Value.Data[2])
	}
}

// Run: a scaled run records S, exports a model whose reported accuracy is
// its own, refuses bad scales, refuses to resume a checkpoint trained
// with another scale set, and resumes one with its scale when unset.
func TestRunScaleX2(t *testing.T) {
	train, test := toySet(320, 1), toySet(96, 2)
	for _, bad := range []Config{
		{Method: MethodAutoReP, Budget: 10, Epochs: 1, ScaleX2: -1},
		{Method: MethodAutoReP, Budget: 10, Epochs: 1, ScaleX2: math.NaN()},
		{Method: MethodAutoReP, Budget: 10, Epochs: 1, ScaleX2: 0.1, Degree: 1},
	} {
		if _, err := Run(toyNet(1), nil, train, test, bad); err == nil {
			t.Errorf("config with x² scale %g, degree %d accepted", bad.ScaleX2, bad.Degree)
		}
	}
	cfg := quickConfig(t, MethodAutoReP, 40)
	cfg.Epochs, cfg.FinetuneEpochs = 2, 0
	cfg.ScaleX2 = 0.1
	cfg.Checkpoint = filepath.Join(t.TempDir(), "ckpt")
	student := toyNet(7)
	res, err := Run(student, toyNet(7), train, test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.ScaleX2 != 0.1 {
		t.Errorf("result records x² scale %g, want 0.1", res.ScaleX2)
	}
	m, err := trainpkg.Evaluate(student, test, trainpkg.EvalOptions{})
	if err != nil || math.Abs(100*m.Accuracy-res.Accuracy) > 1e-9 {
		t.Fatalf("exported model evaluates at %.2f%% (%v), the run reported %.2f%%", 100*m.Accuracy, err, res.Accuracy)
	}
	cfg.Resume = true
	for _, other := range []float64{1, 0.2} {
		cfg.ScaleX2 = other
		if _, err := Run(toyNet(7), toyNet(7), train, test, cfg); err == nil || !strings.Contains(err.Error(), "--scale-x2 0.1") {
			t.Errorf("resumed a checkpoint trained with x² scale 0.1 with scale %g: error %v", other, err)
		}
	}
	// Unset, the scale is the checkpoint's.
	cfg.ScaleX2 = 0
	res, err = Run(toyNet(7), toyNet(7), train, test, cfg)
	if err != nil {
		t.Fatalf("resumed with the scale unset: %v", err)
	}
	if res.ScaleX2 != 0.1 {
		t.Errorf("resumed with the scale unset: x² scale %g, want the checkpoint's 0.1", res.ScaleX2)
	}
}
