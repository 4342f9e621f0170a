package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/kernel"
	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/optim"
	"github.com/autorep/autorep/train"
)

func init() {
	register("train", "train a model from scratch (checkpoint every epoch, --resume)", runTrain)
}

// datasetShape returns the input shape and class count of a dataset.
var datasetShape = data.ShapeOf

// applyThreads applies --threads (0 = all cores) to Go and the kernels.
func applyThreads(n int) error {
	if n < 0 {
		return fmt.Errorf("--threads must be >= 0, got %d", n)
	}
	if n == 0 {
		n = runtime.NumCPU()
	}
	runtime.GOMAXPROCS(n)
	kernel.SetThreads(n)
	return nil
}

func runTrain(args []string) error {
	fs := newFlags("train", "--model ARCH --dataset D --epochs N --out FILE [flags]",
		"Trains a model from scratch with SGD (Nesterov momentum 0.9, weight decay 5e-4) or Adam,\n"+
			"a per-step cosine learning-rate schedule with linear warm-up, and per-dataset defaults:\n"+
			"1-channel sets (MNIST, Fashion-MNIST) batch 32, lr 0.03, no warm-up, no augmentation;\n"+
			"colour sets batch 128, lr 0.1, one warm-up epoch, random crop (pad 4) + flip.\n"+
			"A checkpoint OUT.ckpt is written after every epoch; --resume continues from it.")
	arch := fs.String("model", "", "architecture: "+strings.Join(models.Names(), ", "))
	dataset := fs.String("dataset", "", "dataset: "+strings.Join(data.Names(), ", ")+" or folder:PATH")
	dataDir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	epochs := fs.Int("epochs", 0, "number of epochs (required)")
	out := fs.String("out", "", "output model file (.safetensors; required)")
	batch := fs.Int("batch", 0, "batch size (default 32 on 1-channel data, 128 otherwise)")
	lr := fs.Float64("lr", 0, "peak learning rate (default 0.03 SGD on 1-channel data, 0.1 SGD otherwise, 1e-3 Adam)")
	opt := fs.String("opt", "sgd", "optimiser: sgd, adam or adamw")
	momentum := fs.Float64("momentum", 0.9, "SGD momentum")
	nesterov := fs.Bool("nesterov", true, "Nesterov momentum (SGD)")
	wd := fs.Float64("wd", 5e-4, "weight decay")
	noBNDecay := fs.Bool("no-bn-decay", false, "no weight decay on biases and batch-norm parameters")
	warmupFlag := fs.String("warmup", "auto", "linear warm-up epochs: a number, or auto (1 on colour data, 0 otherwise)")
	minLR := fs.Float64("min-lr", 0, "final learning rate of the cosine schedule")
	smoothing := fs.Float64("label-smoothing", 0, "label smoothing of the cross-entropy")
	augment := fs.String("augment", "auto", "random crop (pad 4) + flip: auto (colour data only), on or off")
	seed := fs.Int64("seed", 1, "random seed (initialisation, shuffling, augmentation)")
	threads := fs.Int("threads", 0, "compute threads (0 = all cores)")
	limit := fs.Int("limit", 0, "train on N training images only, a random subset fixed by --seed (0 = all)")
	testLimit := fs.Int("test-limit", 0, "evaluate on N test images only, a random subset fixed by --seed (0 = all)")
	resume := fs.Bool("resume", false, "continue from OUT.ckpt, written after every completed epoch")
	keepCkpt := fs.Bool("keep-checkpoint", false, "keep OUT.ckpt after training finished (it is removed by default)")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := parseAugment(*augment, false); err != nil {
		return err // before any data is loaded
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case *arch == "":
		return errors.New("--model is required (one of " + strings.Join(models.Names(), ", ") + ")")
	case *dataset == "":
		return errors.New("--dataset is required")
	case *epochs <= 0:
		return errors.New("--epochs must be a positive number")
	case *out == "":
		return errors.New("--out is required")
	case *batch < 0:
		return errors.New("--batch must be positive")
	case *smoothing < 0 || *smoothing >= 1:
		return errors.New("--label-smoothing must be in [0, 1)")
	}
	if err := applyThreads(*threads); err != nil {
		return err
	}
	// Create the output directory now rather than fail at the first checkpoint.
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	dir := data.Dir(*dataDir)
	trainSet, err := data.Load(dir, *dataset, true)
	if err != nil {
		return err
	}
	testSet, err := data.Load(dir, *dataset, false)
	if err != nil {
		return err
	}
	if trainSet, err = sampleSet(trainSet, *limit, *seed); err != nil {
		return err
	}
	if testSet, err = sampleSet(testSet, *testLimit, *seed); err != nil {
		return err
	}
	colour := trainSet.DefaultAugment()
	aug, err := parseAugment(*augment, colour)
	if err != nil {
		return err
	}
	if *lr == 0 {
		switch {
		case *opt != "sgd":
			*lr = 1e-3
		case colour:
			*lr = 0.1
		default:
			*lr = 0.03
		}
	}
	if *batch == 0 {
		*batch = 32
		if colour {
			*batch = 128
		}
	}
	warmup := 0.0
	if *warmupFlag == "auto" {
		if colour {
			warmup = 1
		}
	} else if warmup, err = strconv.ParseFloat(*warmupFlag, 64); err != nil || warmup < 0 {
		return fmt.Errorf("--warmup must be auto or a non-negative number of epochs, got %q", *warmupFlag)
	}
	m, err := models.NewSeeded(*arch, trainSet.Classes, [3]int{trainSet.C, trainSet.H, trainSet.W}, *seed)
	if err != nil {
		return err
	}
	m.Meta.Dataset = *dataset
	m.Meta.Mean = append([]float32(nil), trainSet.Mean...)
	m.Meta.Std = append([]float32(nil), trainSet.Std...)
	loader := data.NewLoader(trainSet, data.LoaderConfig{Batch: *batch, Shuffle: true, Seed: *seed, Augment: aug, DropLast: trainSet.N > *batch})
	optimizer, sched, err := optim.Build(optim.ParamsOf(m.Net), optim.Settings{Name: *opt, LR: *lr, MinLR: *minLR, Momentum: *momentum,
		Nesterov: *nesterov, WeightDecay: *wd, NoBNDecay: *noBNDecay, WarmupEpochs: warmup, Epochs: *epochs}, loader.Len())
	if err != nil {
		return err
	}
	runConfig := map[string]any{"arch": *arch, "batch": *batch, "opt": *opt, "lr": *lr, "momentum": *momentum,
		"nesterov": *nesterov, "wd": *wd, "no_bn_decay": *noBNDecay, "warmup_epochs": warmup, "min_lr": *minLR,
		"label_smoothing": *smoothing, "augment": aug, "seed": *seed, "limit": *limit, "dataset": *dataset}
	tr := &train.Trainer{
		Model: m, Opt: optimizer, Schedule: sched, Train: loader, Test: testSet, Epochs: *epochs,
		LabelSmoothing: float32(*smoothing), Checkpoint: *out + ".ckpt",
		Progress: os.Stderr, Log: os.Stderr,
	}
	tr.State = map[string]train.Stateful{"config": &configState{cfg: runConfig}}
	if *resume {
		if err := tr.Resume(tr.Checkpoint); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "resuming %s after epoch %d of %d\n", tr.Checkpoint, tr.Epoch(), *epochs)
	} else if _, err := os.Stat(tr.Checkpoint); err == nil {
		fmt.Fprintf(os.Stderr, "note: %s exists and will be overwritten; pass --resume to continue that run instead\n", tr.Checkpoint)
	}
	fmt.Fprintf(os.Stderr, "train %s on %s (%s): %d images (%d test), batch %d, %s lr %g wd %g warm-up %g epochs, augment %v, %d threads\n",
		*arch, *dataset, trainSet.Source, trainSet.N, testSet.N, *batch, *opt, *lr, *wd, warmup, aug, runtime.GOMAXPROCS(0))
	start := time.Now()
	if err := tr.Run(); err != nil {
		return err
	}
	rec := tr.Record()
	rec.Command = "autorep train " + strings.Join(args, " ")
	rec.Dataset, rec.Source = *dataset, trainSet.Source
	rec.Config = runConfig
	if err := m.Meta.SetJSON(modelfile.KeyTrain, rec); err != nil {
		return err
	}
	if err := m.Save(*out); err != nil {
		return err
	}
	if !*keepCkpt {
		if err := os.Remove(tr.Checkpoint); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "warning: removing checkpoint: %v\n", err)
		}
	}
	_, relus := m.ReLUCount()
	last := tr.History[len(tr.History)-1]
	fmt.Fprintf(os.Stderr, "saved %s: test accuracy %.2f%% after %d epochs, %d ReLUs, %.0fs (this session %.0fs)\n",
		*out, 100*last.TestAcc, tr.Epoch(), relus, rec.Seconds, time.Since(start).Seconds())
	if *jsonOut {
		return printJSONObject(map[string]any{
			"model": *out, "arch": *arch, "dataset": *dataset, "source": rec.Source, "epochs": tr.Epoch(),
			"test_acc": last.TestAcc, "test_loss": last.TestLoss, "relus": relus,
			"seconds": rec.Seconds, "history": tr.History,
		})
	}
	return nil
}

