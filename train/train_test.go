package train

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/optim"
)

// tinyModel is conv(1→4, 3x3) → BN → ReLU site → global pool → fc(4→3).
func tinyModel(seed int64) *models.Model {
	rng := rand.New(rand.NewSource(seed))
	g := &nn.Graph{}
	g.Add("conv", nn.NewConv2d(rng, 1, 4, 3, 1, 1, 1, false), -1)
	g.Add("bn", nn.NewBatchNorm2d(4))
	site := &nn.Site{Name: "relu"}
	g.Add("relu", site)
	g.Add("pool", nn.GlobalAvgPool{})
	g.Add("flatten", nn.Flatten{})
	g.Add("fc", nn.NewLinear(rng, 4, 3, true))
	site.Shape = []int{4, 6, 6}
	return &models.Model{Arch: "tiny", Classes: 3, Input: [3]int{1, 6, 6}, Net: g, Sites: []*nn.Site{site}}
}

// tinySet is n 1x6x6 images whose class is which third of the image is
// brightest, so a small conv net can learn it.
func tinySet(n int, seed int64) *data.Set {
	rng := rand.New(rand.NewSource(seed))
	s := &data.Set{Name: "tiny", N: n, C: 1, H: 6, W: 6, Classes: 3, Pixels: make([]uint8, n*36),
		Labels: make([]int32, n), Mean: []float32{0.3}, Std: []float32{0.3}}
	for i := 0; i < n; i++ {
		y := rng.Intn(3)
		s.Labels[i] = int32(y)
		for j := 0; j < 36; j++ {
			v := rng.Intn(80)
			if (j%6)/2 == y {
				v += 150
			}
			s.Pixels[i*36+j] = uint8(v)
		}
	}
	return s
}

type counter struct{ N int }

func (c *counter) SaveState() (json.RawMessage, error) { return json.Marshal(c.N) }
func (c *counter) LoadState(b json.RawMessage) error   { return json.Unmarshal(b, &c.N) }

// newTrainer builds a trainer over the tiny model and data; stopAfter > 0
// simulates a kill after that many epochs (the checkpoint is written).
func newTrainer(t *testing.T, ckpt string, stopAfter int, opt string) (*Trainer, *counter) {
	t.Helper()
	m := tinyModel(1)
	params := optim.ParamsOf(m.Net)
	var o optim.Optimizer
	var err error
	if opt == "adam" {
		o, err = optim.NewAdam(optim.SplitDecay(params, 1e-3), optim.AdamConfig{LR: 0.03})
	} else {
		o, err = optim.NewSGD(optim.SplitDecay(params, 5e-4), optim.SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true})
	}
	if err != nil {
		t.Fatal(err)
	}
	loader := data.NewLoader(tinySet(60, 1), data.LoaderConfig{Batch: 16, Shuffle: true, Seed: 9, Augment: true, Pad: 1})
	sched, err := optim.NewCosine(o.LR(), 0.001, 2, 3*loader.Len())
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{}
	tr := &Trainer{Model: m, Opt: o, Schedule: sched, Train: loader, Test: tinySet(30, 2), Epochs: 3,
		LabelSmoothing: 0.1, EvalBatch: 7, Checkpoint: ckpt, State: map[string]Stateful{"counter": c}}
	tr.BeforeStep = append(tr.BeforeStep, func(step int) error {
		if step != c.N {
			return errors.New("BeforeStep saw a wrong step number")
		}
		c.N++
		return nil
	})
	if stopAfter > 0 {
		tr.AfterEpoch = append(tr.AfterEpoch, func(s *EpochStats) error {
			if s.Epoch == stopAfter {
				return ErrStop
			}
			return nil
		})
	}
	return tr, c
}

