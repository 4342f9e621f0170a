package nn

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

// directConv is a naive reference convolution in float64.
func directConv(x, w, b *tensor.Tensor, stride, pad, groups int) *tensor.Tensor {
	n, c, h, wd := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	k, cg, r, s := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	oh, ow := (h+2*pad-r)/stride+1, (wd+2*pad-s)/stride+1
	y := tensor.New(n, k, oh, ow)
	kg := k / groups
	for in := 0; in < n; in++ {
		for ko := 0; ko < k; ko++ {
			g := ko / kg
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var acc float64
					if b != nil {
						acc = float64(b.Data[ko])
					}
					for ci := 0; ci < cg; ci++ {
						ch := g*cg + ci
						for dy := 0; dy < r; dy++ {
							for dx := 0; dx < s; dx++ {
								yy, xx := oy*stride-pad+dy, ox*stride-pad+dx
								if yy < 0 || yy >= h || xx < 0 || xx >= wd {
									continue
								}
								acc += float64(x.Data[((in*c+ch)*h+yy)*wd+xx]) * float64(w.Data[((ko*cg+ci)*r+dy)*s+dx])
							}
						}
					}
					y.Data[((in*k+ko)*oh+oy)*ow+ox] = float32(acc)
				}
			}
		}
	}
	return y
}

func TestConvMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	x := randTensor(rng, 2, 4, 7, 6)
	w := randTensor(rng, 6, 2, 3, 3)
	b := randTensor(rng, 6)
	got := Conv2dFn(autograd.Const(x), autograd.Const(w), autograd.Const(b), 2, 1, 2)
	want := directConv(x, w, b, 2, 1, 2)
	if !tensor.SameShape(got.Value, want) || tensor.MaxAbsDiff(got.Value, want) > 1e-5 {
		t.Fatalf("conv differs from direct: shape %v vs %v", got.Value.Shape, want.Shape)
	}
}

func TestBatchNormStatistics(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	bn := NewBatchNorm2d(2)
	x := tensor.New(3, 2, 4, 4)
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64()*2 + 5)
	}
	y := bn.Forward(autograd.Const(x)).Value
	m := 3 * 16
	for c := 0; c < 2; c++ {
		var s, ss, xs, xss float64
		for n := 0; n < 3; n++ {
			for j := 0; j < 16; j++ {
				v, u := float64(y.Data[(n*2+c)*16+j]), float64(x.Data[(n*2+c)*16+j])
				s, ss, xs, xss = s+v, ss+v*v, xs+u, xss+u*u
			}
		}
		mean, vr := s/float64(m), ss/float64(m)-(s/float64(m))*(s/float64(m))
		if math.Abs(mean) > 1e-5 || math.Abs(vr-1) > 1e-3 {
			t.Errorf("channel %d normalised to mean %g var %g", c, mean, vr)
		}
		xm := xs / float64(m)
		unbiased := (xss/float64(m) - xm*xm) * float64(m) / float64(m-1)
		if math.Abs(float64(bn.RunningMean.Data[c])-0.1*xm) > 1e-4 ||
			math.Abs(float64(bn.RunningVar.Data[c])-(0.9+0.1*unbiased)) > 1e-3 {
			t.Errorf("channel %d running stats %v %v, want %v %v", c, bn.RunningMean.Data[c], bn.RunningVar.Data[c], 0.1*xm, 0.9+0.1*unbiased)
		}
	}
	// Eval mode uses the running statistics.
	bn.SetTraining(false)
	ye := bn.Forward(autograd.Const(x)).Value
	v0 := (x.Data[0] - bn.RunningMean.Data[0]) / float32(math.Sqrt(float64(bn.RunningVar.Data[0])+1e-5))
	if math.Abs(float64(ye.Data[0]-v0)) > 1e-5 {
		t.Errorf("eval output %v, want %v", ye.Data[0], v0)
	}
}

