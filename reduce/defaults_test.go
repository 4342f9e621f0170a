package reduce

import (
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autorep/autorep/internal/testutil"
	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/train"
)

// The zero Config takes each method's defaults: AutoReP leaves x² unscaled
// and keeps the batch-norm running averages; SNL recalibrates from
// DefaultBNBatches.
func TestConfigDefaultsPerMethod(t *testing.T) {
	for _, tc := range []struct {
		method string
		degree int
		x2     float64 // scaleX2() after defaults (0 = off)
		bn     int
	}{
		{MethodAutoReP, 0, 0, -1}, // default degree 2
		{MethodAutoReP, 2, 0, -1},
		{MethodAutoReP, 3, 0, -1},
		{MethodAutoReP, 1, 0, -1},
		{MethodSNL, 0, 0, DefaultBNBatches},
	} {
		c := Config{Method: tc.method, Degree: tc.degree, Epochs: 1}
		c.defaults()
		if c.scaleX2() != tc.x2 || c.BNBatches != tc.bn {
			t.Errorf("%s degree %d: x² scale %g, recalibration %d; want %g, %d", tc.method, tc.degree, c.scaleX2(), c.BNBatches, tc.x2, tc.bn)
		}
		if err := c.validate(10, 1); err != nil {
			t.Errorf("%s degree %d: defaults rejected: %v", tc.method, tc.degree, err)
		}
	}
	// Set values win.
	c := Config{Method: MethodAutoReP, Degree: 2, ScaleX2: 1, BNBatches: 7}
	c.defaults()
	if c.scaleX2() != 0 || c.BNBatches != 7 {
		t.Errorf("set values: x² scale %g, recalibration %d; want 0 (off), 7", c.scaleX2(), c.BNBatches)
	}
	c = Config{Method: MethodSNL, BNBatches: -1}
	c.defaults()
	if c.BNBatches != -1 {
		t.Errorf("SNL with recalibration off: %d after defaults", c.BNBatches)
	}
}