func TestResumeEquivalence(t *testing.T) {
	for _, opt := range []string{"sgd", "adam"} {
		dir := t.TempDir()
		full, _ := newTrainer(t, filepath.Join(dir, "full.ckpt"), 0, opt)
		if err := full.Run(); err != nil {
			t.Fatal(err)
		}
		// Interrupted after epoch 1, then resumed by a fresh process.
		ckpt := filepath.Join(dir, "part.ckpt")
		part, _ := newTrainer(t, ckpt, 1, opt)
		if err := part.Run(); err != nil {
			t.Fatal(err)
		}
		if part.Epoch() != 1 {
			t.Fatalf("ErrStop: %d epochs run", part.Epoch())
		}
		resumed, c := newTrainer(t, ckpt, 0, opt)
		if err := resumed.Resume(ckpt); err != nil {
			t.Fatal(err)
		}
		if resumed.Epoch() != 1 || c.N != resumed.GlobalStep || c.N == 0 {
			t.Fatalf("resumed at epoch %d, step %d, counter %d", resumed.Epoch(), resumed.GlobalStep, c.N)
		}
		if err := resumed.Run(); err != nil {
			t.Fatal(err)
		}
		a, _ := full.Model.Tensors()
		b, _ := resumed.Model.Tensors()
		if len(a) != len(b) {
			t.Fatal("tensor sets differ")
		}
		for name, x := range a {
			y := b[name]
			for i := range x.Data {
				if x.Data[i] != y.Data[i] {
					t.Fatalf("%s: %s[%d] = %v resumed, %v uninterrupted", opt, name, i, y.Data[i], x.Data[i])
				}
			}
		}
		for i := range full.History {
			h1, h2 := full.History[i], resumed.History[i]
			h1.Seconds, h2.Seconds = 0, 0
			if h1.TrainLoss != h2.TrainLoss || h1.TestAcc != h2.TestAcc || h1.LR != h2.LR {
				t.Fatalf("%s: epoch %d history differs: %+v vs %+v", opt, i+1, h1, h2)
			}
		}
		last := full.History[len(full.History)-1]
		if !last.HasTest || last.TestAcc < 0.6 {
			t.Errorf("%s: tiny task reached only %.0f%% test accuracy", opt, 100*last.TestAcc)
		}
		if full.GlobalStep != 3*4 {
			t.Errorf("%d steps, want 12", full.GlobalStep)
		}
	}
}

func TestResumeErrors(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "a.ckpt")
	tr, _ := newTrainer(t, ckpt, 1, "sgd")
	if err := tr.Run(); err != nil {
		t.Fatal(err)
	}
	// Wrong optimiser kind.
	other, _ := newTrainer(t, "", 0, "adam")
	if err := other.Resume(ckpt); err == nil {
		t.Fatal("resumed an SGD checkpoint into Adam")
	}
	// Wrong architecture.
	arch, _ := newTrainer(t, "", 0, "sgd")
	arch.Model.Arch = "other"
	if err := arch.Resume(ckpt); err == nil {
		t.Fatal("resumed into another architecture")
	}
	// Truncated checkpoint.
	raw, _ := os.ReadFile(ckpt)
	bad := filepath.Join(dir, "bad.ckpt")
	os.WriteFile(bad, raw[:len(raw)/2], 0o644)
	fresh, _ := newTrainer(t, "", 0, "sgd")
	if err := fresh.Resume(bad); err == nil {
		t.Fatal("resumed from a truncated checkpoint")
	}
	// A model file is not a checkpoint.
	mf := filepath.Join(dir, "m.safetensors")
	if err := fresh.Model.Save(mf); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Resume(mf); err == nil {
		t.Fatal("resumed from a plain model file")
	}
	if err := fresh.Resume(filepath.Join(dir, "missing.ckpt")); err == nil {
		t.Fatal("resumed from a missing file")
	}
	// Another learning rate: the steps taken followed the checkpoint's, so
	// no run would match. Another length is noted.
	lr, _ := newTrainer(t, "", 0, "sgd")
	lr.Schedule = optim.Cosine{Base: 0.05, Min: 0.001, Warmup: 2, Total: 12}
	if err := lr.Resume(ckpt); err == nil || !strings.Contains(err.Error(), "optim.Cosine{Base:0.1 Min:0.001 Warmup:2 Total:12}, this run's is optim.Cosine{Base:0.05") {
		t.Fatalf("resumed with another learning rate: %v", err)
	}
	longer, _ := newTrainer(t, "", 0, "sgd")
	var log strings.Builder
	longer.Epochs, longer.Log = 4, &log
	longer.Schedule = optim.Cosine{Base: 0.1, Min: 0.001, Warmup: 2, Total: 16}
	if err := longer.Resume(ckpt); err != nil || !strings.Contains(log.String(), "written by a run of 3 epochs, continued as a run of 4") {
		t.Fatalf("a longer run: %v, log %q", err, log.String())
	}
	same, _ := newTrainer(t, "", 0, "sgd")
	if err := same.Resume(ckpt); err != nil {
		t.Fatalf("the run's own settings: %v", err)
	}
}

