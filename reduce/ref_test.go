package reduce

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

// Straightforward reference implementations of the activations (one
// element at a time, C·H·W order, no tables), against which the fast
// kernels are checked.

// maskedForward computes m ⊙ relu(x) + (1 − m) ⊙ p_c(x) for a real-valued
// mask.
func maskedForward(x *tensor.Tensor, mask []float32, coef *tensor.Tensor, c, s int) *tensor.Tensor {
	y := tensor.New(x.Shape...)
	numel := c * s
	d := coef.Shape[1]
	for off := 0; off < len(x.Data); off += numel {
		for i := 0; i < numel; i++ {
			v, mv := x.Data[off+i], mask[i]
			var r float32
			if v > 0 {
				r = v
			}
			p, _ := horner(coef.Data[(i/s)*d:(i/s+1)*d], v)
			if mv == 1 {
				y.Data[off+i] = r
			} else {
				y.Data[off+i] = mv*r + (1-mv)*p
			}
		}
	}
	return y
}

// maskedBackward returns the gradients of maskedForward with respect to x,
// the mask (summed over the batch) and the coefficients.
func maskedBackward(x, g *tensor.Tensor, mask []float32, coef *tensor.Tensor, c, s int) (dx, dm, dc *tensor.Tensor) {
	numel := c * s
	d := coef.Shape[1]
	dx, dm, dc = tensor.New(x.Shape...), tensor.New(numel), tensor.New(coef.Shape...)
	for off := 0; off < len(x.Data); off += numel {
		for i := 0; i < numel; i++ {
			ch := i / s
			v, mv, gv := x.Data[off+i], mask[i], g.Data[off+i]
			var r, dr float32
			if v > 0 {
				r, dr = v, 1
			}
			p, dp := horner(coef.Data[ch*d:(ch+1)*d], v)
			if mv == 1 {
				dx.Data[off+i] = gv * dr
			} else {
				dx.Data[off+i] = gv * (mv*dr + (1-mv)*dp)
				w := gv * (1 - mv)
				for k := 0; k < d; k++ {
					dc.Data[ch*d+k] += w
					w *= v
				}
			}
			dm.Data[i] += gv * (r - p)
		}
	}
	return dx, dm, dc
}

// snlReference returns y = α⊙relu(x) + (1−α)⊙x and, for the upstream
// gradient g, dx and dα (summed over the batch).
func snlReference(x, g *tensor.Tensor, alpha []float32) (y, dx, da *tensor.Tensor) {
	numel := len(alpha)
	y, dx, da = tensor.New(x.Shape...), tensor.New(x.Shape...), tensor.New(numel)
	for j, v := range x.Data {
		al := alpha[j%numel]
		r := float32(0)
		dr := float32(0)
		if v > 0 {
			r, dr = v, 1
		}
		y.Data[j] = al*r + (1-al)*v
		dx.Data[j] = g.Data[j] * (al*dr + (1 - al))
		da.Data[j%numel] += g.Data[j] * (r - v)
	}
	return y, dx, da
}

// closeTo reports the largest difference of got from want relative to
// max(1, |want|).
func closeTo(got, want []float32) float64 {
	var worst float64
	for i := range want {
		d := float64(got[i] - want[i])
		if d < 0 {
			d = -d
		}
		s := float64(want[i])
		if s < 0 {
			s = -s
		}
		worst = max(worst, d/max(1, s))
	}
	return worst
}

