package models

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
)

func TestReLUCounts(t *testing.T) {
	cases := []struct {
		arch  string
		in    [3]int
		sites int
		relus int
	}{
		{"resnet20", [3]int{3, 32, 32}, 19, 188416},
		{"resnet18", [3]int{3, 32, 32}, 16, 491520},
		{"resnet18_relu", [3]int{3, 32, 32}, 17, 557056},
		{"wrn22_8", [3]int{3, 32, 32}, 18, 1359872},
		{"resnet20", [3]int{3, 64, 64}, 19, 4 * 188416},
		{"resnet18", [3]int{3, 64, 64}, 16, 4 * 491520},
		{"resnet18_relu", [3]int{3, 64, 64}, 17, 4 * 557056},
		{"wrn22_8", [3]int{3, 64, 64}, 18, 4 * 1359872},
		{"resnet32", [3]int{3, 32, 32}, 31, 16384*(1+10) + 8192*10 + 4096*10},
		{"resnet56", [3]int{3, 32, 32}, 55, 16384*(1+18) + 8192*18 + 4096*18},
		// LeNet on MNIST: 6·28·28 + 16·10·10 + 120 + 84.
		{"lenet", [3]int{1, 28, 28}, 4, 4704 + 1600 + 120 + 84},
	}
	for _, c := range cases {
		m, err := New(c.arch, 10, c.in)
		if err != nil {
			t.Fatal(err)
		}
		per, total := m.ReLUCount()
		if len(per) != c.sites || len(m.Sites) != c.sites || total != c.relus {
			t.Errorf("%s %v: %d sites, %d ReLUs; want %d, %d", c.arch, c.in, len(per), total, c.sites, c.relus)
		}
		seen := map[string]bool{}
		for _, s := range m.Sites {
			if s.Name == "" || seen[s.Name] || m.Net.Find(s.Name) == nil || len(s.Shape) == 0 {
				t.Errorf("%s: bad site %q shape %v", c.arch, s.Name, s.Shape)
			}
			seen[s.Name] = true
		}
	}
}

func TestNames(t *testing.T) {
	want := []string{"lenet", "resnet18", "resnet20", "resnet32", "resnet56", "wrn22_8"}
	names := strings.Join(Names(), ",")
	for _, w := range want {
		if !strings.Contains(names, w) || Describe(w) == "" {
			t.Errorf("architecture %s missing from %s", w, names)
		}
	}
	if _, err := New("vgg", 10, [3]int{3, 32, 32}); err == nil {
		t.Error("unknown architecture accepted")
	}
	if _, err := New("resnet20", 0, [3]int{3, 32, 32}); err == nil {
		t.Error("zero classes accepted")
	}
	if _, err := New("lenet", 10, [3]int{1, 8, 8}); err == nil {
		t.Error("lenet on 8x8 accepted")
	}
	if _, err := New("resnet20", 10, [3]int{0, 32, 32}); err == nil {
		t.Error("zero channels accepted")
	}
}

// TestNamesLikePyTorch pins parameter names and order of ResNet-20.
func TestNamesLikePyTorch(t *testing.T) {
	m, err := New("resnet20", 10, [3]int{3, 32, 32})
	if err != nil {
		t.Fatal(err)
	}
	ps := nn.NamedParameters(m.Net)
	if ps[0].Name != "conv1.weight" || ps[1].Name != "bn1.weight" || ps[len(ps)-1].Name != "fc.bias" {
		t.Errorf("parameter names %s, %s ... %s", ps[0].Name, ps[1].Name, ps[len(ps)-1].Name)
	}
	sd, err := nn.StateDict(m.Net)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"layer1.0.conv1.weight", "layer2.0.shortcut.0.weight", "layer2.0.shortcut.1.running_var", "layer3.2.bn2.bias", "fc.weight"} {
		if sd[k] == nil {
			t.Errorf("missing %s", k)
		}
	}
	if sd["layer1.0.shortcut.0.weight"] != nil {
		t.Error("identity shortcut has a projection")
	}
	var n int
	for _, p := range ps {
		n += p.Var.Value.Len()
	}
	// 0.27M parameters (He et al.) plus the projection shortcuts.
	if n < 270000 || n > 280000 {
		t.Errorf("resnet20 has %d parameters", n)
	}
}