func TestPoolValues(t *testing.T) {
	x := autograd.Const(tensor.FromData([]float32{
		1, 2, 3, 4,
		5, 6, 7, 8,
		9, 10, 11, 12,
		13, 14, 15, 16}, 1, 1, 4, 4))
	mp := (&MaxPool2d{Kernel: 2}).Forward(x).Value.Data
	ap := (&AvgPool2d{Kernel: 2}).Forward(x).Value.Data
	gp := GlobalAvgPool{}.Forward(x).Value.Data
	if mp[0] != 6 || mp[1] != 8 || mp[2] != 14 || mp[3] != 16 {
		t.Errorf("maxpool %v", mp)
	}
	if ap[0] != 3.5 || ap[3] != 13.5 || gp[0] != 8.5 {
		t.Errorf("avgpool %v global %v", ap, gp)
	}
	// Padding counts in the average (count_include_pad) and never wins a max.
	neg := autograd.Const(tensor.Full(-1, 1, 1, 2, 2))
	if v := (&MaxPool2d{Kernel: 3, Stride: 1, Pad: 1}).Forward(neg).Value.Data[0]; v != -1 {
		t.Errorf("padded maxpool %v", v)
	}
	if v := (&AvgPool2d{Kernel: 3, Stride: 1, Pad: 1}).Forward(neg).Value.Data[0]; math.Abs(float64(v)+4.0/9) > 1e-6 {
		t.Errorf("padded avgpool %v", v)
	}
}

func TestPolyMaskValues(t *testing.T) {
	x := autograd.Const(tensor.FromData([]float32{-2, 3, -2, 3}, 1, 2, 1, 2))
	pm := &PolyMask{Mask: []float32{1, 0, 0, 1}, Coef: [][]float32{{1, 2, 3}, {0, 1}}}
	y := pm.Apply(x).Value.Data
	// ch0: relu(-2)=0; poly 1+2·3+3·9 = 34. ch1: identity(-2) = -2; relu(3) = 3.
	want := []float32{0, 34, -2, 3}
	for i := range want {
		if y[i] != want[i] {
			t.Fatalf("polymask %v, want %v", y, want)
		}
	}
	if pm.ReLUCount() != 2 {
		t.Errorf("count %d", pm.ReLUCount())
	}
	s := &Site{Name: "s", Shape: []int{2, 1, 2}, Act: pm}
	if s.ReLUCount() != 2 || (&Site{Shape: []int{2, 1, 2}}).ReLUCount() != 4 {
		t.Error("site counts")
	}
	if pm.Check([]int{2, 2, 2}) == nil || pm.Check([]int{2, 1, 2}) != nil {
		t.Error("Check")
	}
}

