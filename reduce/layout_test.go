package reduce

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/kernel"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
)

// toBlocked returns t [N,C,H,W] stored in kernel.Blocked order.
func toBlocked(t *tensor.Tensor) *tensor.Tensor {
	out := tensor.New(t.Shape...)
	kernel.ToLayout(kernel.Blocked, t.Shape[0], t.Shape[1], t.Shape[2]*t.Shape[3], t.Data, out.Data)
	return out
}

// fromBlocked returns t stored in kernel.Blocked order back in NCHW order.
func fromBlocked(t *tensor.Tensor) *tensor.Tensor {
	out := tensor.New(t.Shape...)
	kernel.FromLayout(kernel.Blocked, t.Shape[0], t.Shape[1], t.Shape[2]*t.Shape[3], t.Data, out.Data)
	return out
}

func TestStorageOrderMatchesKernel(t *testing.T) {
	shape := []int{32, 3, 5}
	src := tensor.New(1, 32, 3, 5)
	for i := range src.Data {
		src.Data[i] = float32(i)
	}
	blk := toBlocked(src)
	var cache []int32
	order := storageOrder(shape, kernel.Blocked, &cache)
	for j, i := range order {
		if blk.Data[j] != float32(i) {
			t.Fatalf("stored element %d holds C·H·W element %g, order says %d", j, blk.Data[j], i)
		}
	}
	if storageOrder(shape, kernel.NCHW, &cache) != nil || storageOrder([]int{8, 2, 2}, kernel.Blocked, &cache) != nil {
		t.Fatal("NCHW or C%16 != 0 gave an order table")
	}
}

// TestApplyLayoutBlocked runs Masked (searching, with DaPa statistics) and
// SNLAct on blocked input and on the same input in NCHW order: outputs,
// input gradients (converted back), score, coefficient and α gradients,
// masks and running statistics agree.
func TestApplyLayoutBlocked(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	shape := []int{32, 4, 4}
	xt := randTensor(rng, 1, 8, 32, 4, 4)
	gt := randTensor(rng, 1, 8, 32, 4, 4)
	newMasked := func() *Masked {
		r := rand.New(rand.NewPCG(43, 44))
		m, err := NewMasked("s", shape, 2, r)
		if err != nil {
			t.Fatal(err)
		}
		for i := range m.Mask {
			m.Mask[i] = float32(r.IntN(2))
			m.Score.Value.Data[i] = float32(r.NormFloat64())
		}
		m.DaPaEvery = 1 // refit from the statistics at once
		m.SetTraining(true)
		return m
	}
	type result struct{ y, dx, dm, dc *tensor.Tensor }
	run := func(l kernel.Layout) (*Masked, result) {
		m := newMasked()
		in, seed := xt, gt.Clone()
		if l == kernel.Blocked {
			in, seed = toBlocked(xt), toBlocked(gt)
		}
		x := autograd.Param(in)
		y := m.ApplyLayout(x, l)
		y.Backward(seed)
		r := result{y.Value, x.Grad, m.Score.Grad, m.Coef.Grad}
		if l == kernel.Blocked {
			r.y, r.dx = fromBlocked(r.y), fromBlocked(r.dx)
		}
		return m, r
	}
	ma, a := run(kernel.NCHW)
	mb, b := run(kernel.Blocked)
	for _, c := range []struct {
		what string
		a, b *tensor.Tensor
		tol  float64
	}{{"y", a.y, b.y, 1e-6}, {"dx", a.dx, b.dx, 1e-6}, {"dscore", a.dm, b.dm, 1e-5}, {"dcoef", a.dc, b.dc, 1e-5}} {
		if d := closeTo(c.b.Data, c.a.Data); d > c.tol {
			t.Errorf("masked %s: blocked differs from NCHW by %g", c.what, d)
		}
	}
	for i := range ma.Mask {
		if ma.Mask[i] != mb.Mask[i] {
			t.Fatal("masks differ")
		}
	}
	for c := range ma.Stats.Mean {
		if ma.Stats.Mean[c] != mb.Stats.Mean[c] || ma.Stats.Var[c] != mb.Stats.Var[c] {
			t.Fatalf("channel %d: statistics differ", c)
		}
		if ma.Range[c] != mb.Range[c] || !(ma.Range[c] > 0) {
			t.Fatalf("channel %d: input range %g (NCHW) vs %g (blocked)", c, ma.Range[c], mb.Range[c])
		}
	}

	runSNL := func(l kernel.Layout) (y, dx, da *tensor.Tensor) {
		s, err := NewSNL("s", shape)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(45, 46))
		for i := range s.Alpha.Value.Data {
			s.Alpha.Value.Data[i] = r.Float32()
		}
		in, seed := xt, gt.Clone()
		if l == kernel.Blocked {
			in, seed = toBlocked(xt), toBlocked(gt)
		}
		x := autograd.Param(in)
		out := s.ApplyLayout(x, l)
		out.Backward(seed)
		y, dx = out.Value, x.Grad
		if l == kernel.Blocked {
			y, dx = fromBlocked(y), fromBlocked(dx)
		}
		return y, dx, s.Alpha.Grad
	}
	ya, dxa, daa := runSNL(kernel.NCHW)
	yb, dxb, dab := runSNL(kernel.Blocked)
	if closeTo(yb.Data, ya.Data) > 1e-6 || closeTo(dxb.Data, dxa.Data) > 1e-6 || closeTo(dab.Data, daa.Data) > 1e-5 {
		t.Error("SNL: blocked differs from NCHW")
	}
}

