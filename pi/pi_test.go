package pi

import (
	"testing"

	"github.com/autorep/autorep/tensor"
)

// checkAgainstFixed runs the secure protocol on x and compares it with
// EvalFixed (exact without polynomials, else within tol) and the float
// model (within floatTol).
func TestLeNetRandomSecureMatchesFixed(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	plan, err := Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	x := randomImages(1, 3, m.Input)
	fx, err := plan.EvalFixed(x)
	if err != nil {
		t.Fatal(err)
	}
	fl, err := ReferenceLogits(m, x)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbs(fx, fl); d > 0.01 {
		t.Errorf("fixed vs float: max |diff| %g", d)
	}
	res := runSecure(t, plan, false, x)
	if d := maxAbs(res.logits[0], fx); d != 0 {
		t.Errorf("secure vs fixed: max |diff| %g, want exact", d)
	}
	t.Logf("stats: %+v", res.stats[0].Online)
	_ = tensor.New
}
