package nn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

// blockedGraph has 16- and 32-channel conv/BN/ReLU/add chains (run in the
// Blocked layout), a site with an installed activation and a 4-channel
// conv (forcing NCHW around them), and a global average pool on blocked
// input.
func blockedGraph() *Graph {
	rng := rand.New(rand.NewSource(11))
	g := &Graph{}
	g.Add("conv0", NewConv2d(rng, 3, 16, 3, 1, 1, 1, false))                 // 0
	g.Add("bn0", NewBatchNorm2d(16))                                         // 1
	g.Add("relu0", &Site{Name: "relu0"})                                     // 2
	g.Add("conv1", NewConv2d(rng, 16, 16, 3, 1, 1, 1, false))                // 3
	g.Add("bn1", NewBatchNorm2d(16))                                         // 4
	g.Add("relu1", &Site{Name: "relu1"})                                     // 5
	g.Add("conv2", NewConv2d(rng, 16, 16, 3, 1, 1, 1, false))                // 6
	g.Add("bn2", NewBatchNorm2d(16))                                         // 7
	g.Add("add", &Add{}, 7, 2)                                               // 8
	g.Add("relu2", &Site{Name: "relu2"})                                     // 9
	g.Add("conv3", NewConv2d(rng, 16, 32, 3, 2, 1, 1, true))                 // 10
	g.Add("bn3", NewBatchNorm2d(32))                                         // 11
	g.Add("poly", &Site{Name: "poly", Act: NewPolyMask([]int{32, 3, 3}, 2)}) // 12: NCHW
	g.Add("conv4", NewConv2d(rng, 32, 32, 1, 1, 0, 1, false))                // 13
	g.Add("bn4", NewBatchNorm2d(32))                                         // 14
	g.Add("conv5", NewConv2d(rng, 32, 4, 1, 1, 0, 1, false))                 // 15: 4 channels, NCHW
	g.Add("conv6", NewConv2d(rng, 4, 32, 1, 1, 0, 1, false))                 // 16
	g.Add("bn6", NewBatchNorm2d(32))                                         // 17
	g.Add("add2", &Add{}, 17, 14)                                            // 18
	g.Add("relu6", &Site{Name: "relu6"})                                     // 19
	g.Add("pool", &GlobalAvgPool{})                                          // 20
	g.Add("flat", Flatten{})                                                 // 21
	return g
}

func TestPlanLayouts(t *testing.T) {
	g := blockedGraph()
	got := g.planLayouts()
	want := map[int]bool{0: true, 1: true, 2: true, 3: true, 8: true, 9: true, 10: false, 11: false, 12: false,
		13: true, 14: true, 15: false, 16: true, 17: true, 19: true, 20: false, 21: false}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("node %s: blocked %v, want %v", g.Nodes[i].Name, got[i], w)
		}
	}
	g.NoFusion = true
	if g.planLayouts() != nil {
		t.Error("NoFusion still plans blocked layouts")
	}
}

