package nn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

// randTensor returns values ~ U(-1, 1) of the given shape.
func randTensor(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(2*rng.Float64() - 1)
	}
	return t
}

// awayFromZero returns values with |v| in [0.1, 1] and random signs, so
// that finite differences do not cross a ReLU kink.
func awayFromZero(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		v := float32(0.1 + 0.9*rng.Float64())
		if rng.Intn(2) == 0 {
			v = -v
		}
		t.Data[i] = v
	}
	return t
}

// gradCheck compares the analytic gradients of L = Σ w·f(inputs) (w a
// fixed random projection) with central finite differences for up to
// maxPerInput randomly chosen elements of every input that requires grad.
func gradCheck(t *testing.T, name string, f func(in []*autograd.Var) *autograd.Var, inputs []*autograd.Var, h, tol float64) {
	t.Helper()
	rng := rand.New(rand.NewSource(7))
	out := f(inputs)
	proj := randTensor(rng, out.Value.Shape...)
	loss := func() float64 {
		var y *autograd.Var
		autograd.NoGrad(func() { y = f(inputs) })
		var s float64
		for i, v := range y.Value.Data {
			s += float64(v) * float64(proj.Data[i])
		}
		return s
	}
	for _, in := range inputs {
		in.ZeroGrad()
	}
	out = f(inputs)
	out.Backward(proj.Clone())
	const maxPerInput = 40
	for k, in := range inputs {
		if !in.RequiresGrad() {
			continue
		}
		if in.Grad == nil {
			t.Fatalf("%s: input %d got no gradient", name, k)
		}
		idx := rng.Perm(in.Value.Len())
		if len(idx) > maxPerInput {
			idx = idx[:maxPerInput]
		}
		for _, i := range idx {
			old := in.Value.Data[i]
			in.Value.Data[i] = old + float32(h)
			lp := loss()
			in.Value.Data[i] = old - float32(h)
			lm := loss()
			in.Value.Data[i] = old
			num := (lp - lm) / (2 * h)
			ana := float64(in.Grad.Data[i])
			if d := math.Abs(num - ana); d > tol*math.Max(1, math.Abs(num)) {
				t.Errorf("%s: input %d elem %d: analytic %.6g numeric %.6g", name, k, i, ana, num)
			}
		}
	}
}

func TestGradConv(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	cases := []struct {
		name                       string
		n, c, h, w, k, r, s, p, gr int
		bias                       bool
	}{
		{"3x3 s1 p1", 2, 3, 5, 5, 4, 3, 1, 1, 1, true},
		{"3x3 s2 p1 g2", 2, 4, 6, 5, 6, 3, 2, 1, 2, true},
		{"1x1 s2", 1, 3, 5, 5, 2, 1, 2, 0, 1, false},
		{"5x5 s1 p2 depthwise", 1, 3, 6, 6, 3, 5, 1, 2, 3, false},
	}
	for _, tc := range cases {
		x := autograd.Param(randTensor(rng, tc.n, tc.c, tc.h, tc.w))
		w := autograd.Param(randTensor(rng, tc.k, tc.c/tc.gr, tc.r, tc.r))
		in := []*autograd.Var{x, w}
		if tc.bias {
			in = append(in, autograd.Param(randTensor(rng, tc.k)))
		}
		gradCheck(t, "conv "+tc.name, func(v []*autograd.Var) *autograd.Var {
			var b *autograd.Var
			if len(v) > 2 {
				b = v[2]
			}
			return Conv2dFn(v[0], v[1], b, tc.s, tc.p, tc.gr)
		}, in, 1e-2, 2e-3)
	}
}

func TestGradConvModule(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	c := NewConv2d(rng, 2, 4, 3, 2, 1, 1, true)
	x := autograd.Param(randTensor(rng, 2, 2, 5, 5))
	gradCheck(t, "Conv2d", func(v []*autograd.Var) *autograd.Var { return c.Forward(v[0]) },
		[]*autograd.Var{x, c.Weight, c.Bias}, 1e-2, 2e-3)
}

