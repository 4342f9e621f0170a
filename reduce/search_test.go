package reduce

import (
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
	trainpkg "github.com/autorep/autorep/train"
)

// toySet is a 3-class 1×6×6 problem: the class is the brightest third of
// the image (rows 0-1, 2-3 or 4-5), with noise.
func toySet(n int, seed int64) *data.Set {
	rng := rand.New(rand.NewSource(seed))
	s := &data.Set{Name: "toy", N: n, C: 1, H: 6, W: 6, Classes: 3,
		Pixels: make([]uint8, n*36), Labels: make([]int32, n),
		Mean: []float32{0.3}, Std: []float32{0.3}, ClassNames: []string{"a", "b", "c"}}
	for i := 0; i < n; i++ {
		c := rng.Intn(3)
		s.Labels[i] = int32(c)
		for p := 0; p < 36; p++ {
			v := rng.Intn(90)
			if p/12 == c {
				v += 140
			}
			s.Pixels[i*36+p] = uint8(v)
		}
	}
	return s
}

// toyNet is conv(1→4, 3×3, pad 1) → site → flatten → linear(144→3).
func toyNet(seed int64) *models.Model {
	rng := rand.New(rand.NewSource(seed))
	g := &nn.Graph{}
	g.Add("conv1", nn.NewConv2d(rng, 1, 4, 3, 1, 1, 1, true))
	site := &nn.Site{Name: "relu1"}
	g.Add("relu1", site)
	g.Add("flatten", nn.Flatten{})
	g.Add("fc", nn.NewLinear(rng, 144, 3, true))
	// Dry forward fills the site's shape.
	if _, err := g.Run(autograd.Const(tensor.New(1, 1, 6, 6))); err != nil {
		panic(err)
	}
	return &models.Model{Arch: "toy", Classes: 3, Input: [3]int{1, 6, 6}, Net: g, Sites: []*nn.Site{site}}
}

// logWriter sends run logs to t.Log (shown with -v).
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func quickConfig(t *testing.T, method string, budget int) Config {
	return Config{Method: method, Budget: budget, Epochs: 3, FinetuneEpochs: 1, Batch: 32,
		LR: 0.05, FinetuneLR: 0.01, Lambda: 20, Seed: 1, Log: logWriter{t}}
}

