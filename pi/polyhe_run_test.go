package pi

import (
	"testing"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/tensor"
)

// TestTwoPartyPolyHESynthetic: a random-weight LeNet with mixed
// ReLU/polynomial activations of degree 2 and of degree 1 (Quad's deg 1),
// in the PolyHE form at its MinWidths ℓ and prime width: the two-party
// logits within faithfulBound units of EvalFixed's, labels equal.
func TestTwoPartyPolyHESynthetic(t *testing.T) {
	x := randomImages(53, 2, [3]int{1, 28, 28})
	for _, curv := range []float64{1, 0} {
		m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 51)
		installPoly(m, 0.5, curv, 52)
		plan, cfg := compileHEMinWidths(t, m, x)
		w := checkFaithful(t, plan, x, faithfulBound)
		t.Logf("curvature %g: ℓ %d, P %d bits, max logit error %.0f units", curv, cfg.Ell, cfg.PBits, w)
	}
}

// compileHEMinWidths compiles m in the PolyHE form (f = 12, faithful)
// at the ℓ and prime width MinWidths measures on x, and returns the plan
// with its configuration.
func compileHEMinWidths(t *testing.T, m *models.Model, x *tensor.Tensor) (*Plan, Config) {
	t.Helper()
	cfg := Config{FracBits: 12, Poly: PolyHE, Trunc: TruncFaithful}
	plan, err := Compile(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Ell, cfg.PBits, err = plan.MinWidths(x); err != nil {
		t.Fatal(err)
	}
	if plan, err = Compile(m, cfg); err != nil {
		t.Fatal(err)
	}
	return plan, cfg
}

// TestTwoPartyPolyHEMNIST: the committed LeNet-5 AutoReP 10% model in the
// suite's default forms (PolyHE, faithful, f = DefaultHEFrac) at ℓ = 40 on
// 8 MNIST test images: logits within faithfulBound units, labels equal.
func TestTwoPartyPolyHEMNIST(t *testing.T) {
	set := loadSet(t, "mnist")
	path := modelFile("lenet-mnist-autorep10.safetensors")
	if path == "" {
		t.Fatal("models/lenet-mnist-autorep10.safetensors is missing")
	}
	m, err := models.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(m, Config{Ell: 40, Poly: PolyFormFor(SuiteTwoParty), Trunc: TruncFor(SuiteTwoParty)})
	if err != nil {
		t.Fatal(err)
	}
	w := checkFaithful(t, plan, batch(set, []int{0, 1, 2, 3, 4, 5, 6, 7}), faithfulBound)
	t.Logf("max logit error %.0f units", w)
}
