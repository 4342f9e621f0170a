package reduce

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/internal/testutil"
	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/train"
)

// quadrantSet is a 4-class C×S×S problem: the class is the brightest
// quadrant of the image, with enough noise that a few epochs do not
// reach 100%.
func quadrantSet(n, c, s int, seed int64) *data.Set {
	rng := rand.New(rand.NewSource(seed))
	per := c * s * s
	set := &data.Set{Name: "quadrant", N: n, C: c, H: s, W: s, Classes: 4,
		Pixels: make([]uint8, n*per), Labels: make([]int32, n),
		ClassNames: []string{"tl", "tr", "bl", "br"}}
	for ch := 0; ch < c; ch++ {
		set.Mean = append(set.Mean, 0.3)
		set.Std = append(set.Std, 0.3)
	}
	for i := 0; i < n; i++ {
		q := rng.Intn(4)
		set.Labels[i] = int32(q)
		for p := 0; p < per; p++ {
			y, x := (p%(s*s))/s, p%s
			v := rng.Intn(100)
			if (2*y/s)*2+2*x/s == q {
				v += 25
			}
			set.Pixels[i*per+p] = uint8(v)
		}
	}
	return set
}

// errCrash is the value a crashLog panics with: a simulated kill.
type errCrash struct{ at string }

// crashLog is a run's Log writer that kills the run (panics with errCrash)
// when the trainer of phase logs its epoch line for epoch, i.e. after that
// epoch trained, was evaluated and (if best) saved its best snapshot, but
// before its checkpoint was written: the epoch's work is lost, as when the
// process dies during it. With epoch 0 it kills at the first log line that
// starts with line instead.
type crashLog struct {
	name  string // subtest name
	t     *testing.T
	phase string // current phase, from the "<phase> phase:" lines
	at    string
	epoch int
	line  string
	// v1 rewrites the checkpoints left by the crash into version 1, the
	// per-epoch format of binaries before mid-epoch checkpoints, before
	// the resume.
	v1 bool
}

func (w *crashLog) Write(p []byte) (int, error) {
	s := string(p)
	if f := strings.Fields(s); len(f) > 1 && f[1] == "phase:" {
		w.phase = f[0]
	}
	w.t.Log(strings.TrimRight(s, "\n"))
	if (w.epoch > 0 && w.phase == w.at && strings.HasPrefix(s, fmt.Sprintf("epoch %d/", w.epoch))) ||
		(w.epoch == 0 && w.line != "" && strings.HasPrefix(s, w.line)) {
		panic(errCrash{fmt.Sprintf("%s %d %q", w.at, w.epoch, w.line)})
	}
	return len(p), nil
}

// runOutcome is everything a finished run leaves: its result (epoch
// times zeroed), the student's tensors and the checkpoint files.
type runOutcome struct {
	res     *Result
	tensors map[string]*tensor.Tensor
	files   map[string]*modelfile.File // by suffix: search, l1, finetune, best
}

func outcome(t *testing.T, res *Result, student *models.Model, prefix string) runOutcome {
	t.Helper()
	o := runOutcome{res: res, files: map[string]*modelfile.File{}}
	for i := range res.History {
		res.History[i].Seconds = 0
	}
	var err error
	if o.tensors, err = student.Tensors(); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(append([]string(nil), Phases...), "best") {
		f, err := modelfile.Read(prefix + "." + p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		o.files[p] = f
	}
	return o
}

// dropTimes removes wall-clock fields (epoch seconds, elapsed time) from a
// decoded JSON value; everything else must match exactly.
func dropTimes(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k := range x {
			if k == "seconds" || k == "elapsed_ns" || k == "finished" {
				delete(x, k)
			} else {
				x[k] = dropTimes(x[k])
			}
		}
	case []any:
		for i := range x {
			x[i] = dropTimes(x[i])
		}
	}
	return v
}

// sameMetadata compares metadata maps; JSON values (the checkpoint's run
// state, history, optimiser step counts, the run's own state) are compared
// without their wall-clock fields.
func sameMetadata(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: metadata keys %d vs %d", what, len(want), len(got))
	}
	for k, w := range want {
		g := got[k]
		var wv, gv any
		if json.Unmarshal([]byte(w), &wv) == nil && json.Unmarshal([]byte(g), &gv) == nil {
			wv, gv = dropTimes(wv), dropTimes(gv)
			// The reduce state is a JSON string inside the checkpoint state.
			if !reflect.DeepEqual(wv, gv) {
				wb, _ := json.Marshal(wv)
				gb, _ := json.Marshal(gv)
				t.Fatalf("%s: metadata %q differs:\nuninterrupted %s\nresumed       %s", what, k, wb, gb)
			}
			continue
		}
		if w != g {
			t.Fatalf("%s: metadata %q = %q uninterrupted, %q resumed", what, k, w, g)
		}
	}
}