func TestRunAutoRePReachesBudgetAndResumes(t *testing.T) {
	train, test := toySet(640, 1), toySet(192, 2)
	student, teacher := toyNet(7), toyNet(7)
	sites := student.Sites
	budget := 30 // of 144
	cfg := quickConfig(t, MethodAutoReP, budget)
	cfg.Checkpoint = filepath.Join(t.TempDir(), "ckpt")
	res, err := Run(student, teacher, train, test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.ReLUs > budget || res.Total != 144 || len(res.PerSite) != 1 || res.PerSite[0] != res.ReLUs {
		t.Fatalf("result %+v", res)
	}
	pm, ok := sites[0].Act.(*nn.PolyMask)
	if !ok || pm.ReLUCount() != res.ReLUs || len(pm.Coef) != 4 || len(pm.Coef[0]) != 3 {
		t.Fatalf("site activation %T after Run", sites[0].Act)
	}
	if res.Accuracy < 60 {
		t.Errorf("toy accuracy %.1f%% after reduction, want ≥ 60%%", res.Accuracy)
	}
	if len(res.History) != 4 {
		t.Fatalf("history has %d epochs, want 3 search + 1 finetune", len(res.History))
	}
	// The reported accuracy is that of the returned model.
	m, err := trainpkg.Evaluate(student, test, trainpkg.EvalOptions{})
	if err != nil || math.Abs(100*m.Accuracy-res.Accuracy) > 1e-9 {
		t.Fatalf("re-evaluated %.2f%% (%v), result says %.2f%%", 100*m.Accuracy, err, res.Accuracy)
	}
	// Resume: a finished checkpoint continues with one more finetune epoch.
	student2 := toyNet(7)
	cfg.FinetuneEpochs = 2
	cfg.Resume = true
	res2, err := Run(student2, teacher, train, test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.History) != 5 || res2.History[4].Phase != "finetune" || res2.History[4].Epoch != 2 {
		t.Fatalf("resumed history %+v", res2.History)
	}
	if res2.ReLUs > budget {
		t.Fatalf("resumed result over budget: %d", res2.ReLUs)
	}
	// Resuming with another finetune learning rate is refused: the
	// finished steps followed the checkpoint's.
	cfg.FinetuneLR *= 2
	if _, err := Run(toyNet(7), teacher, train, test, cfg); err == nil || !strings.Contains(err.Error(), "learning-rate schedule") {
		t.Fatalf("resumed with another finetune learning rate: %v", err)
	}
	cfg.FinetuneLR /= 2
	// So is another λ (a setting of the search, recorded in its state).
	cfg.Lambda *= 2
	if _, err := Run(toyNet(7), teacher, train, test, cfg); err == nil || !strings.Contains(err.Error(), "lambda was 20, now 40") {
		t.Fatalf("resumed with another lambda: %v", err)
	}
	cfg.Lambda /= 2
	// Resuming with a different degree (other tensor shapes) is refused.
	cfg.Degree = 3
	if _, err := Run(toyNet(7), nil, train, test, cfg); err == nil {
		t.Fatal("resumed a checkpoint made for another degree")
	}
}

func TestRunSNL(t *testing.T) {
	train, test := toySet(640, 3), toySet(192, 4)
	student, teacher := toyNet(8), toyNet(8)
	sites := student.Sites
	cfg := quickConfig(t, MethodSNL, 50)
	cfg.Epochs = 2 // too short for the L1 phase: forces the top-B fallback
	res, err := Run(student, teacher, train, test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.ReLUs > 50 || !res.Forced || res.Degree != 1 {
		t.Fatalf("SNL result %+v", res)
	}
	pm := sites[0].Act.(*nn.PolyMask)
	for c, row := range pm.Coef {
		if len(row) != 2 || row[0] != 0 || row[1] != 1 {
			t.Fatalf("SNL channel %d polynomial %v, want identity (0, 1)", c, row)
		}
	}
}

// TestRunSNLNaturalStop drives the L1 phase below budget (a large η) and
// checks it stops early, without the top-B fallback, and resumes as done.
func TestRunSNLNaturalStop(t *testing.T) {
	train, test := toySet(640, 5), toySet(192, 6)
	cfg := quickConfig(t, MethodSNL, 40)
	cfg.Epochs, cfg.FinetuneEpochs, cfg.Eta0 = 20, 0, 0.05
	cfg.Checkpoint = filepath.Join(t.TempDir(), "ckpt")
	res, err := Run(toyNet(9), toyNet(9), train, test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	l1 := 0
	for _, e := range res.History {
		if e.Phase == "l1" {
			l1++
		}
	}
	if res.Forced || res.ReLUs > 40 || l1 >= 20 || l1 == 0 {
		t.Fatalf("forced %v, %d ReLUs, %d L1 epochs", res.Forced, res.ReLUs, l1)
	}
	last := res.History[l1-1]
	if last.ReLUs > 40 || last.Eta <= 0 {
		t.Fatalf("last L1 epoch %+v", last)
	}
	// Resuming the finished L1 phase trains no more L1 epochs (with the
	// run's teacher: distillation is one of the settings it must keep).
	cfg.Resume = true
	res2, err := Run(toyNet(9), toyNet(9), train, test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.History) != len(res.History) || res2.ReLUs != res.ReLUs {
		t.Fatalf("resume changed the run: %d vs %d epochs, %d vs %d ReLUs", len(res2.History), len(res.History), res2.ReLUs, res.ReLUs)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	train, test := toySet(64, 1), toySet(64, 2)
	for _, cfg := range []Config{
		{Method: "magic", Budget: 10, Epochs: 1},
		{Method: MethodAutoReP, Budget: 145, Epochs: 1},
		{Method: MethodAutoReP, Budget: -1, Epochs: 1},
		{Method: MethodAutoReP, Budget: 10, Epochs: 0},
		{Method: MethodAutoReP, Budget: 10, Epochs: 1, Degree: 9},
		{Method: MethodAutoReP, Budget: 10, Epochs: 1, CostWeights: []float64{1, 2}},
	} {
		if _, err := Run(toyNet(1), nil, train, test, cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	// Corrupt checkpoints are errors, not panics.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.search"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := modelfile.Write(filepath.Join(dir, "b.search"), map[string]*tensor.Tensor{"x": tensor.New(1)},
		map[string]string{trainpkg.KeyCheckpoint: "{not json"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		cfg := quickConfig(t, MethodAutoReP, 10)
		cfg.Checkpoint, cfg.Resume = filepath.Join(dir, name), true
		if _, err := Run(toyNet(1), nil, train, test, cfg); err == nil {
			t.Fatalf("corrupt checkpoint %s accepted", name)
		}
	}
	// An already reduced model is refused.
	m := toyNet(1)
	m.Sites[0].Act = nn.NewPolyMask(m.Sites[0].Shape, 2)
	if _, err := Run(m, nil, train, test, quickConfig(t, MethodAutoReP, 10)); err == nil {
		t.Fatal("reduced model accepted as input")
	}
}

// toyBNNet is toyNet with a batch norm before the site.
func toyBNNet(seed int64) *models.Model {
	rng := rand.New(rand.NewSource(seed))
	g := &nn.Graph{}
	g.Add("conv1", nn.NewConv2d(rng, 1, 4, 3, 1, 1, 1, false))
	g.Add("bn1", nn.NewBatchNorm2d(4))
	site := &nn.Site{Name: "relu1", Shape: []int{4, 6, 6}}
	g.Add("relu1", site)
	g.Add("flatten", nn.Flatten{})
	g.Add("fc", nn.NewLinear(rng, 144, 3, true))
	return &models.Model{Arch: "toy", Classes: 3, Input: [3]int{1, 6, 6}, Net: g, Sites: []*nn.Site{site}}
}

// The returned model carries batch-norm statistics recomputed for its
// final masks (not the running averages of the search), and its reported
// accuracy is measured with them.
func TestRunRecalibratesBatchNorm(t *testing.T) {
	train, test := toySet(640, 1), toySet(192, 2)
	student := toyBNNet(7)
	cfg := quickConfig(t, MethodAutoReP, 30)
	cfg.FinetuneEpochs = 0
	cfg.BNBatches = 8
	res, err := Run(student, toyBNNet(7), train, test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	bn := student.Net.Nodes[1].Op.(*nn.BatchNorm2d)
	got := [][]float32{append([]float32(nil), bn.RunningMean.Data...), append([]float32(nil), bn.RunningVar.Data...)}
	// The search recalibrated before evaluating epoch res.Epoch (seed
	// offset epoch−1); doing it again must change nothing.
	opt := trainpkg.RecalibrateOptions{Batches: 8, Batch: cfg.Batch, Seed: cfg.Seed + int64(res.Epoch-1)}
	if err := trainpkg.RecalibrateBN(student, train, opt); err != nil {
		t.Fatal(err)
	}
	for k, want := range [][]float32{bn.RunningMean.Data, bn.RunningVar.Data} {
		for c := range want {
			if math.Abs(float64(got[k][c]-want[c])) > 1e-4*(1+math.Abs(float64(want[c]))) {
				t.Fatalf("statistic %d channel %d: result carries %g, recalibration gives %g", k, c, got[k][c], want[c])
			}
		}
	}
	m, err := trainpkg.Evaluate(student, test, trainpkg.EvalOptions{})
	if err != nil || math.Abs(100*m.Accuracy-res.Accuracy) > 1e-9 {
		t.Fatalf("re-evaluated %.2f%% (%v), result says %.2f%%", 100*m.Accuracy, err, res.Accuracy)
	}
}