func TestLossValues(t *testing.T) {
	z := autograd.Const(tensor.FromData([]float32{0, 0, 0, 1e4, 0, -1e4}, 2, 3))
	l, err := CrossEntropy(z, []int32{1, 0}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := math.Log(3) / 2; math.Abs(float64(l.Value.Data[0])-want) > 1e-6 {
		t.Errorf("CE %v, want %v", l.Value.Data[0], want)
	}
	// Smoothing on a confident correct row: ε/K·Σ(−log p) dominates.
	l, _ = CrossEntropy(autograd.Const(tensor.FromData([]float32{1e4, 0}, 1, 2)), []int32{0}, 0.2)
	if want := 0.1 * 1e4; math.Abs(float64(l.Value.Data[0])-want) > 1 {
		t.Errorf("smoothed CE %v, want %v", l.Value.Data[0], want)
	}
	for _, bad := range [][]int32{{0}, {0, 3}, {-1, 0}} {
		if _, err := CrossEntropy(z, bad, 0); err == nil {
			t.Errorf("labels %v accepted", bad)
		}
	}
	if _, err := CrossEntropy(autograd.Const(tensor.New(6)), []int32{0}, 0); err == nil {
		t.Error("1-D logits accepted")
	}
	if _, err := CrossEntropy(z, []int32{0, 0}, 1); err == nil {
		t.Error("smoothing 1 accepted")
	}
	kd, err := KDLoss(z, z, 4)
	if err != nil || math.Abs(float64(kd.Value.Data[0])) > 1e-6 {
		t.Errorf("KD of identical logits %v %v", kd, err)
	}
	s := autograd.Const(tensor.FromData([]float32{1e4, 0}, 1, 2))
	te := autograd.Const(tensor.FromData([]float32{0, 1e4}, 1, 2))
	kd, err = KDLoss(s, te, 4)
	// KL ≈ (1e4/4)·1 → times T² = 16: 4e4.
	if err != nil || math.Abs(float64(kd.Value.Data[0])-4e4) > 10 || math.IsNaN(float64(kd.Value.Data[0])) {
		t.Errorf("KD of opposite confident logits %v %v", kd.Value.Data[0], err)
	}
	if _, err := KDLoss(z, autograd.Const(tensor.New(2, 2)), 4); err == nil {
		t.Error("KD shape mismatch accepted")
	}
	if _, err := KDLoss(z, z, 0); err == nil {
		t.Error("KD temperature 0 accepted")
	}
	if Accuracy(z.Value, []int32{0, 0}) != 2 || Accuracy(z.Value, []int32{1, 1}) != 0 {
		t.Error("accuracy")
	}
}

func TestGraphErrors(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	g := &Graph{}
	g.Add("conv", NewConv2d(rng, 3, 4, 3, 1, 1, 1, false))
	g.Add("relu", &Site{Name: "relu"})
	g.Add("fc", NewLinear(rng, 4, 2, true))
	if _, err := g.Run(autograd.Const(tensor.New(1, 3, 4, 4))); err == nil || !strings.Contains(err.Error(), `"fc"`) {
		t.Errorf("error %v does not name fc", err)
	}
	if _, err := g.Run(autograd.Const(tensor.New(1, 2, 4, 4))); err == nil || !strings.Contains(err.Error(), `"conv"`) {
		t.Errorf("error %v does not name conv", err)
	}
	if _, err := g.OutputShapes([]int{1, 3, 4, 4}); err == nil {
		t.Error("shape inference missed the linear mismatch")
	}
	bad := &Graph{}
	bad.Add("a", &Site{Name: "a"})
	bad.Add("a", &Site{Name: "a"})
	if bad.Validate() == nil {
		t.Error("duplicate names accepted")
	}
	bad = &Graph{}
	bad.Add("a", &Site{Name: "a"}, 0)
	if bad.Validate() == nil {
		t.Error("self input accepted")
	}
	bad = &Graph{}
	bad.Add("a", &Site{Name: "a"})
	bad.Add("b", &Site{Name: "b"}, -1, 0)
	if bad.Validate() == nil {
		t.Error("two inputs to a one-input op accepted")
	}
	bad = &Graph{}
	bad.Add("a", &MaxPool2d{Kernel: 2})
	bad.Add("add", Add{}, -1, 0)
	if _, err := bad.Run(autograd.Const(tensor.New(1, 1, 4, 4))); err == nil {
		t.Error("adding different shapes accepted")
	}
	if _, err := (&Graph{}).Run(autograd.Const(tensor.New(1))); err == nil {
		t.Error("empty graph ran")
	}
}

// TestNestedGraph checks names, training mode and shapes through a
// sub-graph used as a node.
func TestNestedGraph(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	inner := &Graph{}
	inner.Add("conv", NewConv2d(rng, 2, 2, 3, 1, 1, 1, false))
	inner.Add("bn", NewBatchNorm2d(2))
	inner.Add("relu", &Site{Name: "block.relu"})
	outer := &Graph{}
	outer.Add("block", inner)
	outer.Add("add", Add{}, -1, 0)
	outer.Add("drop", NewDropout(0.5, 1))
	names := []string{}
	for _, p := range NamedParameters(outer) {
		names = append(names, p.Name)
	}
	if strings.Join(names, " ") != "block.conv.weight block.bn.weight block.bn.bias" {
		t.Errorf("names %v", names)
	}
	if len(NamedBuffers(outer)) != 2 || len(Sites(outer)) != 1 {
		t.Error("buffers or sites")
	}
	if err := outer.FillSiteShapes([]int{1, 2, 5, 5}); err != nil || Sites(outer)[0].Size() != 50 {
		t.Errorf("site shapes: %v", err)
	}
	SetTraining(outer, false)
	if inner.Nodes[1].Op.(*BatchNorm2d).Training || outer.Nodes[2].Op.(*Dropout).Training {
		t.Error("SetTraining did not reach every module")
	}
	x := autograd.Const(randTensor(rng, 2, 2, 5, 5))
	y1, err := outer.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	y2, _ := outer.Run(x)
	if tensor.MaxAbsDiff(y1.Value, y2.Value) != 0 {
		t.Error("eval mode is not deterministic")
	}
	if _, err := outer.Run(autograd.Const(tensor.New(1, 3, 5, 5))); err == nil {
		t.Error("nested shape error not reported")
	}
}

func TestInitStatistics(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	c := NewConv2d(rng, 64, 64, 3, 1, 1, 1, false)
	var ss float64
	for _, v := range c.Weight.Value.Data {
		ss += float64(v) * float64(v)
	}
	std := math.Sqrt(ss / float64(c.Weight.Value.Len()))
	if want := math.Sqrt(2.0 / (64 * 9)); math.Abs(std-want) > 0.03*want {
		t.Errorf("conv init std %g, want %g", std, want)
	}
	l := NewLinear(rng, 100, 50, true)
	bound := float32(0.1)
	for _, v := range append(append([]float32(nil), l.Weight.Value.Data...), l.Bias.Value.Data...) {
		if v < -bound || v > bound {
			t.Fatalf("linear init %v outside ±%v", v, bound)
		}
	}
	a := NewConv2d(rand.New(rand.NewSource(5)), 3, 4, 3, 1, 1, 1, true)
	b := NewConv2d(rand.New(rand.NewSource(5)), 3, 4, 3, 1, 1, 1, true)
	if tensor.MaxAbsDiff(a.Weight.Value, b.Weight.Value) != 0 || tensor.MaxAbsDiff(a.Bias.Value, b.Bias.Value) != 0 {
		t.Error("seeded init differs")
	}
}

// TestFusionIdentical checks that fused BN+ReLU and Add+ReLU execution
// gives exactly the unfused outputs and gradients, in both modes.
func TestFusionIdentical(t *testing.T) {
	build := func() *Graph {
		rng := rand.New(rand.NewSource(4))
		g := &Graph{}
		g.Add("conv1", NewConv2d(rng, 3, 4, 3, 1, 1, 1, false))
		g.Add("bn1", NewBatchNorm2d(4))
		g.Add("relu", &Site{Name: "relu"})
		g.Add("conv2", NewConv2d(rng, 4, 4, 3, 1, 1, 1, false))
		g.Add("bn2", NewBatchNorm2d(4))
		g.Add("add", &Add{}, 4, 2)
		g.Add("relu2", &Site{Name: "relu2"})
		g.Add("bn3", NewBatchNorm2d(4))
		g.Add("relu3", &Site{Name: "relu3", Act: NewPolyMask([]int{4, 5, 5}, 1)}) // not fusable
		g.Add("pool", &GlobalAvgPool{})
		return g
	}
	for _, training := range []bool{true, false} {
		a, b := build(), build()
		b.NoFusion = true
		SetTraining(a, training)
		SetTraining(b, training)
		rng := rand.New(rand.NewSource(5))
		x := randTensor(rng, 2, 3, 5, 5)
		seed := randTensor(rng, 2, 4, 1, 1)
		ya, err := a.Run(autograd.Const(x))
		if err != nil {
			t.Fatal(err)
		}
		yb, err := b.Run(autograd.Const(x))
		if err != nil {
			t.Fatal(err)
		}
		ya.Backward(seed.Clone())
		yb.Backward(seed.Clone())
		if tensor.MaxAbsDiff(ya.Value, yb.Value) != 0 {
			t.Errorf("training=%v: fused output differs", training)
		}
		pa, pb := NamedParameters(a), NamedParameters(b)
		for i := range pa {
			if tensor.MaxAbsDiff(pa[i].Var.Grad, pb[i].Var.Grad) != 0 {
				t.Errorf("training=%v: gradient of %s differs", training, pa[i].Name)
			}
		}
		ba, bb := NamedBuffers(a), NamedBuffers(b)
		for i := range ba {
			if tensor.MaxAbsDiff(ba[i].Tensor, bb[i].Tensor) != 0 {
				t.Errorf("training=%v: buffer %s differs", training, ba[i].Name)
			}
		}
		for _, s := range Sites(a) {
			if s.Size() != 100 {
				t.Errorf("site %s shape %v after fused run", s.Name, s.Shape)
			}
		}
	}
}

// TestFoldedInference checks the inference path (conv with folded BN,
// residual and ReLU post-ops) against unfused execution.
func TestFoldedInference(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	g := &Graph{}
	g.Add("conv1", NewConv2d(rng, 4, 4, 3, 1, 1, 1, true))
	g.Add("bn1", NewBatchNorm2d(4))
	g.Add("relu1", &Site{Name: "relu1"})
	g.Add("conv2", NewConv2d(rng, 4, 4, 3, 1, 1, 1, false))
	g.Add("bn2", NewBatchNorm2d(4))
	g.Add("add", &Add{}, -1, 4) // residual from the graph input
	g.Add("relu2", &Site{Name: "relu2"})
	g.Add("conv3", NewConv2d(rng, 4, 2, 1, 2, 0, 1, false))
	g.Add("bn3", NewBatchNorm2d(2))
	for _, nb := range NamedBuffers(g) {
		for i := range nb.Tensor.Data {
			nb.Tensor.Data[i] = float32(0.5 + rng.Float64())
		}
	}
	for _, p := range NamedParameters(g) {
		if strings.HasPrefix(p.Name, "bn") {
			p.Var.Value = randTensor(rng, p.Var.Value.Shape...)
		}
	}
	SetTraining(g, false)
	x := autograd.Const(randTensor(rng, 2, 4, 6, 6))
	keep := x.Value.Clone()
	var fused, plain *autograd.Var
	var err1, err2 error
	autograd.NoGrad(func() {
		fused, err1 = g.Run(x)
		g.NoFusion = true
		plain, err2 = g.Run(x)
		g.NoFusion = false
	})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if !tensor.SameShape(fused.Value, plain.Value) || tensor.MaxAbsDiff(fused.Value, plain.Value) > 1e-5 {
		t.Errorf("folded inference differs from plain by %g", tensor.MaxAbsDiff(fused.Value, plain.Value))
	}
	if tensor.MaxAbsDiff(keep, x.Value) != 0 {
		t.Error("folded inference modified the graph input")
	}
}

// fakeAct is a trainable activation like those package reduce installs.
type fakeAct struct {
	alpha    *autograd.Var
	mask     *tensor.Tensor
	extra    *tensor.Tensor // optional buffer (nil = none)
	training bool
}

func (f *fakeAct) Apply(x *autograd.Var) *autograd.Var { return Scale(x, f.alpha.Value.Data[0]) }
func (f *fakeAct) Parameters() []Named                 { return []Named{{"alpha", f.alpha}} }
func (f *fakeAct) Buffers() []NamedTensor {
	out := []NamedTensor{{Name: "mask", Tensor: f.mask}}
	if f.extra != nil {
		out = append(out, NamedTensor{Name: "extra", Tensor: f.extra, Optional: true})
	}
	return out
}
func (f *fakeAct) SetTraining(t bool) { f.training = t }
func (f *fakeAct) ReLUCount() int     { return 3 }

func TestSiteActivationState(t *testing.T) {
	act := &fakeAct{alpha: autograd.Param(tensor.Full(0.5, 1)), mask: tensor.Full(1, 2, 2, 2)}
	g := &Graph{}
	g.Add("block", &Graph{Nodes: []*Node{{Name: "relu", Op: &Site{Name: "block.relu", Act: act}}}})
	ps := NamedParameters(g)
	bs := NamedBuffers(g)
	if len(ps) != 1 || ps[0].Name != "block.relu.alpha" || len(bs) != 1 || bs[0].Name != "block.relu.mask" {
		t.Fatalf("names %v %v", ps, bs)
	}
	SetTraining(g, true)
	if !act.training || Sites(g)[0].ReLUCount() != 3 {
		t.Error("mode or count not forwarded to the activation")
	}
	sd, err := StateDict(g)
	if err != nil {
		t.Fatal(err)
	}
	sd2 := map[string]*tensor.Tensor{"block.relu.alpha": tensor.Full(2, 1), "block.relu.mask": tensor.New(2, 2, 2)}
	if err := LoadStateDict(g, sd2); err != nil {
		t.Fatal(err)
	}
	if act.alpha.Value.Data[0] != 2 || act.mask.Data[0] != 0 || len(sd) != 2 {
		t.Error("activation state not loaded")
	}
	unused, err := LoadStateDictLenient(g, map[string]*tensor.Tensor{
		"block.relu.alpha": tensor.Full(3, 1), "block.relu.mask": tensor.New(2, 2, 2), "extra": tensor.New(1),
		"bn.num_batches_tracked": tensor.New(1)})
	if err != nil || len(unused) != 1 || unused[0] != "extra" {
		t.Errorf("lenient load: %v %v", unused, err)
	}
}

func TestLoadMalformedTensors(t *testing.T) {
	g := &Graph{}
	g.Add("relu", &Site{Name: "relu", Shape: []int{2, 1, 1}})
	bad := []map[string]*tensor.Tensor{
		{"relu.mask": {Shape: []int{2, 1, 1}, Data: []float32{1}}, "relu.poly": tensor.New(2, 2)},
		{"relu.mask": tensor.Full(1, 2, 1, 1), "relu.poly": {Shape: []int{2, 3}, Data: []float32{1, 2}}},
		{"relu.mask": tensor.Full(1, 2, 1, 1), "relu.poly": tensor.New(6)},
		{"relu.mask": tensor.Full(1, 3, 1, 1), "relu.poly": tensor.New(3, 2)},
		{"relu.mask": nil, "relu.poly": tensor.New(2, 2)},
	}
	for i, sd := range bad {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("case %d panicked: %v", i, r)
				}
			}()
			if err := LoadStateDict(g, sd); err == nil {
				t.Errorf("case %d accepted", i)
			}
		}()
	}
	if Sites(g)[0].Act != nil {
		t.Error("failed loads installed an activation")
	}
	bn := &Graph{}
	bn.Add("bn", NewBatchNorm2d(2))
	sd := map[string]*tensor.Tensor{"bn.weight": {Shape: []int{2}, Data: []float32{1}}, "bn.bias": tensor.New(2),
		"bn.running_mean": tensor.New(2), "bn.running_var": tensor.New(2)}
	if err := LoadStateDict(bn, sd); err == nil {
		t.Error("tensor with too few values accepted")
	}
}