// TestForwardMatchesShapes runs real forward passes and checks the output
// and that each Site sees the shape shape-inference gave it.
func TestForwardMatchesShapes(t *testing.T) {
	for _, c := range []struct {
		arch string
		in   [3]int
	}{{"lenet", [3]int{1, 28, 28}}, {"resnet20", [3]int{3, 32, 32}}, {"lenet", [3]int{3, 32, 32}}} {
		m, err := New(c.arch, 7, c.in)
		if err != nil {
			t.Fatal(err)
		}
		want := make([][]int, len(m.Sites))
		for i, s := range m.Sites {
			want[i], s.Shape = s.Shape, nil
		}
		x := autograd.Const(tensor.New(2, c.in[0], c.in[1], c.in[2]))
		for i := range x.Value.Data {
			x.Value.Data[i] = float32(i%13) * 0.1
		}
		y, err := m.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		if !tensor.SameShape(y.Value, tensor.New(2, 7)) {
			t.Fatalf("%s output %v", c.arch, y.Value.Shape)
		}
		for i, s := range m.Sites {
			if fmt.Sprint(s.Shape) != fmt.Sprint(want[i]) {
				t.Errorf("%s site %s: forward shape %v, inferred %v", c.arch, s.Name, s.Shape, want[i])
			}
		}
	}
}

func TestWrongInput(t *testing.T) {
	m, err := New("resnet20", 10, [3]int{3, 32, 32})
	if err != nil {
		t.Fatal(err)
	}
	for _, shape := range [][]int{{1, 1, 32, 32}, {1, 3, 28, 28}, {3, 32, 32}, {0, 3, 32, 32}} {
		if _, err := m.Forward(autograd.Const(tensor.New(shape...))); err == nil {
			t.Errorf("input %v accepted", shape)
		}
	}
	if _, err := m.Forward(nil); err == nil {
		t.Error("nil input accepted")
	}
	// A graph run directly reports the failing node instead of panicking.
	if _, err := m.Net.Run(autograd.Const(tensor.New(1, 1, 32, 32))); err == nil || !strings.Contains(err.Error(), "conv1") {
		t.Errorf("graph error %v", err)
	}
}