func TestGradBatchNorm(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, training := range []bool{true, false} {
		bn := NewBatchNorm2d(3)
		bn.Training = training
		bn.Weight.Value = randTensor(rng, 3)
		bn.Bias.Value = randTensor(rng, 3)
		for i := range bn.RunningVar.Data {
			bn.RunningMean.Data[i] = float32(rng.NormFloat64())
			bn.RunningVar.Data[i] = float32(0.5 + rng.Float64())
		}
		x := autograd.Param(randTensor(rng, 4, 3, 3, 2))
		for i := range x.Value.Data { // a channel with a large offset
			if (i/6)%3 == 1 {
				x.Value.Data[i] = 3 + 0.5*x.Value.Data[i]
			}
		}
		gradCheck(t, "batchnorm", func(v []*autograd.Var) *autograd.Var { return bn.Forward(v[0]) },
			[]*autograd.Var{x, bn.Weight, bn.Bias}, 1e-2, 5e-3)
	}
}

func TestGradLinear(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	l := NewLinear(rng, 7, 5, true)
	x := autograd.Param(randTensor(rng, 3, 7))
	gradCheck(t, "linear", func(v []*autograd.Var) *autograd.Var { return l.Forward(v[0]) },
		[]*autograd.Var{x, l.Weight, l.Bias}, 1e-2, 1e-3)
	l2 := NewLinear(rng, 4, 2, false)
	x2 := autograd.Param(randTensor(rng, 2, 4))
	gradCheck(t, "linear no bias", func(v []*autograd.Var) *autograd.Var { return l2.Forward(v[0]) },
		[]*autograd.Var{x2, l2.Weight}, 1e-2, 1e-3)
}

// distinct returns a tensor of well-separated distinct values in random
// order, so max pooling has no ties within a finite-difference step.
func distinct(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i, p := range rng.Perm(len(t.Data)) {
		t.Data[i] = float32(p)*0.1 - 2
	}
	return t
}

func TestGradPools(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	x := autograd.Param(distinct(rng, 2, 2, 6, 5))
	for _, p := range []MaxPool2d{{2, 2, 0}, {3, 2, 1}, {3, 1, 1}} {
		gradCheck(t, "maxpool", func(v []*autograd.Var) *autograd.Var { return p.Forward(v[0]) },
			[]*autograd.Var{x}, 1e-2, 1e-3)
	}
	for _, p := range []AvgPool2d{{2, 2, 0}, {3, 2, 1}, {3, 0, 0}} {
		gradCheck(t, "avgpool", func(v []*autograd.Var) *autograd.Var { return p.Forward(v[0]) },
			[]*autograd.Var{x}, 1e-2, 1e-3)
	}
	gradCheck(t, "globalavgpool", func(v []*autograd.Var) *autograd.Var { return GlobalAvgPool{}.Forward(v[0]) },
		[]*autograd.Var{x}, 1e-2, 1e-3)
}

func TestGradElementwise(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	a := autograd.Param(awayFromZero(rng, 2, 3, 4))
	b := autograd.Param(awayFromZero(rng, 2, 3, 4))
	gradCheck(t, "relu", func(v []*autograd.Var) *autograd.Var { return ReLU(v[0]) }, []*autograd.Var{a}, 1e-2, 1e-3)
	gradCheck(t, "add", func(v []*autograd.Var) *autograd.Var { return Add{}.ForwardN(v) }, []*autograd.Var{a, b}, 1e-2, 1e-3)
	gradCheck(t, "add self", func(v []*autograd.Var) *autograd.Var { return Plus(v[0], v[0]) }, []*autograd.Var{a}, 1e-2, 1e-3)
	gradCheck(t, "scale", func(v []*autograd.Var) *autograd.Var { return Scale(v[0], -2.5) }, []*autograd.Var{a}, 1e-2, 1e-3)
	gradCheck(t, "sum", func(v []*autograd.Var) *autograd.Var { return Sum(v[0]) }, []*autograd.Var{a}, 1e-2, 1e-3)
	gradCheck(t, "mean", func(v []*autograd.Var) *autograd.Var { return Mean(v[0]) }, []*autograd.Var{a}, 1e-2, 1e-3)
	gradCheck(t, "flatten+relu", func(v []*autograd.Var) *autograd.Var { return ReLU(Flatten{}.Forward(v[0])) }, []*autograd.Var{a}, 1e-2, 1e-3)
	gradCheck(t, "reshape", func(v []*autograd.Var) *autograd.Var { return Scale(Reshape(v[0], 4, -1), 3) }, []*autograd.Var{a}, 1e-2, 1e-3)
	d := NewDropout(0.3, 1)
	gradCheck(t, "dropout", func(v []*autograd.Var) *autograd.Var {
		d.Rng.Seed(9) // the same mask on every evaluation
		return d.Forward(v[0])
	}, []*autograd.Var{a}, 1e-2, 1e-3)
}