// TestResNet20SitesBlocked installs AutoReP and SNL activations on
// ResNet-20 and checks that the planned execution (blocked layouts
// through the sites) gives the same logits and gradients in training, and
// the same logits in inference, as plain NCHW execution (NoFusion).
func TestResNet20SitesBlocked(t *testing.T) {
	rng := rand.New(rand.NewPCG(47, 48))
	x := randTensor(rng, 1, 4, 3, 32, 32)
	labels := []int32{1, 2, 3, 4}
	for _, method := range []string{MethodAutoReP, MethodSNL} {
		var grads [2][]*tensor.Tensor
		var logits, inferred [2]*tensor.Tensor
		for k, noFusion := range []bool{false, true} {
			m, _ := resNet20Sites(t, method, rand.New(rand.NewPCG(49, 50)))
			m.Net.NoFusion = noFusion
			y, err := m.Forward(autograd.Const(x))
			if err != nil {
				t.Fatal(err)
			}
			loss, err := nn.CrossEntropy(y, labels, 0)
			if err != nil {
				t.Fatal(err)
			}
			loss.Backward()
			logits[k] = y.Value
			for _, p := range nn.NamedParameters(m.Net) {
				if p.Var.Grad == nil {
					t.Fatalf("%s: no gradient for %s", method, p.Name)
				}
				grads[k] = append(grads[k], p.Var.Grad)
			}
			// Inference (folded convolutions, no gradients).
			m.SetTraining(false)
			autograd.NoGrad(func() { y, err = m.Forward(autograd.Const(x)) })
			if err != nil {
				t.Fatal(err)
			}
			inferred[k] = y.Value
		}
		if d := closeTo(logits[0].Data, logits[1].Data); d > 1e-4 {
			t.Errorf("%s: logits differ by %g", method, d)
		}
		if d := closeTo(inferred[0].Data, inferred[1].Data); d > 1e-4 {
			t.Errorf("%s: inference logits differ by %g", method, d)
		}
		for i := range grads[0] {
			if d := scaledDiff(grads[0][i], grads[1][i]); d > 1e-3 {
				t.Errorf("%s: gradient %d differs by %g", method, i, d)
			}
		}
	}
}

// scaledDiff is max|a−b| / max(1e-3, max|b|).
func scaledDiff(a, b *tensor.Tensor) float64 {
	scale := 1e-3
	for _, v := range b.Data {
		scale = max(scale, math.Abs(float64(v)))
	}
	return tensor.MaxAbsDiff(a, b) / scale
}
