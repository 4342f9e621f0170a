package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/optim"
)

// Scratch is a from-scratch training run of a built-in architecture on a
// dataset, as `autorep train` runs it: SGD (or Adam) with a per-step
// cosine schedule and linear warm-up, per-dataset defaults, a checkpoint
// Out+".ckpt" after every epoch and every CheckpointEvery within one
// (Resume continues from it and refuses other settings), and the model file Out with the run's record (modelfile.KeyTrain).
// NewScratch gives the command's defaults.
type Scratch struct {
	Arch, Dataset string
	// DataDir is the data directory (data.Dir resolves the usual default).
	DataDir string
	Epochs  int
	Out     string
	// Opt is "sgd", "adam" or "adamw".
	Opt string
	// LR is the peak rate; 0 = 0.03 for SGD on 1-channel data, 0.1 for SGD
	// otherwise, 1e-3 for Adam.
	LR float64
	// Batch is the batch size; 0 = 32 on 1-channel data, 128 otherwise.
	Batch       int
	Momentum    float64
	Nesterov    bool
	WeightDecay float64
	NoBNDecay   bool
	// Warmup is the linear warm-up in epochs; negative = 1 on colour data,
	// 0 otherwise.
	Warmup         float64
	MinLR          float64
	LabelSmoothing float64
	// Augment sets random crop (pad 4) + flip; nil = on for colour data.
	Augment *bool
	Seed    int64
	// Limit and TestLimit train and evaluate on a random subset of that many
	// images, fixed by Seed (data.Set.Sample); 0 = all.
	Limit, TestLimit int
	Resume           bool
	// CheckpointEvery also writes the checkpoint within an epoch once this
	// much wall time has passed since the last one (0 = epoch ends only);
	// Interrupt, if set, stops the run at a step boundary with a
	// checkpoint (see Trainer).
	CheckpointEvery time.Duration
	Interrupt       func(step int) bool
	// KeepCheckpoint keeps Out+".ckpt" after the run (removed by default).
	KeepCheckpoint bool
	// Command is recorded in the model file.
	Command string
	// Progress receives the progress bars, Log the run's messages (nil for
	// none).
	Progress, Log io.Writer
}

// NewScratch returns the run `autorep train --model arch --dataset dataset
// --epochs epochs --out out` makes without other flags.
func NewScratch(arch, dataset string, epochs int, out string) Scratch {
	return Scratch{Arch: arch, Dataset: dataset, Epochs: epochs, Out: out, Opt: "sgd",
		Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4, Warmup: -1, Seed: 1}
}

// ScratchResult is the outcome of Scratch.Run.
type ScratchResult struct {
	// Model is the trained model, saved to Out.
	Model *models.Model
	// Record is what the model file stores under modelfile.KeyTrain.
	Record Record
	// Source is where the training set was read from.
	Source string
	// Epochs is the number of completed epochs, Last the final one.
	Epochs int
	Last   EpochStats
	// ReLUs is the model's ReLU count per image.
	ReLUs int
}

// validate checks the settings before any data is loaded.
func (s *Scratch) validate() error {
	switch {
	case s.Arch == "":
		return errors.New("no architecture")
	case s.Dataset == "":
		return errors.New("no dataset")
	case s.Out == "":
		return errors.New("no output file")
	case s.Epochs <= 0:
		return fmt.Errorf("epochs must be positive, got %d", s.Epochs)
	case s.Batch < 0:
		return fmt.Errorf("batch size must be positive, got %d", s.Batch)
	case s.LabelSmoothing < 0 || s.LabelSmoothing >= 1:
		return fmt.Errorf("label smoothing must be in [0, 1), got %g", s.LabelSmoothing)
	case s.Limit < 0 || s.TestLimit < 0:
		return fmt.Errorf("subset sizes must be >= 0, got %d and %d", s.Limit, s.TestLimit)
	}
	return nil
}

