package pi

import (
	"math"
	"math/rand"
	"testing"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/tensor"
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
		if !st.Folded || !lin.Fold || string(lin.Mask) != string(st.Mask) || lin.FoldShift != DefaultFoldShift {
			t.Errorf("%s: folded %v, its input %q fold %v shift %d", st.Name, st.Folded, lin.Name, lin.Fold, lin.FoldShift)
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
// plain float reference: at polynomial positions C1·(W·x + bias) + C0 (at
// 2f + FoldShift fractional bits), at ReLU positions W·x + bias (at 2f), with the model's real weights and
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
			frac := uint(2 * f)
			if !st.Mask.At(j) {
				frac += st.FoldShift
			}
			if got := ring.Decode(v, frac); math.Abs(got-want) > tol {
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
	plan, cfg := compileHEMinWidths(t, m, x)
	want, err := plan.EvalFixed(x)
	if err != nil {
		t.Fatal(err)
	}
	res := runTwoParty(t, plan, x)
	checkFaithfulLogits(t, res.logits[0], want, 12)
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
	t.Logf("ℓ %d, P %d bits; online %d B, offline %d B", cfg.Ell, cfg.PBits, res.stats[0].Online.Bytes(), res.stats[0].OfflineMsgs.Bytes())
}

// TestFoldOffUnchanged: with the fold off, foldModel's PolyHE plan is the
// plan of the code before the fold (its public hash, computed at commit
// f1102ae; the form's name aside, "he2" since the message schedule of
// session 14), so NoFold runs today's protocol: the secure paths branch
// on the plan's fold marks alone. (Its bytes are not pinned here: other
// work on the gates moves them.)
func TestFoldOffUnchanged(t *testing.T) {
	m := foldModel(t)
	plan, err := Compile(m, Config{FracBits: 12, Ell: 28, Poly: PolyHE, Trunc: TruncFaithful, PBits: 28, NoFold: true})
	if err != nil {
		t.Fatal(err)
	}
	pub := *plan.Public
	pub.Poly = "he" // the form's name before session 14's message schedule (PolyHE)
	if h := hashWithoutSuite(t, &pub); h != "319f65fcf6f87025836f9a2587909dc039d17d3c4aa2c3528b6b502bc4e65848" {
		t.Fatalf("unfolded plan hash %s (without the suite the plan names since), before the fold 319f65fc…", h)
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

// resnet20D1 are the committed ResNet-20 AutoReP 12.9K models of degree 1
// (CIFAR-10; JPEG-copy and original-data bases).
var resnet20D1 = []string{"resnet20-cifar10-autorep12.9k.safetensors", "resnet20-cifar10-lossless-autorep12.9k-d1.safetensors"}

// TestTwoPartyFoldResNet20: the committed ResNet-20 AutoReP 12.9K degree-1
// model in the twoparty suite's default form at f = 10, ℓ = 32, P of 36
// bits (the issue-15 setting) folds the stem's and every block's relu1
// (ten sites; the relu2 sites after an add stay on the PolyHE path) and,
// on one CIFAR-10 test image, gives EvalFixed's label with logits within
// faithfulBound units.
func TestTwoPartyFoldResNet20(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: ResNet-20 twoparty run")
	}
	set := loadSet(t, "cifar10")
	m := loadCommitted(t, resnet20D1[0])
	plan, err := Compile(m, Config{FracBits: 10, Ell: 32, PBits: 36, Poly: PolyHE, Trunc: TruncFaithful})
	if err != nil {
		t.Fatal(err)
	}
	folded, onPath := 0, 0
	for i := range plan.Public.Steps {
		st := &plan.Public.Steps[i]
		switch {
		case st.Folded:
			folded++
		case st.Op == OpAct && st.ReLUs < st.Positions():
			onPath++
		}
	}
	if folded != 10 || onPath != 9 {
		t.Fatalf("%d folded activation steps and %d on the PolyHE path, want 10 and 9", folded, onPath)
	}
	w := checkFaithful(t, plan, batch(set, []int{0}), faithfulBound)
	t.Logf("max logit error %.0f units", w)
}

// BenchmarkFoldAccuracy compares the fixed-point logits of the folded and
// the unfolded plan of the committed degree-1 ResNet-20 models (f = 10,
// ℓ = 32, P 36 bits) with the float model's on the first 256 CIFAR-10
// test images of $AUTOREP_DATA (the original batches for reported
// figures): labels equal to the float model's, accuracy, the largest
// logit error, and labels equal between the two plans. One iteration is
// the whole measurement: run with -benchtime=1x.
func BenchmarkFoldAccuracy(b *testing.B) {
	const n, chunk = 256, 64
	set := loadSet(b, "cifar10")
	for _, file := range resnet20D1 {
		b.Run(file, func(b *testing.B) {
			m := loadCommitted(b, file)
			var plans [2]*Plan
			for k, noFold := range []bool{true, false} {
				p, err := Compile(m, Config{FracBits: 10, Ell: 32, PBits: 36, Poly: PolyHE, Trunc: TruncFaithful, NoFold: noFold})
				if err != nil {
					b.Fatal(err)
				}
				plans[k] = p
			}
			for range b.N {
				var agree, correct [2]int
				var maxErr [2]float64
				same := 0
				for lo := 0; lo < n; lo += chunk {
					idx := make([]int, chunk)
					for i := range idx {
						idx[i] = lo + i
					}
					x := batch(set, idx)
					ref, err := ReferenceLogits(m, x)
					if err != nil {
						b.Fatal(err)
					}
					var ys [2]*tensor.Tensor
					for k, p := range plans {
						if ys[k], err = p.EvalFixed(x); err != nil {
							b.Fatal(err)
						}
						for j := range ref.Data {
							maxErr[k] = max(maxErr[k], math.Abs(float64(ys[k].Data[j]-ref.Data[j])))
						}
						for i := range chunk {
							l := argmaxOf(ys[k], i)
							if l == argmaxOf(ref, i) {
								agree[k]++
							}
							if l == int(set.Labels[lo+i]) {
								correct[k]++
							}
						}
					}
					for i := range chunk {
						if argmaxOf(ys[0], i) == argmaxOf(ys[1], i) {
							same++
						}
					}
				}
				for k, name := range []string{"unfolded", "folded"} {
					b.Logf("%s: %d/%d labels equal the float model's, accuracy %d/%d, max |fixed − float| logit error %.4f", name, agree[k], n, correct[k], n, maxErr[k])
				}
				b.Logf("folded and unfolded labels equal on %d/%d", same, n)
				b.ReportMetric(float64(agree[0]), "agree-unfolded")
				b.ReportMetric(float64(agree[1]), "agree-folded")
				b.ReportMetric(maxErr[0], "maxerr-unfolded")
				b.ReportMetric(maxErr[1], "maxerr-folded")
			}
		})
	}
}

// TestTwoPartyFoldPrepare: a folded plan's offline phase prepared ahead
// (Client.Prepare of 2 images, then the request of 2): the request runs
// on the prepared material (nothing left over), its logits within
// faithfulBound units of EvalFixed's with equal labels.
func TestTwoPartyFoldPrepare(t *testing.T) {
	m := foldModel(t)
	x := randomImages(76, 2, m.Input)
	plan, err := Compile(m, Config{FracBits: 12, Ell: 28, PBits: 28, Poly: PolyHE, Trunc: TruncFaithful})
	if err != nil {
		t.Fatal(err)
	}
	want, err := plan.EvalFixed(x)
	if err != nil {
		t.Fatal(err)
	}
	s := newPrepareSession(t, plan, SuiteTwoParty, 4)
	if _, err := s.cl.Prepare(s.ctx, s.c1, 2); err != nil {
		t.Fatal(err)
	}
	got, st, err := s.cl.Infer(s.ctx, s.c1, x)
	if err != nil {
		t.Fatalf("infer: %v (server: %v)", err, drain(s.done))
	}
	if !st.Prepared || len(s.cl.tp.pre) != 0 {
		t.Errorf("request Prepared %v, %d precomputed steps left", st.Prepared, len(s.cl.tp.pre))
	}
	checkFaithfulLogits(t, got, want, 12)
	s.close()
}

// checkFaithfulLogits requires secure logits within faithfulBound units
// (2^−frac) of EvalFixed's and equal labels.
func checkFaithfulLogits(t *testing.T, got, want *tensor.Tensor, frac int) {
	t.Helper()
	unit := math.Ldexp(1, -frac)
	for j := range want.Data {
		if d := math.Abs(float64(got.Data[j]-want.Data[j])) / unit; d > faithfulBound {
			t.Fatalf("logit %d: %v, EvalFixed %v (%.0f units)", j, got.Data[j], want.Data[j], d)
		}
	}
	for i := range want.Shape[0] {
		if g, _ := argmax(got, i); g != argmaxOf(want, i) {
			t.Errorf("image %d: label %d, EvalFixed's %d", i, g, argmaxOf(want, i))
		}
	}
}