func sameOutcome(t *testing.T, want, got runOutcome) {
	t.Helper()
	if !reflect.DeepEqual(want.res, got.res) {
		wb, _ := json.Marshal(want.res)
		gb, _ := json.Marshal(got.res)
		t.Fatalf("results differ:\nuninterrupted %s\nresumed       %s", wb, gb)
	}
	if err := testutil.SameTensors(want.tensors, got.tensors); err != nil {
		t.Fatalf("returned model, resumed vs uninterrupted: %v", err)
	}
	if len(want.files) != len(got.files) {
		t.Fatalf("checkpoint files: %d uninterrupted, %d resumed", len(want.files), len(got.files))
	}
	for p, wf := range want.files {
		gf, ok := got.files[p]
		if !ok {
			t.Fatalf("checkpoint %s missing after resume", p)
		}
		if err := testutil.SameTensors(wf.Tensors, gf.Tensors); err != nil {
			t.Fatalf("checkpoint %s, resumed vs uninterrupted: %v", p, err)
		}
		sameMetadata(t, "checkpoint "+p, wf.Metadata, gf.Metadata)
	}
}

// resumeCase is one model and run configuration interrupted at several
// points.
type resumeCase struct {
	name        string
	model       func() *models.Model
	train, test *data.Set
	cfg         Config
	crashes     []crashLog
	// stops are runs stopped within epochs, each by one or more
	// processes in turn.
	stops []midStops
}

// midStop stops a run after step Step of phase Phase (steps counted
// within the phase): gracefully (Config.Interrupt: the checkpoint is
// written at that step and Run returns train.ErrInterrupted), or with
// Kill by a panic at that step in a run that writes a checkpoint after
// every step (Config.CheckpointEvery of 1ns), so it resumes from the
// step before.
type midStop struct {
	Phase string
	Step  int
	Kill  bool
}

// midStops is a run stopped by successive processes, then resumed to
// its end.
type midStops struct {
	name  string
	stops []midStop
}