// TestMaskedMatchesReference runs Masked.Apply and its backward pass on
// random data, for binary masks (degrees 0-2: the fast kernels) and for a
// real-valued mask and degree 3 (the general kernels), serial and
// parallel, against the straightforward reference.
func TestMaskedMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	cases := []struct {
		name       string
		n, c, h, w int
		degree     int
		real       bool
		frozen     bool // finetune: no score gradient
	}{
		{"binary deg2 small", 3, 2, 3, 3, 2, false, false},
		{"binary deg2 parallel", 16, 16, 8, 8, 2, false, false},
		{"binary deg1 parallel", 16, 16, 8, 8, 1, false, false},
		{"binary deg0", 4, 3, 2, 2, 0, false, false},
		{"real mask deg2", 5, 4, 3, 2, 2, true, false},
		{"binary deg3 parallel", 16, 16, 8, 8, 3, false, false},
		{"binary deg2 frozen parallel", 16, 16, 8, 8, 2, false, true},
		{"binary deg2 frozen small", 2, 3, 2, 2, 2, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			shape := []int{tc.c, tc.h, tc.w}
			s := tc.h * tc.w
			numel := tc.c * s
			coef := make([][]float32, tc.c)
			for i := range coef {
				coef[i] = make([]float32, tc.degree+1)
				for k := range coef[i] {
					coef[i][k] = 0.4 * float32(rng.NormFloat64())
				}
			}
			mask := make([]float32, numel)
			for i := range mask {
				mask[i] = float32(rng.IntN(2))
				if tc.real {
					mask[i] = rng.Float32()
				}
			}
			m, err := NewFixed("s", shape, make([]float32, numel), coef)
			if err != nil {
				t.Fatal(err)
			}
			copy(m.Mask, mask) // NewFixed accepts 0/1 only
			// Scores that keep the mask under hysteresis, with gradients.
			m.Score = autograd.Param(tensor.New(shape...))
			for i := range m.Score.Value.Data {
				m.Score.Value.Data[i] = float32(rng.NormFloat64())
			}
			m.Frozen = tc.frozen
			m.Threshold = 100
			xt := randTensor(rng, 1.5, tc.n, tc.c, tc.h, tc.w)
			for i := 0; i < len(xt.Data); i += 7 {
				xt.Data[i] = 0 // the kink: ReLU'(0) = 0
			}
			gt := randTensor(rng, 1, tc.n, tc.c, tc.h, tc.w)
			x := autograd.Param(xt)
			y := m.Apply(x)
			coefT := m.Coef.Value.Clone()
			y.Backward(gt.Clone())

			wantY := maskedForward(xt, mask, coefT, tc.c, s)
			wantDx, wantDm, wantDc := maskedBackward(xt, gt, mask, coefT, tc.c, s)
			if d := closeTo(y.Value.Data, wantY.Data); d > 1e-6 {
				t.Errorf("forward differs by %g", d)
			}
			if d := closeTo(x.Grad.Data, wantDx.Data); d > 1e-6 {
				t.Errorf("dx differs by %g", d)
			}
			for i, a := range m.Score.Value.Data {
				wantDm.Data[i] *= softplus(a)
			}
			if tc.frozen {
				if m.Score.Grad != nil {
					t.Error("frozen mask: the score got a gradient")
				}
			} else if d := closeTo(m.Score.Grad.Data, wantDm.Data); d > 1e-5 {
				t.Errorf("score gradient differs by %g", d)
			}
			if d := closeTo(m.Coef.Grad.Data, wantDc.Data); d > 1e-5 {
				t.Errorf("coefficient gradient differs by %g", d)
			}
		})
	}
}

// TestSNLMatchesReference checks SNLAct's forward and backward passes on
// random data (serial and parallel) against the reference.
func TestSNLMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, n := range []int{3, 64} {
		shape := []int{16, 8, 8}
		a, err := NewSNL("s", shape)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a.Alpha.Value.Data {
			a.Alpha.Value.Data[i] = 1.2*rng.Float32() - 0.1
		}
		xt := randTensor(rng, 1, n, 16, 8, 8)
		for i := 0; i < len(xt.Data); i += 5 {
			xt.Data[i] = 0
		}
		gt := randTensor(rng, 1, n, 16, 8, 8)
		x := autograd.Param(xt)
		y := a.Apply(x)
		y.Backward(gt.Clone())
		wantY, wantDx, wantDa := snlReference(xt, gt, a.Alpha.Value.Data)
		if d := closeTo(y.Value.Data, wantY.Data); d > 1e-6 {
			t.Errorf("n=%d: forward differs by %g", n, d)
		}
		if d := closeTo(x.Grad.Data, wantDx.Data); d > 1e-6 {
			t.Errorf("n=%d: dx differs by %g", n, d)
		}
		if d := closeTo(a.Alpha.Grad.Data, wantDa.Data); d > 1e-5 {
			t.Errorf("n=%d: dα differs by %g", n, d)
		}
	}
}