func TestStateDictRoundTrip(t *testing.T) {
	a, err := NewSeeded("resnet20", 10, [3]int{3, 32, 32}, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSeeded("resnet20", 10, [3]int{3, 32, 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Give a some non-default buffers and a PolyMask on one site.
	for _, nb := range nn.NamedBuffers(a.Net) {
		for i := range nb.Tensor.Data {
			nb.Tensor.Data[i] = float32(i%5) + 0.5
		}
	}
	s := a.Sites[3]
	pm := nn.NewPolyMask(s.Shape, 2)
	for i := range pm.Mask {
		pm.Mask[i] = float32(i % 2)
	}
	for c := range pm.Coef {
		pm.Coef[c] = []float32{0.1, 0.5, float32(c) * 0.01}
	}
	s.Act = pm
	sd, err := nn.StateDict(a.Net)
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.LoadStateDict(b.Net, sd); err != nil {
		t.Fatal(err)
	}
	sdb, err := nn.StateDict(b.Net)
	if err != nil {
		t.Fatal(err)
	}
	if len(sdb) != len(sd) {
		t.Fatalf("%d keys after load, want %d", len(sdb), len(sd))
	}
	for k, v := range sd {
		if w := sdb[k]; w == nil || !tensor.SameShape(v, w) || tensor.MaxAbsDiff(v, w) != 0 {
			t.Errorf("%s differs after round trip", k)
		}
	}
	_, ta := a.ReLUCount()
	_, tb := b.ReLUCount()
	if ta != tb || ta != 188416-s.Size()/2 {
		t.Errorf("ReLU counts %d, %d", ta, tb)
	}
	// Same outputs in eval mode.
	a.SetTraining(false)
	b.SetTraining(false)
	x := autograd.Const(tensor.New(2, 3, 32, 32))
	rng := rand.New(rand.NewSource(1))
	for i := range x.Value.Data {
		x.Value.Data[i] = float32(rng.NormFloat64())
	}
	ya, err := a.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	yb, err := b.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	if d := tensor.MaxAbsDiff(ya.Value, yb.Value); d != 0 {
		t.Errorf("outputs differ by %g after load", d)
	}
}

func TestLoadStateDictErrors(t *testing.T) {
	m, err := New("lenet", 10, [3]int{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	good, err := nn.StateDict(m.Net)
	if err != nil {
		t.Fatal(err)
	}
	copyOf := func() map[string]*tensor.Tensor {
		sd := map[string]*tensor.Tensor{}
		for k, v := range good {
			sd[k] = v.Clone()
		}
		return sd
	}
	before := good["fc1.weight"].Clone()

	sd := copyOf()
	delete(sd, "conv2.bias")
	sd["fc1.weight"].Fill(7)
	if err := nn.LoadStateDict(m.Net, sd); err == nil || !strings.Contains(err.Error(), "missing conv2.bias") {
		t.Errorf("missing key: %v", err)
	}
	if tensor.MaxAbsDiff(before, good["fc1.weight"]) != 0 {
		t.Error("failed load changed the model")
	}
	sd = copyOf()
	sd["fc2.weight"] = tensor.New(84, 121)
	if err := nn.LoadStateDict(m.Net, sd); err == nil || !strings.Contains(err.Error(), "fc2.weight") {
		t.Errorf("wrong shape: %v", err)
	}
	sd = copyOf()
	sd["bogus.weight"] = tensor.New(1)
	if err := nn.LoadStateDict(m.Net, sd); err == nil || !strings.Contains(err.Error(), "bogus.weight") {
		t.Errorf("unexpected key: %v", err)
	}
	sd = copyOf()
	sd["relu1.mask"] = tensor.New(6, 28, 28)
	if err := nn.LoadStateDict(m.Net, sd); err == nil || !strings.Contains(err.Error(), "relu1.poly") {
		t.Errorf("mask without poly: %v", err)
	}
	sd["relu1.poly"] = tensor.New(5, 3) // wrong channel count
	if err := nn.LoadStateDict(m.Net, sd); err == nil {
		t.Error("poly with wrong channel count accepted")
	}
	sd["relu1.poly"] = tensor.New(6, 3)
	sd["relu1.mask"].Data[0] = 0.5
	if err := nn.LoadStateDict(m.Net, sd); err == nil {
		t.Error("non-binary mask accepted")
	}
	sd["relu1.mask"].Data[0] = 1
	if err := nn.LoadStateDict(m.Net, sd); err != nil {
		t.Fatal(err)
	}
	if per, _ := m.ReLUCount(); per[0] != 1 {
		t.Errorf("relu1 keeps %d ReLUs after loading a one-hot mask", per[0])
	}
}

// TestLeNetLearns overfits one small batch with plain SGD: the loss must
// fall, showing that forward, backward and the parameters are wired.
func TestLeNetLearns(t *testing.T) {
	m, err := New("lenet", 4, [3]int{1, 16, 16})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(3))
	x := autograd.Const(tensor.New(8, 1, 16, 16))
	for i := range x.Value.Data {
		x.Value.Data[i] = float32(rng.NormFloat64())
	}
	labels := []int32{0, 1, 2, 3, 0, 1, 2, 3}
	params := nn.Parameters(m.Net)
	var first, last float32
	for step := 0; step < 60; step++ {
		nn.ZeroGrad(m.Net)
		y, err := m.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		loss, err := nn.CrossEntropy(y, labels, 0)
		if err != nil {
			t.Fatal(err)
		}
		loss.Backward()
		for _, p := range params {
			for i, g := range p.Grad.Data {
				p.Value.Data[i] -= 0.1 * g
			}
		}
		if step == 0 {
			first = loss.Value.Data[0]
		}
		last = loss.Value.Data[0]
	}
	t.Logf("loss %v -> %v", first, last)
	if !(last < 0.5*first) {
		t.Errorf("loss %v -> %v after 60 SGD steps", first, last)
	}
}

// TestFoldedInferenceModels compares the fused inference path with plain
// execution on every architecture (random BN statistics, eval mode).
func TestFoldedInferenceModels(t *testing.T) {
	for _, arch := range []string{"lenet", "resnet20", "resnet18", "wrn22_8"} {
		in := [3]int{3, 16, 16}
		m, err := New(arch, 5, in)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewSource(2))
		for _, nb := range nn.NamedBuffers(m.Net) {
			for i := range nb.Tensor.Data {
				nb.Tensor.Data[i] = float32(0.5 + 0.5*rng.Float64())
			}
		}
		m.SetTraining(false)
		x := autograd.Const(tensor.New(2, in[0], in[1], in[2]))
		for i := range x.Value.Data {
			x.Value.Data[i] = float32(rng.NormFloat64())
		}
		var a, b *autograd.Var
		autograd.NoGrad(func() {
			a, err = m.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			m.Net.NoFusion = true
			b, err = m.Forward(x)
			m.Net.NoFusion = false
		})
		if err != nil {
			t.Fatal(err)
		}
		scale := 0.0
		for _, v := range b.Value.Data {
			scale = max(scale, float64(v), -float64(v))
		}
		if d := tensor.MaxAbsDiff(a.Value, b.Value); d > 1e-4*max(1, scale) {
			t.Errorf("%s: fused inference differs by %g (scale %g)", arch, d, scale)
		}
	}
}

// TestRunNeverPanics feeds the raw graphs inputs of many shapes: each run
// must succeed or return an error, never panic.
func TestRunNeverPanics(t *testing.T) {
	shapes := [][]int{{1, 3, 8, 8}, {1, 3, 5, 7}, {1, 1, 2, 2}, {2, 3, 1, 1}, {1, 4, 9, 9}, {1, 3}, {3}, {1, 3, 16, 16, 1}}
	for _, arch := range []string{"lenet", "resnet20", "resnet18", "wrn22_8"} {
		m, err := New(arch, 3, [3]int{3, 16, 16})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range shapes {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s on %v panicked: %v", arch, s, r)
					}
				}()
				y, err := m.Net.Run(autograd.Const(tensor.New(s...)))
				if err == nil && (len(y.Value.Shape) != 2 || y.Value.Shape[1] != 3) {
					t.Errorf("%s on %v gave %v", arch, s, y.Value.Shape)
				}
				// Shape inference agrees with execution.
				if _, serr := m.Net.OutputShapes(s); (serr == nil) != (err == nil) {
					t.Errorf("%s on %v: run error %v, shape inference error %v", arch, s, err, serr)
				}
			}()
		}
	}
}

// TestExplicitInputs checks every node lists its inputs (package pi
// compiles the graphs from Inputs) and only Add nodes have two.
func TestExplicitInputs(t *testing.T) {
	for _, arch := range Names() {
		m, err := New(arch, 10, [3]int{3, 32, 32})
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range m.Net.Nodes {
			_, isAdd := n.Op.(*nn.Add)
			if len(n.Inputs) == 0 || (len(n.Inputs) == 2) != isAdd || len(n.Inputs) > 2 {
				t.Errorf("%s node %d %q (%T) inputs %v", arch, i, n.Name, n.Op, n.Inputs)
			}
		}
	}
}