// printJSONObject writes v as one JSON object on stdout.
func printJSONObject(v any) error {
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(v)
}

// configState stores a run's settings in its checkpoint so that --resume
// with different settings (which would not continue the same run) is
// refused.
type configState struct{ cfg map[string]any }

// SaveState implements train.Stateful.
func (c *configState) SaveState() (json.RawMessage, error) { return json.Marshal(c.cfg) }

// LoadState implements train.Stateful: it compares the saved settings
// with this run's.
func (c *configState) LoadState(raw json.RawMessage) error {
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
	var diffs []string
	for k, v := range now {
		if fmt.Sprint(saved[k]) != fmt.Sprint(v) {
			diffs = append(diffs, fmt.Sprintf("%s was %v, now %v", k, saved[k], v))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		return fmt.Errorf("the checkpoint was made with other settings (%s); resume with the same flags", strings.Join(diffs, "; "))
	}
	return nil
}

// sampleSet returns n images of s chosen at random (data.Set.Sample,
// fixed by seed), or s itself when n is 0 or at least s.N. A random
// subset rather than the first n matters for ImageFolder sets, which are
// stored class by class.
func sampleSet(s *data.Set, n int, seed int64) (*data.Set, error) {
	if n < 0 {
		return nil, fmt.Errorf("subset size must be >= 0, got %d", n)
	}
	if n == 0 || n >= s.N {
		return s, nil
	}
	return s.Sample(n, seed), nil
}
