package pi

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/ring"
)

// foldModel is a random-weight LeNet whose four sites (each right after a
// conv or dense layer) mix ReLUs and degree-1 polynomials; relu1's channel
// 0 is all ReLU and channel 1 all polynomial, the others mixed.
func foldModel(t testing.TB) *models.Model {
	t.Helper()
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 71)
	installPoly(m, 0.5, 0, 72)
	p := m.Sites[0].Act.(*nn.PolyMask)
	hw := len(p.Mask) / len(p.Coef)
	for j := range hw {
		p.Mask[j], p.Mask[hw+j] = 1, 0
	}
	return m
}

// TestFoldCompile: the PolyHE form folds every degree-1 site of foldModel
// into its linear step (public marks, masks copied, the stacked channels:
// relu1 has one pure-ReLU, one pure-polynomial and four mixed channels);
// NoFold, the narrow and the default forms fold nothing; the fold changes
// the public hash; a hand-made inconsistent mark fails validation.
func TestFoldCompile(t *testing.T) {
	m := foldModel(t)
	plan, err := Compile(m, Config{FracBits: 12, Poly: PolyHE, Trunc: TruncFaithful})
	if err != nil {
		t.Fatal(err)
	}
	pub := plan.Public
	acts := 0
	for i := range pub.Steps {
		st := &pub.Steps[i]
		if st.Op != OpAct {
			continue
		}
		acts++
		lin := &pub.Steps[st.In[0]]
		if !st.Folded || !lin.Fold || string(lin.Mask) != string(st.Mask) {
			t.Errorf("%s: folded %v, its input %q fold %v", st.Name, st.Folded, lin.Name, lin.Fold)
		}
	}
	if acts != 4 {
		t.Fatalf("%d activation steps, want 4", acts)
	}
	fm := foldChannels(&pub.Steps[0])
	if pub.Steps[0].Name != "conv1" || len(fm.src) != 6+4 || fm.relu[0] != 0 || fm.poly[0] != -1 || fm.relu[1] != -1 || fm.poly[1] != 1 {
		t.Errorf("conv1 stacked channels %v folded %v, want 10 with channel 0 ReLU only and 1 polynomial only", fm.src, fm.folded)
	}
	for _, cfg := range []Config{
		{FracBits: 12, Poly: PolyHE, Trunc: TruncFaithful, NoFold: true},
		{FracBits: 12, Poly: PolyNarrow},
		{FracBits: 12},
	} {
		p, err := Compile(m, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range p.Public.Steps {
			if st := &p.Public.Steps[i]; st.Fold || st.Folded || p.Secret.Steps[i].FoldW != nil {
				t.Errorf("form %q, no fold %v: step %q folded", cfg.Poly, cfg.NoFold, st.Name)
			}
		}
		if cfg.NoFold && p.Public.Hash() == pub.Hash() {
			t.Error("the folded and the unfolded plan have the same public hash")
		}
	}
	bad := *pub
	bad.Steps = append([]Step(nil), pub.Steps...)
	bad.Steps[1].Folded = false // relu1 no longer reads its fold
	if err := bad.Validate(); err == nil {
		t.Error("a fold without its folded activation validates")
	}
	bad.Steps[1].Folded, bad.Poly, bad.PBits, bad.Trunc = true, PolyNarrow, 0, ""
	if err := bad.Validate(); err == nil {
		t.Error("a fold in the narrow form validates")
	}
}

// TestFoldLinear checks the folded linear steps of foldModel against a
// plain float reference: at polynomial positions C1·(W·x + bias) + C0, at
// ReLU positions W·x + bias, with the model's real weights and
// coefficients, on a random input at f bits; the error stays within the
// quantization of the weights (2^−(f+1) each, times Σ|x|) and biases.
func TestFoldLinear(t *testing.T) {
	const f = 14
	m := foldModel(t)
	plan, err := Compile(m, Config{FracBits: f, Poly: PolyHE, Trunc: TruncFaithful, PBits: 50})
	if err != nil {
		t.Fatal(err)
	}
	node := map[string]nn.Module{}
	for _, n := range m.Net.Nodes {
		node[n.Name] = n.Op
	}
	coefs := map[string][][]float32{}
	for i := range plan.Public.Steps {
		if st := &plan.Public.Steps[i]; st.Op == OpAct {
			coefs[plan.Public.Steps[st.In[0]].Name] = m.Sites[len(coefs)].Act.(*nn.PolyMask).Coef
		}
	}
	r := rand.New(rand.NewSource(73))
	b := &fixedBackend{plan: plan}
	unit := math.Ldexp(1, -f)
	checked := 0
	for i := range plan.Public.Steps {
		st := &plan.Public.Steps[i]
		if !st.Fold {
			continue
		}
		var w, bias []float32
		switch op := node[st.Node].(type) {
		case *nn.Conv2d:
			w, bias = op.Weight.Value.Data, op.Bias.Value.Data
		case *nn.Linear:
			w, bias = op.Weight.Value.Data, op.Bias.Value.Data
		default:
			t.Fatalf("%s: %T", st.Name, op)
		}
		pr := st.Conv.Params(1)
		xs := make([]uint64, pr.XLen())
		sumAbs := 0.0
		for j := range xs {
			xs[j] = uint64(r.Int63n(1<<(f+1))) - 1<<f // [−1, 1) at f bits
			sumAbs += math.Abs(ring.Decode(xs[j], f))
		}
		y, err := b.linear(i, st, 1, xs)
		if err != nil {
			t.Fatal(err)
		}
		// The reference W·x in exact integers with the weights at 30
		// fractional bits (x is exact at f): products below 2^44, sums
		// below 2^55.
		wq := make([]uint64, len(w))
		for j, v := range w {
			wq[j] = uint64(int64(math.Round(float64(v) * (1 << 30))))
		}
		ref := make([]uint64, pr.YLen())
		if err := ring.Conv2d(pr, xs, wq, ref); err != nil {
			t.Fatal(err)
		}
		hw := pr.OutH() * pr.OutW()
		tol := sumAbs*math.Ldexp(1, -(f+1))*2 + 2*unit*unit
		for j, v := range y {
			ch := j / hw
			want := float64(int64(ref[j]))/(1<<(30+f)) + float64(bias[ch])
			if !st.Mask.At(j) {
				c := coefs[st.Name][ch]
				want = float64(c[1])*want + float64(c[0])
			}
			if got := ring.Decode(v, 2*f); math.Abs(got-want) > tol {
				t.Fatalf("%s output %d (ReLU %v): %v, reference %v (tolerance %g)", st.Name, j, st.Mask.At(j), got, want, tol)
			}
		}
		checked++
	}
	if checked != 4 {
		t.Errorf("%d folded linear steps checked, want 4", checked)
	}
}

// TestTwoPartyFoldSynthetic: foldModel in the PolyHE form, all four sites
// folded, at its MinWidths ℓ: two images in one request give logits
// within faithfulBound units of EvalFixed's with equal labels, and no
// polynomial runs on the PolyHE path (no hesimd batch); the same model
// with the fold off computes the same labels.
func TestTwoPartyFoldSynthetic(t *testing.T) {
	m := foldModel(t)
	x := randomImages(74, 2, m.Input)
	plan, err := Compile(m, Config{FracBits: 12, Poly: PolyHE, Trunc: TruncFaithful})
	if err != nil {
		t.Fatal(err)
	}
	ell, pBits, err := plan.MinWidths(x)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{FracBits: 12, Ell: ell, Poly: PolyHE, Trunc: TruncFaithful, PBits: pBits}
	if plan, err = Compile(m, cfg); err != nil {
		t.Fatal(err)
	}
	want, err := plan.EvalFixed(x)
	if err != nil {
		t.Fatal(err)
	}
	res := runTwoParty(t, plan, x)
	unit := math.Ldexp(1, -12)
	for j := range want.Data {
		if d := math.Abs(float64(res.logits[0].Data[j]-want.Data[j])) / unit; d > faithfulBound {
			t.Fatalf("logit %d: %v, EvalFixed %v (%.0f units)", j, res.logits[0].Data[j], want.Data[j], d)
		}
	}
	for _, l := range res.stats[0].Layers {
		if l.Name == batchLayer(1) || l.Name == batchLayer(2) {
			t.Errorf("folded plan ran a hesimd batch: %+v", l)
		}
	}
	cfg.NoFold = true
	unfolded, err := Compile(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := unfolded.EvalFixed(x)
	if err != nil {
		t.Fatal(err)
	}
	for i := range x.Shape[0] {
		if g, _ := argmax(res.logits[0], i); g != argmaxOf(want, i) || g != argmaxOf(ref, i) {
			t.Errorf("image %d: label %d, EvalFixed's %d, unfolded %d", i, g, argmaxOf(want, i), argmaxOf(ref, i))
		}
	}
	t.Logf("ℓ %d, P %d bits; online %d B, offline %d B", ell, pBits, res.stats[0].Online.Bytes(), res.stats[0].OfflineMsgs.Bytes())
}

// TestFoldOffUnchanged: with the fold off, foldModel's PolyHE plan is the
// plan of the code before the fold (its public hash and its two-party
// bytes for two images, measured at commit f1102ae), so NoFold gives
// today's protocol exactly.
func TestFoldOffUnchanged(t *testing.T) {
	m := foldModel(t)
	plan, err := Compile(m, Config{FracBits: 12, Ell: 28, Poly: PolyHE, Trunc: TruncFaithful, PBits: 28, NoFold: true})
	if err != nil {
		t.Fatal(err)
	}
	if h := fmt.Sprintf("%x", plan.Public.Hash()); h != "319f65fcf6f87025836f9a2587909dc039d17d3c4aa2c3528b6b502bc4e65848" {
		t.Fatalf("unfolded plan hash %s, before the fold 319f65fc…", h)
	}
	res := runTwoParty(t, plan, randomImages(74, 2, m.Input))
	st := res.stats[0]
	if on, off, setup := st.Online.Bytes(), st.OfflineMsgs.Bytes(), res.client.Setup.Offline.Bytes(); on != 2738638 || off != 1666915 || setup != 1030369 {
		t.Errorf("unfolded bytes online %d, offline %d, setup %d; before the fold 2738638, 1666915, 1030369", on, off, setup)
	}
}

// TestTwoPartyFoldFresh is TestTwoPartyInferencesFresh for a folded plan
// (stacked convolutions, truncation-only activation positions): every
// message of a second inference differs from the first's.
func TestTwoPartyFoldFresh(t *testing.T) {
	m := foldModel(t)
	plan, err := Compile(m, Config{FracBits: 8, Poly: PolyHE, Trunc: TruncFaithful})
	if err != nil {
		t.Fatal(err)
	}
	checkFreshViews(t, plan, randomImages(75, 1, m.Input))
}