func runResumeCase(t *testing.T, rc resumeCase) runOutcome {
	dir := t.TempDir()
	cfg := rc.cfg
	cfg.Checkpoint = filepath.Join(dir, "full")
	cfg.Log = logWriter{t}
	student := rc.model()
	res, err := Run(student, rc.model(), rc.train, rc.test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := outcome(t, res, student, cfg.Checkpoint)
	for _, c := range rc.crashes {
		name := c.name
		t.Run(name, func(t *testing.T) {
			cfg := rc.cfg
			cfg.Checkpoint = filepath.Join(dir, name)
			crash := c
			crash.t = t
			cfg.Log = &crash
			crashed := func() (crashed bool) {
				defer func() {
					if v := recover(); v != nil {
						if _, ok := v.(errCrash); !ok {
							panic(v)
						}
						crashed = true
					}
				}()
				_, err := Run(rc.model(), rc.model(), rc.train, rc.test, cfg)
				if err != nil {
					t.Fatal(err)
				}
				return false
			}()
			if !crashed {
				t.Fatalf("the run never reached the crash point %+v", c)
			}
			if c.v1 {
				toVersion1(t, cfg.Checkpoint)
			}
			// A new process: fresh models, the same flags plus --resume.
			cfg.Resume = true
			cfg.Log = logWriter{t}
			student := rc.model()
			res, err := Run(student, rc.model(), rc.train, rc.test, cfg)
			if err != nil {
				t.Fatal(err)
			}
			sameOutcome(t, want, outcome(t, res, student, cfg.Checkpoint))
		})
	}
	for _, ms := range rc.stops {
		t.Run(ms.name, func(t *testing.T) {
			cfg := rc.cfg
			cfg.Checkpoint = filepath.Join(dir, ms.name)
			cfg.Log = logWriter{t}
			for i, st := range ms.stops {
				cfg.Resume = i > 0
				runStopped(t, rc, cfg, st)
			}
			cfg.Resume = true
			student := rc.model()
			res, err := Run(student, rc.model(), rc.train, rc.test, cfg)
			if err != nil {
				t.Fatal(err)
			}
			sameOutcome(t, want, outcome(t, res, student, cfg.Checkpoint))
		})
	}
	return want
}

// toVersion1 rewrites the per-epoch checkpoints of prefix as binaries
// before mid-epoch checkpoints wrote them: the same tensors and state
// under version 1.
func toVersion1(t *testing.T, prefix string) {
	t.Helper()
	rewriteCheckpoints(t, prefix, func(what string, st map[string]any) {
		if st["version"] != 2.0 || st["position"] != nil {
			t.Fatalf("%s: not an epoch-end checkpoint of version 2: %v", what, st["version"])
		}
		st["version"] = 1
	})
}

// runStopped runs (or resumes) the case until st stops it.
func runStopped(t *testing.T, rc resumeCase, cfg Config, st midStop) {
	t.Helper()
	stopped := false
	cfg.Interrupt = func(phase string, step int) bool {
		if phase != st.Phase || step != st.Step {
			return false
		}
		stopped = true
		if st.Kill {
			panic(errCrash{fmt.Sprintf("%+v", st)})
		}
		return true
	}
	if st.Kill {
		cfg.CheckpointEvery = time.Nanosecond
	}
	err := func() (err error) {
		defer func() {
			if v := recover(); v != nil {
				if _, ok := v.(errCrash); !ok {
					panic(v)
				}
			}
		}()
		_, err = Run(rc.model(), rc.model(), rc.train, rc.test, cfg)
		return err
	}()
	if !stopped {
		t.Fatalf("the run never reached %+v (error %v)", st, err)
	}
	if !st.Kill && !errors.Is(err, train.ErrInterrupted) {
		t.Fatalf("stopped at %+v: error %v, want train.ErrInterrupted", st, err)
	}
	// The phase's checkpoint is at that step (a kill: the step before).
	f, err := modelfile.Read(cfg.Checkpoint + "." + st.Phase)
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		GlobalStep int `json:"global_step"`
	}
	if err := json.Unmarshal([]byte(f.Metadata[train.KeyCheckpoint]), &state); err != nil {
		t.Fatal(err)
	}
	if want := st.Step - b2i(st.Kill); state.GlobalStep != want {
		t.Fatalf("stopped at %+v: the checkpoint is at step %d, want %d", st, state.GlobalStep, want)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// tinyResNet is ResNet-20 on 3×8×8 inputs: batch norm (recalibrated
// before each evaluation), residual sites, blocked layouts, coefficient
// bounds, in well under a second per epoch.
func tinyResNet() *models.Model {
	m, err := models.NewSeeded("resnet20", 4, [3]int{3, 8, 8}, 3)
	if err != nil {
		panic(err)
	}
	return m
}

// TestAutoRePResumeExact interrupts an AutoReP run in the middle of its
// search, at the search's end and in the middle of its finetune; each
// resumed run must end bit-identical to the uninterrupted one: returned
// model, result and history, and every checkpoint file (weights, scores,
// masks, coefficients, DaPa statistics and step counters, coefficient
// ranges, batch-norm statistics, Adam/SGD state, run state).
func TestAutoRePResumeExact(t *testing.T) {
	// 200 images in batches of 32: 6 steps an epoch, so an epoch boundary
	// is not a DaPa refit boundary (every 10 steps).
	train, test := quadrantSet(200, 3, 8, 1), quadrantSet(64, 3, 8, 2)
	model := tinyResNet
	_, total := model().ReLUCount()
	// Augmentation (crop and flip, as the CLI's default for CIFAR) draws
	// its randomness per epoch and batch, so it must replay too.
	cfg := Config{Method: MethodAutoReP, Budget: total / 2, Epochs: 3, FinetuneEpochs: 2, Batch: 32,
		LR: 0.01, ScoreLR: 0.1, FinetuneLR: 0.01, Lambda: 20, Seed: 6, BNBatches: 4, Augment: true}
	// The search-done case needs a run whose first finetune epoch beats
	// the search (below). Whether a seed gives one depends on the last
	// bits of the float arithmetic, which differ between machines (seed 6
	// did on the machine of sessions 1-15, not on session 16's: 39.06%
	// against 40.62%), so the seed is the first from 6 that does here.
	cfg.Seed = finetuneBeatsSearchSeed(t, model, train, test, cfg)
	want := runResumeCase(t, resumeCase{name: "autorep", model: model, train: train, test: test, cfg: cfg,
		crashes: []crashLog{
			{name: "search", at: "search", epoch: 2, v1: true},
			// Search finished and checkpointed, finetune epoch 1 trained and
			// saved as the best snapshot (it beats the search), not yet
			// checkpointed.
			{name: "search-done", at: "finetune", epoch: 1},
			{name: "finetune", at: "finetune", epoch: 2},
		},
		// 6 steps an epoch; DaPa refits every 10 steps.
		stops: []midStops{
			{name: "mid-search", stops: []midStop{{Phase: "search", Step: 8}}},
			{name: "mid-search-twice", stops: []midStop{{Phase: "search", Step: 3}, {Phase: "search", Step: 4}}},
			{name: "mid-search-killed", stops: []midStop{{Phase: "search", Step: 11, Kill: true}}},
			// The first finetune epoch, whose start is the search's best.
			{name: "mid-finetune", stops: []midStop{{Phase: "finetune", Step: 2}, {Phase: "finetune", Step: 9, Kill: true}}},
		}})
	if err := finetuneBeatsSearch(want.res.History, cfg); err != nil {
		t.Fatalf("%v: the search-done case does not cover an overwritten best snapshot", err)
	}
	// The step counters in the search checkpoint count every search step:
	// DaPa's schedule resumes where it stopped.
	steps := float32(3 * 6)
	n := 0
	for name, v := range want.files["search"].Tensors {
		if strings.HasSuffix(name, ".dapa_steps") {
			n++
			if v.Data[0] != steps {
				t.Fatalf("%s = %v, want %v training steps", name, v.Data, steps)
			}
		}
	}
	if n != len(model().Sites) {
		t.Fatalf("%d sites with dapa_steps in the search checkpoint, want %d", n, len(model().Sites))
	}
}

// finetuneBeatsSearch reports why the history h of a 3 + 2-epoch run
// with cfg does not have its first finetune epoch scoring above every
// search epoch within the budget (nil when it does).
func finetuneBeatsSearch(h []EpochLog, cfg Config) error {
	if len(h) != 5 {
		return fmt.Errorf("history %+v, want 3 search + 2 finetune epochs", h)
	}
	var searchBest float64
	for _, e := range h[:3] {
		if e.ReLUs <= cfg.Budget {
			searchBest = max(searchBest, e.TestAcc)
		}
	}
	if !(h[3].TestAcc > searchBest) {
		return fmt.Errorf("finetune epoch 1 (%.2f%%) does not beat the search (%.2f%%)", h[3].TestAcc, searchBest)
	}
	return nil
}

// finetuneBeatsSearchSeed returns the first seed from cfg.Seed on whose
// uninterrupted run finetuneBeatsSearch holds (at most 20 tried).
func finetuneBeatsSearchSeed(t *testing.T, model func() *models.Model, train, test *data.Set, cfg Config) int64 {
	t.Helper()
	var why []string
	for s := cfg.Seed; s < cfg.Seed+20; s++ {
		c := cfg
		c.Seed, c.Checkpoint, c.Log = s, filepath.Join(t.TempDir(), "probe"), io.Discard
		res, err := Run(model(), model(), train, test, c)
		if err != nil {
			t.Fatal(err)
		}
		err = finetuneBeatsSearch(res.History, c)
		if err == nil {
			if s != cfg.Seed {
				t.Logf("seed %d (%s)", s, strings.Join(why, "; "))
			}
			return s
		}
		why = append(why, fmt.Sprintf("seed %d: %v", s, err))
	}
	t.Fatalf("no seed gives a first finetune epoch above the search: %s", strings.Join(why, "; "))
	return 0
}

// TestSNLResumeExact interrupts an SNL run in its L1 phase (after η has
// started to grow), between the binarisation and the first finetune
// checkpoint, and in its finetune; each resumed run must end bit-identical
// to the uninterrupted one (α, masks, weights, optimiser state, η schedule
// and history).
func TestSNLResumeExact(t *testing.T) {
	train, test := quadrantSet(200, 3, 8, 3), quadrantSet(64, 3, 8, 4)
	model := tinyResNet
	_, total := model().ReLUCount()
	cfg := Config{Method: MethodSNL, Budget: total / 3, Epochs: 7, FinetuneEpochs: 2, Batch: 32,
		LR: 0.02, FinetuneLR: 0.01, Eta0: 1e-4, Seed: 6, BNBatches: 4}
	want := runResumeCase(t, resumeCase{name: "snl", model: model, train: train, test: test, cfg: cfg,
		crashes: []crashLog{
			{name: "l1", at: "l1", epoch: 6, v1: true},
			{name: "binarised", line: "snl: binarised"}, // L1 finished and checkpointed, finetune not yet
			{name: "finetune", at: "finetune", epoch: 2},
		},
		stops: []midStops{
			{name: "mid-l1", stops: []midStop{{Phase: "l1", Step: 15}, {Phase: "l1", Step: 33, Kill: true}}},
			{name: "mid-finetune", stops: []midStop{{Phase: "finetune", Step: 4}}},
		}})
	var etas []float64
	for _, e := range want.res.History {
		if e.Phase == "l1" {
			etas = append(etas, e.Eta)
		}
	}
	t.Logf("η per L1 epoch: %v", etas)
	if len(etas) < 6 || etas[len(etas)-1] <= etas[0] {
		t.Fatalf("η %v: the L1 phase must run past epoch %d with η growing for the test to cover the schedule", etas, SNLEtaFromEp)
	}
}