func TestGradPolyMask(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	x := autograd.Param(awayFromZero(rng, 3, 2, 2, 3))
	pm := NewPolyMask([]int{2, 2, 3}, 3)
	for i := range pm.Mask {
		pm.Mask[i] = []float32{0, 1, 0.3}[i%3]
	}
	for c := range pm.Coef {
		for j := range pm.Coef[c] {
			pm.Coef[c][j] = float32(rng.NormFloat64())
		}
	}
	s := &Site{Name: "s", Act: pm}
	gradCheck(t, "polymask", func(v []*autograd.Var) *autograd.Var { return s.Forward(v[0]) }, []*autograd.Var{x}, 1e-2, 2e-3)
	// 2-D input (after a Linear): channels are the features.
	x2 := autograd.Param(awayFromZero(rng, 4, 5))
	pm2 := NewPolyMask([]int{5}, 2)
	for i := range pm2.Mask {
		pm2.Mask[i] = float32(i % 2)
		pm2.Coef[i] = []float32{0.2, 0.5, float32(i) * 0.1}
	}
	gradCheck(t, "polymask 2d", func(v []*autograd.Var) *autograd.Var { return pm2.Apply(v[0]) }, []*autograd.Var{x2}, 1e-2, 2e-3)
}

func TestGradLosses(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	z := autograd.Param(randTensor(rng, 4, 5))
	z.Value.Scale(3)
	labels := []int32{0, 4, 2, 2}
	for _, eps := range []float32{0, 0.1} {
		gradCheck(t, "cross-entropy", func(v []*autograd.Var) *autograd.Var {
			l, err := CrossEntropy(v[0], labels, eps)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}, []*autograd.Var{z}, 1e-2, 1e-3)
	}
	teacher := autograd.Const(randTensor(rng, 4, 5))
	teacher.Value.Scale(4)
	for _, temp := range []float32{1, 4} {
		gradCheck(t, "kd", func(v []*autograd.Var) *autograd.Var {
			l, err := KDLoss(v[0], teacher, temp)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}, []*autograd.Var{z}, 1e-2, 1e-3)
	}
}

// TestGradComposite chains conv → BN → site → pool → flatten → linear → CE.
func TestGradComposite(t *testing.T) {
	rng := rand.New(rand.NewSource(10))
	g := &Graph{}
	conv := NewConv2d(rng, 2, 3, 3, 1, 1, 1, false)
	bn := NewBatchNorm2d(3)
	fc := NewLinear(rng, 12, 3, true)
	g.Add("conv", conv)
	g.Add("bn", bn)
	g.Add("relu", &Site{Name: "relu"})
	g.Add("pool", &MaxPool2d{Kernel: 2})
	g.Add("flat", Flatten{})
	g.Add("fc", fc)
	x := autograd.Const(randTensor(rng, 3, 2, 4, 4))
	labels := []int32{0, 1, 2}
	gradCheck(t, "composite", func(v []*autograd.Var) *autograd.Var {
		y, err := g.Run(x)
		if err != nil {
			t.Fatal(err)
		}
		l, err := CrossEntropy(y, labels, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}, Parameters(g), 1e-2, 2e-2)
}