func TestHooksAndBest(t *testing.T) {
	dir := t.TempDir()
	tr, _ := newTrainer(t, "", 0, "sgd")
	tr.BestPath = filepath.Join(dir, "best.safetensors")
	calls := 0
	tr.KeepBest = func(s EpochStats, best *EpochStats) bool {
		calls++
		return best == nil || s.TestAcc >= best.TestAcc
	}
	tr.AfterEpoch = append(tr.AfterEpoch, func(s *EpochStats) error {
		s.Extra = map[string]float64{"epoch_sq": float64(s.Epoch * s.Epoch)}
		return nil
	})
	if err := tr.Run(); err != nil {
		t.Fatal(err)
	}
	if calls != 3 || tr.Best == nil || tr.History[2].Extra["epoch_sq"] != 9 {
		t.Fatalf("KeepBest calls %d, best %+v, extra %v", calls, tr.Best, tr.History[2].Extra)
	}
	best, err := models.Load(tr.BestPath)
	if err == nil {
		t.Fatalf("tiny arch is not buildable by models.Load, yet loaded %s", best.Arch)
	}
	if _, err := os.Stat(tr.BestPath); err != nil {
		t.Fatalf("best model not written: %v", err)
	}
	rec := tr.Record()
	if rec.Epochs != 3 || len(rec.History) != 3 || rec.TestAcc != tr.History[2].TestAcc || rec.Steps != 12 {
		t.Fatalf("record %+v", rec)
	}
	// A failing hook stops training with its error.
	tr2, _ := newTrainer(t, "", 0, "sgd")
	tr2.BeforeStep = []func(int) error{func(step int) error {
		if step == 5 {
			return errors.New("boom")
		}
		return nil
	}}
	if err := tr2.Run(); err == nil || tr2.GlobalStep != 5 {
		t.Fatalf("hook error not propagated: %v at step %d", err, tr2.GlobalStep)
	}
	// A diverging step is reported.
	tr3, _ := newTrainer(t, "", 0, "sgd")
	tr3.Step = func(b data.Batch) (*autograd.Var, *autograd.Var, error) {
		logits, err := tr3.Model.Forward(autograd.Const(b.X))
		if err != nil {
			return nil, nil, err
		}
		loss, err := nn.CrossEntropy(logits, b.Y, 0)
		if err != nil {
			return nil, nil, err
		}
		loss.Value.Data[0] = float32(math.NaN())
		return loss, logits, nil
	}
	if err := tr3.Run(); err == nil {
		t.Fatal("NaN loss not reported")
	}
}