func TestLoadStateDictOptionalBuffer(t *testing.T) {
	act := &fakeAct{alpha: autograd.Param(tensor.Full(0.5, 1)), mask: tensor.Full(1, 2), extra: tensor.Full(7, 3)}
	g := &Graph{}
	g.Add("relu", &Site{Name: "relu", Act: act})
	// A state dict from before the optional buffer existed loads; the
	// buffer keeps its value.
	old := map[string]*tensor.Tensor{"relu.alpha": tensor.Full(2, 1), "relu.mask": tensor.Full(0, 2)}
	if err := LoadStateDict(g, old); err != nil {
		t.Fatalf("state dict without the optional buffer: %v", err)
	}
	if act.alpha.Value.Data[0] != 2 || act.mask.Data[0] != 0 || act.extra.Data[0] != 7 {
		t.Fatalf("loaded alpha %v mask %v extra %v", act.alpha.Value.Data, act.mask.Data, act.extra.Data)
	}
	// Present, it is loaded and checked like any buffer.
	old["relu.extra"] = tensor.Full(9, 3)
	if err := LoadStateDict(g, old); err != nil || act.extra.Data[2] != 9 {
		t.Fatalf("optional buffer present: err %v, value %v", err, act.extra.Data)
	}
	old["relu.extra"] = tensor.Full(9, 4)
	if err := LoadStateDict(g, old); err == nil || !strings.Contains(err.Error(), "relu.extra") {
		t.Fatalf("optional buffer of the wrong shape: err %v", err)
	}
	// Required buffers are still required.
	delete(old, "relu.mask")
	delete(old, "relu.extra")
	if err := LoadStateDict(g, old); err == nil || !strings.Contains(err.Error(), "missing relu.mask") {
		t.Fatalf("missing required buffer: err %v", err)
	}
}