// relDiff is max|a−b| / max(1, max|b|).
func relDiff(a, b *tensor.Tensor) float64 {
	scale := 1.0
	for _, v := range b.Data {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	return tensor.MaxAbsDiff(a, b) / scale
}

// TestBlockedMatchesPlain runs the graph with blocked activations and
// with NoFusion (all NCHW, unfused) in training mode, evaluation mode
// with gradients, and inference without gradients: outputs, gradients
// and running statistics agree.
func TestBlockedMatchesPlain(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	x := randTensor(rng, 3, 3, 6, 6)
	seed := randTensor(rng, 3, 32)
	for _, mode := range []string{"train", "eval", "infer"} {
		a, b := blockedGraph(), blockedGraph()
		b.NoFusion = true
		for _, g := range []*Graph{a, b} {
			SetTraining(g, mode == "train")
			r := rand.New(rand.NewSource(13))
			for _, nb := range NamedBuffers(g) {
				for i := range nb.Tensor.Data {
					nb.Tensor.Data[i] = float32(0.5 + 0.5*r.Float64())
				}
			}
		}
		var ya, yb *autograd.Var
		var ea, eb error
		run := func() {
			ya, ea = a.Run(autograd.Const(x))
			yb, eb = b.Run(autograd.Const(x))
		}
		if mode == "infer" {
			autograd.NoGrad(run)
		} else {
			run()
		}
		if ea != nil || eb != nil {
			t.Fatal(ea, eb)
		}
		if d := relDiff(ya.Value, yb.Value); d > 1e-4 {
			t.Errorf("%s: output differs by %g", mode, d)
		}
		if mode == "infer" {
			continue
		}
		ya.Backward(seed.Clone())
		yb.Backward(seed.Clone())
		pa, pb := NamedParameters(a), NamedParameters(b)
		for i := range pa {
			if pa[i].Var.Grad == nil || pb[i].Var.Grad == nil {
				t.Errorf("%s: no gradient for %s", mode, pa[i].Name)
				continue
			}
			if d := relDiff(pa[i].Var.Grad, pb[i].Var.Grad); d > 1e-3 {
				t.Errorf("%s: gradient of %s differs by %g", mode, pa[i].Name, d)
			}
		}
		ba, bb := NamedBuffers(a), NamedBuffers(b)
		for i := range ba {
			if d := relDiff(ba[i].Tensor, bb[i].Tensor); d > 1e-5 {
				t.Errorf("%s: buffer %s differs by %g", mode, ba[i].Name, d)
			}
		}
	}
}

// TestInferenceBufferReuse runs folded inference twice (the second run
// gets recycled buffers) on a graph whose residual is also the input of
// the convolution it is added to: both runs equal plain execution.
func TestInferenceBufferReuse(t *testing.T) {
	rng := rand.New(rand.NewSource(14))
	g := &Graph{}
	g.Add("conv0", NewConv2d(rng, 3, 16, 3, 1, 1, 1, false))  // 0
	g.Add("bn0", NewBatchNorm2d(16))                          // 1
	g.Add("relu0", &Site{Name: "relu0"})                      // 2
	g.Add("conv1", NewConv2d(rng, 16, 16, 5, 1, 2, 1, false)) // direct: streams over its input
	g.Add("bn1", NewBatchNorm2d(16))
	g.Add("add1", &Add{}, 4, 2) // residual 2 is conv1's input
	g.Add("relu1", &Site{Name: "relu1"})
	g.Add("conv2", NewConv2d(rng, 16, 16, 3, 1, 1, 1, false)) // 7
	g.Add("bn2", NewBatchNorm2d(16))
	g.Add("relu2", &Site{Name: "relu2"}) // 9
	g.Add("conv3", NewConv2d(rng, 16, 16, 3, 1, 1, 1, false))
	g.Add("bn3", NewBatchNorm2d(16))
	g.Add("add3", &Add{}, 11, 6) // residual 6 dead after: summed in place
	g.Add("pool", &GlobalAvgPool{})
	r := rand.New(rand.NewSource(15))
	for _, nb := range NamedBuffers(g) {
		for i := range nb.Tensor.Data {
			nb.Tensor.Data[i] = float32(0.5 + 0.5*r.Float64())
		}
	}
	SetTraining(g, false)
	x := autograd.Const(randTensor(rng, 2, 3, 12, 12))
	var plain *autograd.Var
	var runs [3]*autograd.Var
	autograd.NoGrad(func() {
		var err error
		for i := range runs {
			if runs[i], err = g.Run(x); err != nil {
				t.Fatal(err)
			}
		}
		g.NoFusion = true
		if plain, err = g.Run(x); err != nil {
			t.Fatal(err)
		}
	})
	for i, y := range runs {
		if d := relDiff(y.Value, plain.Value); d > 1e-5 {
			t.Errorf("run %d differs from plain execution by %g", i, d)
		}
	}
}

// TestBlockedDeterministic checks that two training passes of the same
// graph on the same data give bit-identical outputs and gradients.
func TestBlockedDeterministic(t *testing.T) {
	rng := rand.New(rand.NewSource(16))
	x := randTensor(rng, 8, 3, 6, 6)
	seed := randTensor(rng, 8, 32)
	var ref []*tensor.Tensor
	for run := 0; run < 3; run++ {
		g := blockedGraph()
		y, err := g.Run(autograd.Const(x))
		if err != nil {
			t.Fatal(err)
		}
		y.Backward(seed.Clone())
		got := []*tensor.Tensor{y.Value}
		for _, p := range NamedParameters(g) {
			got = append(got, p.Var.Grad)
		}
		if run == 0 {
			ref = got
			continue
		}
		for i := range got {
			for j, v := range got[i].Data {
				if math.Float32bits(v) != math.Float32bits(ref[i].Data[j]) {
					t.Fatalf("run %d: tensor %d element %d = %g, first run %g", run, i, j, v, ref[i].Data[j])
				}
			}
		}
	}
}