// sameTrajectory reports the first training difference between two
// histories of equal phases: loss, training accuracy and ReLU count must
// be bit-identical.
func sameTrajectory(a, b []EpochLog) error {
	if len(a) != len(b) {
		return errors.New("histories of different lengths")
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Phase != y.Phase || x.Epoch != y.Epoch || x.Loss != y.Loss || x.TrainAcc != y.TrainAcc || x.ReLUs != y.ReLUs {
			return errors.New(x.Phase + " epochs differ: " + mustJSON(x) + " vs " + mustJSON(y))
		}
	}
	return nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The batch-norm recalibration only overwrites the running statistics,
// which training-mode batch norm never reads and its momentum washes out
// within an epoch, and it draws its batches from its own loader, not the
// training randomness. So a run that recalibrates before every evaluation
// (A) and one that keeps the running averages (B) train identically, and
// B's evaluation of every epoch is A's evaluation with the running
// averages (Config.EvalRunning) — as long as both keep the same search
// epoch, since the finetune starts from the kept one. AutoReP's default
// (no recalibration) rests on this: its running-average figures were
// measured in recalibrating runs.
//
// 1,200 images in batches of 8 make 150 steps an epoch, as a ResNet-20
// CIFAR epoch (390 steps) has: momentum 0.1 leaves 0.9^150 ≈ 1.4e-7 of
// the recalibrated statistics, under float32's resolution, so the
// evaluations match exactly; with a few steps an epoch they would not.
func TestRecalibrationKeepsTrajectory(t *testing.T) {
	trainSet, test := quadrantSet(1200, 1, 8, 11), quadrantSet(300, 1, 8, 12)
	base := Config{Method: MethodAutoReP, Budget: 200, Epochs: 2, FinetuneEpochs: 2, Batch: 8,
		LR: 0.01, ScoreLR: 0.05, FinetuneLR: 0.01, Lambda: 20, Seed: 3, Log: logWriter{t}}
	run := func(bn int, evalRunning bool) (*Result, map[string]*tensor.Tensor) {
		cfg := base
		cfg.BNBatches, cfg.EvalRunning = bn, evalRunning
		cfg.Checkpoint = filepath.Join(t.TempDir(), "run")
		res, err := Run(bnQuadNet(7), bnQuadNet(7), trainSet, test, cfg)
		if err != nil {
			t.Fatal(err)
		}
		// Where training ended (the returned model is the kept epoch):
		// weights, scores, masks, coefficients, DaPa statistics, without
		// the batch-norm statistics, which differ by design.
		f, err := modelfile.Read(cfg.Checkpoint + ".finetune")
		if err != nil {
			t.Fatal(err)
		}
		for name := range f.Tensors {
			if strings.HasSuffix(name, ".running_mean") || strings.HasSuffix(name, ".running_var") {
				delete(f.Tensors, name)
			}
		}
		return res, f.Tensors
	}
	a, wa := run(4, true)
	b, wb := run(-1, false)
	if a.BNRunning || !b.BNRunning {
		t.Errorf("records bn_running %v (recalibrated) and %v (running averages)", a.BNRunning, b.BNRunning)
	}
	if err := sameTrajectory(a.History, b.History); err != nil {
		t.Fatalf("recalibration changed the training: %v", err)
	}
	differ := 0
	for i, e := range a.History {
		if e.TestAccRunning == 0 || b.History[i].TestAccRunning != 0 {
			t.Fatalf("%s epoch %d: running-average accuracy %v (recalibrated run), %v (running run)", e.Phase, e.Epoch, e.TestAccRunning, b.History[i].TestAccRunning)
		}
		if got := b.History[i].TestAcc; got != e.TestAccRunning {
			t.Errorf("%s epoch %d: %.4f%% without recalibration, %.4f%% with the running averages of the recalibrating run", e.Phase, e.Epoch, got, e.TestAccRunning)
		}
		if e.TestAcc != e.TestAccRunning {
			differ++
		}
		t.Logf("%s %d: loss %.5f, %d ReLUs, test %.2f%% recalibrated, %.2f%% running averages", e.Phase, e.Epoch, e.Loss, e.ReLUs, e.TestAcc, e.TestAccRunning)
	}
	if differ == 0 {
		t.Fatal("the recalibration changed no evaluation: the test does not tell the two apart")
	}
	// The finetune started from the same search epoch in both runs (else
	// its epochs could not have matched above); training ends in the same
	// place. Which epoch each keeps may differ: that is the point.
	if err := testutil.SameTensors(wa, wb); err != nil {
		t.Fatalf("the final training state differs: %v", err)
	}
	t.Logf("kept: %s %d (%.2f%%) recalibrating, %s %d (%.2f%%) with the running averages", a.Phase, a.Epoch, a.Accuracy, b.Phase, b.Epoch, b.Accuracy)
}

// bnQuadNet classifies quadrantSet's 1×8×8 images: two conv → batch norm
// → site blocks (8×8×8 and 8×4×4, 640 ReLUs) and a linear layer.
func bnQuadNet(seed int64) *models.Model {
	rng := rand.New(rand.NewSource(seed))
	g := &nn.Graph{}
	g.Add("conv1", nn.NewConv2d(rng, 1, 8, 3, 1, 1, 1, false))
	g.Add("bn1", nn.NewBatchNorm2d(8))
	s1 := &nn.Site{Name: "relu1", Shape: []int{8, 8, 8}}
	g.Add("relu1", s1)
	g.Add("conv2", nn.NewConv2d(rng, 8, 8, 3, 2, 1, 1, false))
	g.Add("bn2", nn.NewBatchNorm2d(8))
	s2 := &nn.Site{Name: "relu2", Shape: []int{8, 4, 4}}
	g.Add("relu2", s2)
	g.Add("flatten", nn.Flatten{})
	g.Add("fc", nn.NewLinear(rng, 128, 4, true))
	return &models.Model{Arch: "toy", Classes: 4, Input: [3]int{1, 8, 8}, Net: g, Sites: []*nn.Site{s1, s2}}
}

// rewriteCheckpoints applies edit to the decoded checkpoint state of each
// per-phase checkpoint of prefix and writes it back (tensors unchanged),
// as an older binary would have written it.
func rewriteCheckpoints(t *testing.T, prefix string, edit func(what string, st map[string]any)) {
	t.Helper()
	n := 0
	for _, p := range Phases {
		f, err := modelfile.Read(prefix + "." + p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		if err := json.Unmarshal([]byte(f.Metadata[train.KeyCheckpoint]), &st); err != nil {
			t.Fatal(err)
		}
		edit(prefix+"."+p, st)
		raw, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		f.Metadata[train.KeyCheckpoint] = string(raw)
		if err := modelfile.Write(prefix+"."+p, f.Tensors, f.Metadata); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("no checkpoint at %s to rewrite", prefix)
	}
}

// stripBNRecord rewrites the checkpoints of prefix as binaries before the
// per-method recalibration default wrote them: the run state has no
// bn_batches (and no scale_x2, as with the x² scale off).
func stripBNRecord(t *testing.T, prefix string) {
	t.Helper()
	rewriteCheckpoints(t, prefix, func(what string, st map[string]any) {
		extra, _ := st["extra"].(map[string]any)
		rs, _ := extra["reduce"].(map[string]any)
		if rs == nil || rs["bn_batches"] == nil || rs["scale_x2"] != nil {
			t.Fatalf("%s: run state %v, want bn_batches and no scale_x2", what, rs)
		}
		delete(rs, "bn_batches")
	})
}

// A run started before the per-method defaults, with no --scale-x2 and no
// --bn-batches (then: no x² scale, recalibration from DefaultBNBatches),
// resumed with neither flag by a binary with the new defaults, continues
// with the settings it started with and ends bit-identical to an
// uninterrupted run under them (as the ResNet-18 run of issue 18 resumes
// in its finetune). A set value that contradicts a checkpoint is refused
// with the flag to pass.
func TestResumeKeepsCheckpointSettings(t *testing.T) {
	if testing.Short() {
		// 70 s under -race on a loaded 2-core machine, for no
		// concurrency of its own (TestAutoRePResumeExact covers the
		// resume's); the plain pass runs it.
		t.Skip("skipped with -short: a resume-settings check with 50-batch recalibrations, no concurrency of its own")
	}
	trainSet, test := quadrantSet(200, 3, 8, 1), quadrantSet(64, 3, 8, 2)
	_, total := tinyResNet().ReLUCount()
	old := Config{Method: MethodAutoReP, Budget: total / 2, Epochs: 2, FinetuneEpochs: 2, Batch: 32,
		LR: 0.01, ScoreLR: 0.1, FinetuneLR: 0.01, Lambda: 20, Seed: 6, Log: logWriter{t},
		ScaleX2: 1, BNBatches: DefaultBNBatches} // what no flags meant before
	dir := t.TempDir()
	full := old
	full.Checkpoint = filepath.Join(dir, "full")
	student := tinyResNet()
	res, err := Run(student, tinyResNet(), trainSet, test, full)
	if err != nil {
		t.Fatal(err)
	}
	if res.ScaleX2 != 0 || res.BNRunning {
		t.Fatalf("reference run: x² scale %g, running averages %v", res.ScaleX2, res.BNRunning)
	}
	want := outcome(t, res, student, full.Checkpoint)
	for _, st := range []midStop{{Phase: "search", Step: 9}, {Phase: "finetune", Step: 3}} {
		t.Run(st.Phase, func(t *testing.T) {
			cfg := old
			cfg.Checkpoint = filepath.Join(dir, st.Phase)
			cfg.Log = logWriter{t}
			runStopped(t, resumeCase{model: tinyResNet, train: trainSet, test: test}, cfg, st)
			stripBNRecord(t, cfg.Checkpoint)
			// The queue's resume: no flag for either setting.
			cfg.ScaleX2, cfg.BNBatches, cfg.Resume = 0, 0, true
			student := tinyResNet()
			res, err := Run(student, tinyResNet(), trainSet, test, cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := outcome(t, res, student, cfg.Checkpoint)
			w := want
			if st.Phase == "finetune" {
				// The stripped search checkpoint is not written again:
				// only its tensors can match.
				if err := testutil.SameTensors(want.files["search"].Tensors, got.files["search"].Tensors); err != nil {
					t.Fatalf("search checkpoint: %v", err)
				}
				w.files = map[string]*modelfile.File{}
				for p, f := range want.files {
					if p != "search" {
						w.files[p] = f
					}
				}
				delete(got.files, "search")
			}
			// The checkpoints written after the resume record the settings.
			sameOutcome(t, w, got)
		})
	}
	// Set values that contradict the checkpoint's are refused, naming the
	// flag that resumes it.
	for _, tc := range []struct {
		x2   float64
		bn   int
		flag string
	}{{0.1, 0, "--scale-x2 1"}, {0, 4, "--bn-batches 50"}, {0, -1, "--bn-batches 50"}} {
		cfg := old
		cfg.Checkpoint, cfg.Resume = full.Checkpoint, true
		cfg.ScaleX2, cfg.BNBatches = tc.x2, tc.bn
		_, err := Run(tinyResNet(), tinyResNet(), trainSet, test, cfg)
		if err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("resume with x² scale %g, recalibration %d: error %v, want one naming %s", tc.x2, tc.bn, err, tc.flag)
		}
	}
}