// Run trains, saves Out and returns the result.
func (s Scratch) Run() (*ScratchResult, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	log := s.Log
	if log == nil {
		log = io.Discard
	}
	// Create the output directory now rather than fail at the first checkpoint.
	if err := os.MkdirAll(filepath.Dir(s.Out), 0o755); err != nil {
		return nil, err
	}
	dir := data.Dir(s.DataDir)
	trainSet, err := data.Load(dir, s.Dataset, true)
	if err != nil {
		return nil, err
	}
	testSet, err := data.Load(dir, s.Dataset, false)
	if err != nil {
		return nil, err
	}
	trainSet, testSet = sample(trainSet, s.Limit, s.Seed), sample(testSet, s.TestLimit, s.Seed)
	colour := trainSet.DefaultAugment()
	aug := colour
	if s.Augment != nil {
		aug = *s.Augment
	}
	if s.LR == 0 {
		switch {
		case s.Opt != "sgd":
			s.LR = 1e-3
		case colour:
			s.LR = 0.1
		default:
			s.LR = 0.03
		}
	}
	if s.Batch == 0 {
		s.Batch = 32
		if colour {
			s.Batch = 128
		}
	}
	if s.Warmup < 0 {
		s.Warmup = 0
		if colour {
			s.Warmup = 1
		}
	}
	m, err := models.NewSeeded(s.Arch, trainSet.Classes, trainSet.Shape(), s.Seed)
	if err != nil {
		return nil, err
	}
	m.Meta.Dataset = s.Dataset
	m.Meta.Mean = append([]float32(nil), trainSet.Mean...)
	m.Meta.Std = append([]float32(nil), trainSet.Std...)
	loader := data.NewLoader(trainSet, data.LoaderConfig{Batch: s.Batch, Shuffle: true, Seed: s.Seed, Augment: aug, DropLast: trainSet.N > s.Batch})
	opt, sched, err := optim.Build(optim.ParamsOf(m.Net), optim.Settings{Name: s.Opt, LR: s.LR, MinLR: s.MinLR, Momentum: s.Momentum,
		Nesterov: s.Nesterov, WeightDecay: s.WeightDecay, NoBNDecay: s.NoBNDecay, WarmupEpochs: s.Warmup, Epochs: s.Epochs}, loader.Len())
	if err != nil {
		return nil, err
	}
	runConfig := map[string]any{"arch": s.Arch, "batch": s.Batch, "opt": s.Opt, "lr": s.LR, "momentum": s.Momentum,
		"nesterov": s.Nesterov, "wd": s.WeightDecay, "no_bn_decay": s.NoBNDecay, "warmup_epochs": s.Warmup, "min_lr": s.MinLR,
		"label_smoothing": s.LabelSmoothing, "augment": aug, "seed": s.Seed, "limit": s.Limit, "dataset": s.Dataset}
	tr := &Trainer{
		Model: m, Opt: opt, Schedule: sched, Train: loader, Test: testSet, Epochs: s.Epochs,
		LabelSmoothing: float32(s.LabelSmoothing), Checkpoint: s.Out + ".ckpt",
		CheckpointEvery: s.CheckpointEvery, Interrupt: s.Interrupt,
		Progress: s.Progress, Log: s.Log,
	}
	tr.State = map[string]Stateful{"config": &settingsState{cfg: runConfig}}
	if s.Resume {
		if err := tr.Resume(tr.Checkpoint); err != nil {
			return nil, err
		}
		if e, b := tr.Position(); b > 0 {
			fmt.Fprintf(log, "resuming %s in epoch %d of %d after batch %d of %d\n", tr.Checkpoint, e+1, s.Epochs, b, loader.Len())
		} else {
			fmt.Fprintf(log, "resuming %s after epoch %d of %d\n", tr.Checkpoint, e, s.Epochs)
		}
	} else if _, err := os.Stat(tr.Checkpoint); err == nil {
		fmt.Fprintf(log, "note: %s exists and will be overwritten; pass --resume to continue that run instead\n", tr.Checkpoint)
	}
	fmt.Fprintf(log, "train %s on %s (%s): %d images (%d test), batch %d, %s lr %g wd %g warm-up %g epochs, augment %v, %d threads\n",
		s.Arch, s.Dataset, trainSet.Source, trainSet.N, testSet.N, s.Batch, s.Opt, s.LR, s.WeightDecay, s.Warmup, aug, runtime.GOMAXPROCS(0))
	start := time.Now()
	if err := tr.Run(); err != nil {
		return nil, err
	}
	rec := tr.Record()
	rec.Command = s.Command
	rec.Dataset, rec.Source = s.Dataset, trainSet.Source
	rec.Config = runConfig
	if err := m.Meta.SetJSON(modelfile.KeyTrain, rec); err != nil {
		return nil, err
	}
	if err := m.Save(s.Out); err != nil {
		return nil, err
	}
	if !s.KeepCheckpoint {
		if err := os.Remove(tr.Checkpoint); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(log, "warning: removing checkpoint: %v\n", err)
		}
	}
	_, relus := m.ReLUCount()
	res := &ScratchResult{Model: m, Record: rec, Source: trainSet.Source, Epochs: tr.Epoch(), Last: tr.History[len(tr.History)-1], ReLUs: relus}
	fmt.Fprintf(log, "saved %s: test accuracy %.2f%% after %d epochs, %d ReLUs, %.0fs (this session %.0fs)\n",
		s.Out, 100*res.Last.TestAcc, res.Epochs, relus, rec.Seconds, time.Since(start).Seconds())
	return res, nil
}

// sample returns n images of s chosen at random (fixed by seed), or s
// itself when n is 0 or at least s.N. A random subset rather than the
// first n matters for ImageFolder sets, which are stored class by class.
func sample(s *data.Set, n int, seed int64) *data.Set {
	if n == 0 || n >= s.N {
		return s
	}
	return s.Sample(n, seed)
}

// settingsState stores a run's settings in its checkpoint so that a resume
// with different settings (which would not continue the same run) is
// refused.
type settingsState struct{ cfg map[string]any }

// SaveState implements Stateful.
func (c *settingsState) SaveState() (json.RawMessage, error) { return json.Marshal(c.cfg) }

// LoadState implements Stateful: it compares the saved settings with this
// run's.
func (c *settingsState) LoadState(raw json.RawMessage) error {
	var saved map[string]any
	if err := json.Unmarshal(raw, &saved); err != nil {
		return err
	}
	cur, err := json.Marshal(c.cfg)
	if err != nil {
		return err
	}
	var now map[string]any
	if err := json.Unmarshal(cur, &now); err != nil {
		return err
	}
	return CheckSettings(saved, now)
}

// CheckSettings compares the settings a run asks for (now) with those its
// checkpoint recorded (saved), values as fmt.Sprint prints them, and
// returns an error naming every difference (a key on one side only
// included), or nil: a resume with other settings would not continue the
// same run.
func CheckSettings[S, N any](saved map[string]S, now map[string]N) error {
	var diffs []string
	show := func(v any, ok bool) string {
		if !ok {
			return "unset"
		}
		return fmt.Sprint(v)
	}
	for k, v := range now {
		w, ok := saved[k]
		if !ok || fmt.Sprint(w) != fmt.Sprint(v) {
			diffs = append(diffs, fmt.Sprintf("%s was %s, now %s", k, show(w, ok), show(v, true)))
		}
	}
	for k, w := range saved {
		if _, ok := now[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s was %s, now unset", k, show(w, true)))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	sort.Strings(diffs)
	return fmt.Errorf("the checkpoint was made with other settings (%s); resume with the same flags", strings.Join(diffs, "; "))
}
