package pi

import (
	"math"
	"testing"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/tensor"
)

// ulpTol bounds |secure − fixed| on logits: each activation output of the
// secure run (the fused ReLU+truncation and the polynomial) may be one unit
// (2^−16) above the fixed-point executor's floor, which the following
// layers propagate.
const ulpTol = 5e-3

// floatTol bounds |secure − float| on logits (the brief's 0.01).
const floatTol = 0.01

// compare checks secure logits against the fixed-point executor and the
// float model, label by label.
func compare(t *testing.T, name string, m *models.Model, plan *Plan, x, secure *tensor.Tensor) (agree int, errFloat float64) {
	t.Helper()
	fx, err := plan.EvalFixed(x)
	if err != nil {
		t.Fatal(err)
	}
	fl, err := ReferenceLogits(m, x)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range fl.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 1e4 {
			t.Fatalf("%s: float logits not usable (%v): the test model diverges", name, v)
		}
	}
	relus, _ := plan.Public.ReLUs()
	_, total := m.ReLUCount()
	if relus != total {
		t.Errorf("%s: plan has %d ReLUs, model %d", name, relus, total)
	}
	dFixed := tensor.MaxAbsDiff(secure, fx)
	if dFixed > ulpTol {
		t.Errorf("%s: secure vs fixed point: max |diff| %g > %g", name, dFixed, ulpTol)
	}
	errFloat = tensor.MaxAbsDiff(secure, fl)
	if errFloat > floatTol {
		t.Errorf("%s: secure vs float: max |diff| %g > %g", name, errFloat, floatTol)
	}
	for i := 0; i < x.Shape[0]; i++ {
		ls, _ := argmax(secure, i)
		lf, margin := argmax(fx, i)
		if ls == lf {
			agree++
		} else if margin > 2*dFixed {
			t.Errorf("%s image %d: secure label %d, fixed-point label %d (margin %g)", name, i, ls, lf, margin)
		}
	}
	t.Logf("%s: %d images, secure=fixed labels %d, max|secure−fixed| %.3g, max|secure−float| %.3g", name, x.Shape[0], agree, dFixed, errFloat)
	return agree, errFloat
}

func TestLeNetRandomSecureMatchesFixed(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	plan, err := Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	x := randomImages(1, 1, m.Input)
	res := runSecure(t, plan, false, x)
	compare(t, "lenet random input", m, plan, x, res.logits[0])
	st := res.stats[0]
	if st.Online.Bytes() == 0 || st.Online.Rounds == 0 || st.Material == 0 {
		t.Errorf("empty stats %+v", st)
	}
	var sum int64
	for _, l := range st.Layers {
		sum += l.Bytes
	}
	if sum != st.Online.Bytes() {
		t.Errorf("layer bytes sum to %d, online total %d", sum, st.Online.Bytes())
	}
	if sv := res.server[0]; sv.Online.Bytes() != st.Online.Bytes() {
		t.Errorf("server counts %d online bytes, client %d", sv.Online.Bytes(), st.Online.Bytes())
	}
}

// TestLeNetMNIST runs LeNet-5 on 100 MNIST test images: a random
// initialisation with a random mixed ReLU/polynomial mask and, when the
// trained model files exist, the all-ReLU baseline and the AutoReP-reduced
// model.
func TestLeNetMNIST(t *testing.T) {
	set := loadSet(t, "mnist")
	idx := make([]int, 100)
	for i := range idx {
		idx[i] = i
	}
	x := batch(set, idx)
	type tc struct {
		name  string
		model *models.Model
		n     int
	}
	var cases []tc
	rnd := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 5)
	cases = append(cases, tc{"lenet random init", rnd, 10})
	mixed := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 6)
	installPoly(mixed, 0.3, 1, 6)
	cases = append(cases, tc{"lenet random init, 30% ReLU mask", mixed, 10})
	for _, f := range []string{"lenet-mnist.safetensors", "lenet-mnist-autorep10.safetensors"} {
		p := modelFile(f)
		if p == "" {
			t.Logf("models/%s not found: skipping the trained case", f)
			continue
		}
		m, err := models.Load(p)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cases = append(cases, tc{f, m, 100})
	}
	for _, c := range cases {
		plan, err := Compile(c.model, Config{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// Requests of 10 images on one session (bounded dealer memory).
		var reqs []*tensor.Tensor
		for i := 0; i < c.n; i += 10 {
			k := min(10, c.n-i)
			reqs = append(reqs, &tensor.Tensor{Shape: []int{k, 1, 28, 28}, Data: x.Data[i*784 : (i+k)*784]})
		}
		res := runSecure(t, plan, false, reqs...)
		sec := tensor.New(c.n, 10)
		for i, y := range res.logits {
			copy(sec.Data[i*100:], y.Data)
		}
		xs := &tensor.Tensor{Shape: []int{c.n, 1, 28, 28}, Data: x.Data[:c.n*784]}
		compare(t, c.name, c.model, plan, xs, sec)
		if c.name == "lenet-mnist.safetensors" {
			correct := 0
			for i := 0; i < 100; i++ {
				if l, _ := argmax(sec, i); int32(l) == set.Labels[i] {
					correct++
				}
			}
			if correct < 95 {
				t.Errorf("trained LeNet: secure accuracy %d/100", correct)
			}
		}
	}
}

// TestResNet20CIFAR runs a ResNet-20 (random weights, randomised batch
// norm; all ReLU, then a 20% ReLU mask) on two CIFAR-10 (JPEG copy) test
// images over loopback TCP.
func TestResNet20CIFAR(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	set := loadSet(t, "cifar10")
	x := batch(set, []int{0, 1})
	m := newModel(t, "resnet20", 10, [3]int{3, 32, 32}, 9)
	plan, err := Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	res := runSecure(t, plan, true, x)
	compare(t, "resnet20 all-ReLU", m, plan, x, res.logits[0])
	relus, _ := plan.Public.ReLUs()
	if relus != 188416 {
		t.Errorf("resnet20: %d ReLUs, want 188416", relus)
	}
	installPoly(m, 0.2, 0.1, 9)
	plan, err = Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	x1 := &tensor.Tensor{Shape: []int{1, 3, 32, 32}, Data: x.Data[:3*32*32]}
	res = runSecure(t, plan, false, x1)
	compare(t, "resnet20 20% ReLU", m, plan, x1, res.logits[0])
}
