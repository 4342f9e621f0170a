package optim

import (
	"math"
	"math/rand"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
)

// grads is the gradient sequence used by the hand-computed references.
var grads = [][]float32{{0.5, 1}, {-1, 0.25}, {0.2, 0.2}}

func newParam() Param {
	return Param{Name: "w", Var: autograd.Param(tensor.FromData([]float32{1, -2}, 2))}
}

func run(t *testing.T, o Optimizer, p Param, gs [][]float32) {
	t.Helper()
	for _, g := range gs {
		o.ZeroGrad()
		p.Var.AccumGrad(tensor.FromData(append([]float32(nil), g...), 2))
		o.Step()
	}
}

func near(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 2e-6*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}

// The expected values are PyTorch's update rules evaluated by hand (in
// float64) for p0 = [1, -2] and the three gradients above.
func TestSGD(t *testing.T) {
	cases := []struct {
		name string
		cfg  SGDConfig
		wd   float64
		want []float64
	}{
		{"plain+wd", SGDConfig{LR: 0.5}, 0.1, []float64{1.00675, -2.38475}},
		{"momentum+wd", SGDConfig{LR: 0.5, Momentum: 0.9}, 0.1, []float64{0.92575, -3.05525}},
		{"nesterov+wd", SGDConfig{LR: 0.5, Momentum: 0.9, Nesterov: true}, 0.1, []float64{0.97090075, -3.2397365}},
		{"dampening", SGDConfig{LR: 0.5, Momentum: 0.9, Dampening: 0.5}, 0, []float64{0.7475, -3.52375}},
	}
	for _, c := range cases {
		p := newParam()
		o, err := NewSGD([]Group{{Params: []Param{p}, WeightDecay: c.wd}}, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		run(t, o, p, grads)
		near(t, c.name, p.Var.Value.Data, c.want)
	}
	if _, err := NewSGD(nil, SGDConfig{LR: 0.1, Nesterov: true}); err == nil {
		t.Fatal("Nesterov without momentum accepted")
	}
}

func TestAdam(t *testing.T) {
	cases := []struct {
		name string
		cfg  AdamConfig
		wd   float64
		want []float64
	}{
		{"plain", AdamConfig{LR: 0.1}, 0, []float64{0.9532121057371115, -2.258266742622349}},
		{"l2", AdamConfig{LR: 0.1}, 0.1, []float64{0.9275558739743743, -2.223870636669891}},
		{"adamw", AdamConfig{LR: 0.1, Decoupled: true}, 0.1, []float64{0.9251350021749057, -2.1960441451199717}},
	}
	for _, c := range cases {
		p := newParam()
		o, err := NewAdam([]Group{{Params: []Param{p}, WeightDecay: c.wd}}, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		run(t, o, p, grads)
		near(t, c.name, p.Var.Value.Data, c.want)
	}
}

func TestGroupsAndSkip(t *testing.T) {
	w := Param{Name: "conv.weight", Var: autograd.Param(tensor.Full(1, 2, 2))}
	b := Param{Name: "conv.bias", Var: autograd.Param(tensor.Full(1, 2))}
	frozen := Param{Name: "other", Var: autograd.Param(tensor.Full(1, 2))}
	gs := SplitDecay([]Param{w, b, frozen}, 0.5)
	if len(gs) != 2 || len(gs[0].Params) != 1 || gs[0].WeightDecay != 0.5 || gs[1].WeightDecay != 0 {
		t.Fatalf("SplitDecay: %+v", gs)
	}
	gs[1].LRScale = 2
	o, err := NewSGD(gs, SGDConfig{LR: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	w.Var.AccumGrad(tensor.Full(0, 2, 2))
	b.Var.AccumGrad(tensor.Full(1, 2))
	o.Step()
	// weight: decay only, 1 - 0.1*0.5 = 0.95; bias: 1 - 0.2*1 = 0.8;
	// "other" has no gradient and is untouched.
	if w.Var.Value.Data[0] != 0.95 || b.Var.Value.Data[0] != 0.8 || frozen.Var.Value.Data[0] != 1 {
		t.Fatalf("w %v b %v other %v", w.Var.Value.Data, b.Var.Value.Data, frozen.Var.Value.Data)
	}
	o.ZeroGrad()
	if w.Var.Grad != nil || b.Var.Grad != nil {
		t.Fatal("ZeroGrad left gradients")
	}
	if _, err := NewSGD([]Group{{Params: []Param{w, w}}}, SGDConfig{}); err == nil {
		t.Fatal("duplicate names accepted")
	}
}

// TestResumeExact checks that exporting state after two steps and loading
// it into a fresh optimiser gives bit-identical results to running on.
func TestResumeExact(t *testing.T) {
	makers := map[string]func([]Group) (Optimizer, error){
		"sgd": func(g []Group) (Optimizer, error) {
			return NewSGD(g, SGDConfig{LR: 0.3, Momentum: 0.9, Nesterov: true})
		},
		"adam": func(g []Group) (Optimizer, error) { return NewAdam(g, AdamConfig{LR: 0.01}) },
	}
	for name, mk := range makers {
		p1 := newParam()
		o1, _ := mk([]Group{{Params: []Param{p1}, WeightDecay: 0.01}})
		run(t, o1, p1, grads)

		p2 := newParam()
		o2, _ := mk([]Group{{Params: []Param{p2}, WeightDecay: 0.01}})
		run(t, o2, p2, grads[:2])
		st := o2.State()
		p3 := Param{Name: "w", Var: autograd.Param(p2.Var.Value.Clone())}
		o3, _ := mk([]Group{{Params: []Param{p3}, WeightDecay: 0.01}})
		o3.SetLR(99)
		if err := o3.LoadState(st); err != nil {
			t.Fatal(err)
		}
		if o3.LR() != o2.LR() {
			t.Fatalf("%s: LR not restored", name)
		}
		run(t, o3, p3, grads[2:])
		for i := range p1.Var.Value.Data {
			if p1.Var.Value.Data[i] != p3.Var.Value.Data[i] {
				t.Fatalf("%s: resumed %v, continuous %v", name, p3.Var.Value.Data, p1.Var.Value.Data)
			}
		}
		// Mismatched state is refused.
		bad := o2.State()
		for k := range bad.Tensors {
			bad.Tensors[k] = tensor.New(3)
		}
		if err := o3.LoadState(bad); err == nil {
			t.Fatalf("%s: wrong-shape state accepted", name)
		}
		bad = o2.State()
		bad.Kind = "other"
		if err := o3.LoadState(bad); err == nil {
			t.Fatalf("%s: wrong kind accepted", name)
		}
		bad = o2.State()
		bad.Tensors["nope.exp_avg"] = tensor.New(2)
		if err := o3.LoadState(bad); err == nil {
			t.Fatalf("%s: unknown parameter accepted", name)
		}
	}
}

func TestCosine(t *testing.T) {
	c, err := NewCosine(0.1, 0.001, 10, 110)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[int]float64{
		0: 0.01, 4: 0.05, 9: 0.1, 10: 0.1,
		60:  0.001 + 0.099*0.5,
		35:  0.001 + 0.099*(1+math.Cos(math.Pi/4))/2,
		109: 0.001 + 0.099*(1+math.Cos(math.Pi*99/100))/2,
		110: 0.001, 500: 0.001,
	}
	for step, want := range checks {
		if got := c.LR(step); math.Abs(got-want) > 1e-12 {
			t.Errorf("LR(%d) = %v, want %v", step, got, want)
		}
	}
	if _, err := NewCosine(0.1, 0, 5, 4); err == nil {
		t.Fatal("warm-up longer than schedule accepted")
	}
	if Constant(0.3).LR(7) != 0.3 {
		t.Fatal("Constant")
	}
}

func TestParamsOf(t *testing.T) {
	g := &nn.Graph{}
	lin := nn.NewLinear(rand.New(rand.NewSource(1)), 3, 2, true)
	g.Add("fc", lin)
	lin.Bias.SetRequiresGrad(false)
	ps := ParamsOf(g)
	if len(ps) != 1 || ps[0].Name != "fc.weight" || ps[0].Var != lin.Weight {
		t.Fatalf("ParamsOf = %+v", ps)
	}
}