func TestEvaluate(t *testing.T) {
	m := tinyModel(3)
	set := tinySet(50, 4)
	a, err := Evaluate(m, set, EvalOptions{Batch: 16})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(m, set, EvalOptions{Batch: 50, Limit: 0})
	if err != nil {
		t.Fatal(err)
	}
	if a.N != 50 || a.Correct != b.Correct || abs(a.Loss-b.Loss) > 1e-5 {
		t.Fatalf("batching changes the result: %+v vs %+v", a, b)
	}
	c, err := Evaluate(m, set, EvalOptions{Limit: 10})
	if err != nil || c.N != 10 {
		t.Fatalf("limit: %+v %v", c, err)
	}
	wrong := tinySet(5, 1)
	wrong.H, wrong.W = 3, 12
	if _, err := Evaluate(m, wrong, EvalOptions{}); err == nil {
		t.Fatal("wrong input shape accepted")
	}
	if _, err := Evaluate(m, &data.Set{}, EvalOptions{}); err == nil {
		t.Fatal("empty set accepted")
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestCheckpointLoadsAsModel checks that models.Load accepts a checkpoint
// and yields the checkpointed weights.
func TestCheckpointLoadsAsModel(t *testing.T) {
	m, err := models.New("lenet", 3, [3]int{1, 12, 12})
	if err != nil {
		t.Fatal(err)
	}
	params := optim.ParamsOf(m.Net)
	o, err := optim.NewSGD([]optim.Group{{Params: params}}, optim.SGDConfig{LR: 0.05, Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	set := tinySet(40, 5) // 40·36 pixels, viewed as ten 12x12 images
	big := &data.Set{Name: "t", N: 10, C: 1, H: 12, W: 12, Classes: 3, Pixels: set.Pixels[:10*144], Labels: set.Labels[:10],
		Mean: []float32{0.3}, Std: []float32{0.3}}
	ckpt := filepath.Join(t.TempDir(), "lenet.ckpt")
	tr := &Trainer{Model: m, Opt: o, Train: data.NewLoader(big, data.LoaderConfig{Batch: 5}), Epochs: 1, Checkpoint: ckpt}
	if err := tr.Run(); err != nil {
		t.Fatal(err)
	}
	got, err := models.Load(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Meta.Extra[KeyCheckpoint]; ok {
		t.Fatal("checkpoint state leaked into the model metadata")
	}
	want, _ := m.Tensors()
	have, _ := got.Tensors()
	for name, w := range want {
		for i := range w.Data {
			if have[name].Data[i] != w.Data[i] {
				t.Fatalf("%s differs after loading the checkpoint", name)
			}
		}
	}
}

// nanEvery sets every k-th row of its input (by position in the batch) to NaN.
type nanEvery struct{ k int }

func (o nanEvery) Forward(x *autograd.Var) *autograd.Var {
	y := x.Value.Clone()
	n, k := y.Shape[0], y.Shape[1]
	for i := 0; i < n; i += o.k {
		for j := range k {
			y.Data[i*k+j] = float32(math.NaN())
		}
	}
	return autograd.Const(y)
}

// Images whose logits overflow count as wrong and stay out of the loss;
// only a network that overflows on every image is an error.
func TestEvaluateNonFiniteLogits(t *testing.T) {
	m := tinyModel(3)
	set := tinySet(50, 4)
	clean, err := Evaluate(m, set, EvalOptions{Batch: 16})
	if err != nil {
		t.Fatal(err)
	}
	m.Net.Add("poison", nanEvery{3})
	got, err := Evaluate(m, set, EvalOptions{Batch: 16})
	if err != nil {
		t.Fatal(err)
	}
	if got.N != 50 || got.NonFinite != 19 || got.Correct > clean.Correct || math.IsNaN(got.Loss) || math.IsInf(got.Loss, 0) {
		t.Fatalf("with every third row NaN: %+v (clean %+v), want 19 non-finite of 50 and a finite loss", got, clean)
	}
	m.Net.Nodes[len(m.Net.Nodes)-1].Op = nanEvery{1}
	if _, err := Evaluate(m, set, EvalOptions{Batch: 16}); err == nil {
		t.Fatal("all logits NaN: no error")
	}
}
