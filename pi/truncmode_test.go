package pi

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

// checkFaithful runs x through the two-party suite in the faithful mode
// and requires every logit within maxUnits units (2^−Frac) of EvalFixed's
// and the same label per image; it returns the largest error in units.
func checkFaithful(t *testing.T, plan *Plan, x *tensor.Tensor, maxUnits float64) float64 {
	t.Helper()
	want, err := plan.EvalFixed(x)
	if err != nil {
		t.Fatal(err)
	}
	got := runTwoParty(t, plan, x).logits[0]
	unit := math.Ldexp(1, -int(plan.Public.Frac))
	worst := 0.0
	for i := range want.Data {
		worst = max(worst, math.Abs(float64(got.Data[i])-float64(want.Data[i]))/unit)
	}
	if worst > maxUnits {
		t.Errorf("faithful logits %.0f units from EvalFixed's, bound %.0f (got %v, want %v)", worst, maxUnits, got.Data, want.Data)
	}
	for i := range x.Shape[0] {
		if g, _ := argmax(got, i); g != argmaxOf(want, i) {
			t.Errorf("image %d: faithful label %d, EvalFixed's %d", i, g, argmaxOf(want, i))
		}
	}
	if worst == 0 {
		t.Logf("faithful logits equal EvalFixed's exactly")
	}
	return worst
}

// argmaxOf is argmax's label alone.
func argmaxOf(y *tensor.Tensor, i int) int {
	l, _ := argmax(y, i)
	return l
}

// faithfulBound is the test's bound on a faithful logit's error, in units
// of 2^−Frac: each truncation is at most one unit low, and a unit error
// entering a layer is multiplied by that layer's weight norm, so the bound
// is loose on purpose; measured errors (logged) are far below it, and a
// broken gate (a wrong sign, a lost carry) is off by 2^Frac units or more.
const faithfulBound = 64

// TestTwoPartyFaithfulSynthetic: a random-weight LeNet with a mixed
// ReLU/polynomial activation, in the narrow (degree 2, and degree 1) and
// the default polynomial forms, in the faithful mode stays within
// faithfulBound units of EvalFixed with equal labels.
func TestTwoPartyFaithfulSynthetic(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 21)
	installPoly(m, 0.5, 1, 22)
	x := randomImages(23, 2, m.Input)
	for _, cfg := range []Config{
		{FracBits: 12, Poly: PolyNarrow, Trunc: TruncFaithful},
		{FracBits: 12, Trunc: TruncFaithful},
	} {
		plan, err := Compile(m, cfg)
		if err != nil {
			t.Fatal(err)
		}
		w := checkFaithful(t, plan, x, faithfulBound)
		t.Logf("poly %q: max logit error %.0f units", cfg.Poly, w)
	}
}

// TestTwoPartyFaithfulMNIST: the committed LeNet-5 models (all ReLU and
// AutoReP 10%) in the narrow form, faithful mode, on 8 MNIST test images:
// logits within faithfulBound units of EvalFixed, labels equal.
func TestTwoPartyFaithfulMNIST(t *testing.T) {
	set := loadSet(t, "mnist")
	for _, name := range []string{"lenet-mnist.safetensors", "lenet-mnist-autorep10.safetensors"} {
		m := loadCommitted(t, name)
		plan, err := Compile(m, Config{Poly: PolyNarrow, Trunc: TruncFaithful})
		if err != nil {
			t.Fatal(err)
		}
		w := checkFaithful(t, plan, batch(set, []int{0, 1, 2, 3, 4, 5, 6, 7}), faithfulBound)
		t.Logf("%s: max logit error %.0f units", name, w)
	}
}

// TestTruncModeMismatch: a faithful-mode server refuses an exact-mode
// client (the mode is in the public plan's hash), and an unknown mode is
// a compile error.
func TestTruncModeMismatch(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 3)
	exact, err := Compile(m, Config{Poly: PolyNarrow})
	if err != nil {
		t.Fatal(err)
	}
	faithful, err := Compile(m, Config{Poly: PolyNarrow, Trunc: TruncFaithful})
	if err != nil {
		t.Fatal(err)
	}
	if exact.PublicHash() == faithful.PublicHash() {
		t.Fatal("exact and faithful plans hash the same")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c0, c1 := transport.Pipe()
	defer c0.Close()
	defer c1.Close()
	done := make(chan error, 1)
	go func() { done <- (&Server{Plan: faithful, Suite: SuiteTwoParty}).Run(ctx, c0) }()
	cerr := (&Client{Public: exact.Public, Suite: SuiteTwoParty}).Connect(ctx, c1)
	if cerr == nil || !strings.Contains(cerr.Error(), "public plan mismatch") {
		t.Errorf("exact client on a faithful server: %v, want a plan mismatch", cerr)
	}
	if serr := <-done; serr == nil || !strings.Contains(serr.Error(), "differs") {
		t.Errorf("faithful server: %v, want a plan mismatch", serr)
	}
	if _, err := Compile(m, Config{Trunc: "approx"}); err == nil || !strings.Contains(err.Error(), "truncation mode") {
		t.Errorf("unknown truncation mode: %v", err)
	}
	if _, err := ParseTruncMode("exact"); err != nil {
		t.Error(err)
	}
	if _, err := ParseTruncMode("round"); err == nil {
		t.Error("ParseTruncMode accepted round")
	}
}