// TestFastKernelsMatchScalar checks the run kernels (AVX-512 under Go's
// SIMD experiment on a capable CPU, else the scalar ones) against the
// scalar kernels on runs whose length is not a multiple of 16, for every
// combination of wanted gradients: the results are equal.
func TestFastKernelsMatchScalar(t *testing.T) {
	t.Logf("AVX-512 kernels: %v", simdKernels)
	rng := rand.New(rand.NewPCG(51, 52))
	const n = 16*13 + 7
	rnd := func(k int, scale float32) []float32 {
		v := make([]float32, k)
		for i := range v {
			v[i] = scale * float32(rng.NormFloat64())
		}
		return v
	}
	xs := rnd(n, 1)
	for i := 0; i < n; i += 9 {
		xs[i] = 0
	}
	gs := rnd(n, 1)
	q := rnd(quadLen(n), 0.5)
	for j := 0; j < n; j++ {
		if rng.IntN(2) == 0 {
			q[quadAt(j, 3)] = 0
		} else {
			q[quadAt(j, 3)] = math.Float32frombits(^uint32(0))
		}
	}
	equal := func(what string, a, b []float32) {
		t.Helper()
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d]: fast %g, scalar %g", what, i, a[i], b[i])
			}
		}
	}
	y1, y2 := make([]float32, n), make([]float32, n)
	polyForwardBinary(xs, y1, q)
	polyForwardScalar(xs, y2, q)
	equal("poly y", y1, y2)
	for _, mode := range []struct{ dx, m, c bool }{{true, true, true}, {true, false, true}, {true, true, false}, {true, false, false}, {false, true, true}} {
		acc0 := rnd(quadLen(n), 1)
		acc1, acc2 := append([]float32(nil), acc0...), append([]float32(nil), acc0...)
		var d1, d2 []float32
		if mode.dx {
			d1, d2 = make([]float32, n), make([]float32, n)
		}
		polyBackwardBinary(xs, gs, d1, q, acc1, mode.m, mode.c)
		polyBackwardScalar(xs, gs, d2, q, acc2, mode.m, mode.c)
		equal("poly dx", d1, d2)
		equal("poly sums", acc1, acc2)
		// dx may be written over g.
		if mode.dx {
			g := append([]float32(nil), gs...)
			acc3 := append([]float32(nil), acc0...)
			polyBackwardBinary(xs, g, g, q, acc3, mode.m, mode.c)
			equal("poly dx in place", g, d2)
			equal("poly sums in place", acc3, acc2)
		}
	}
	al := rnd(n, 0.5)
	snlForwardRun(xs, y1, al)
	snlForwardScalar(xs, y2, al)
	equal("snl y", y1, y2)
	pa0 := rnd(n, 1)
	pa1, pa2 := append([]float32(nil), pa0...), append([]float32(nil), pa0...)
	d1, d2 := make([]float32, n), make([]float32, n)
	snlBackwardRun(xs, gs, d1, al, pa1)
	snlBackwardScalar(xs, gs, d2, al, pa2)
	equal("snl dx", d1, d2)
	equal("snl dα", pa1, pa2)
	g := append([]float32(nil), gs...)
	pa3 := append([]float32(nil), pa0...)
	snlBackwardRun(xs, g, g, al, pa3)
	equal("snl dx in place", g, d2)
	equal("snl dα in place", pa3, pa2)
}
