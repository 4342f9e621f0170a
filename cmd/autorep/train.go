package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/kernel"
	"github.com/autorep/autorep/models"
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
	sc, threads, jsonOut, err := trainFlags(args)
	if err != nil {
		return err
	}
	if err := applyThreads(threads); err != nil {
		return err
	}
	asked, stop := train.StopOnSignal("train", os.Stderr)
	defer stop()
	sc.Interrupt = func(int) bool { return asked() }
	res, err := sc.Run()
	if err != nil {
		return train.ResumeHint(err)
	}
	if jsonOut {
		return printJSONObject(map[string]any{
			"model": sc.Out, "arch": sc.Arch, "dataset": sc.Dataset, "source": res.Source, "epochs": res.Epochs,
			"test_acc": res.Last.TestAcc, "test_loss": res.Last.TestLoss, "relus": res.ReLUs,
			"seconds": res.Record.Seconds, "history": res.Record.History,
		})
	}
	return nil
}

// trainFlags parses train's flags into the run (logging to stderr), the
// --threads value and --json.
func trainFlags(args []string) (sc train.Scratch, threads int, jsonOut bool, err error) {
	def := train.NewScratch("", "", 0, "")
	fs := newFlags("train", "--model ARCH --dataset D --epochs N --out FILE [flags]",
		"Trains a model from scratch with SGD (Nesterov momentum 0.9, weight decay 5e-4) or Adam,\n"+
			"a per-step cosine learning-rate schedule with linear warm-up, and per-dataset defaults:\n"+
			"1-channel sets (MNIST, Fashion-MNIST) batch 32, lr 0.03, no warm-up, no augmentation;\n"+
			"colour sets batch 128, lr 0.1, one warm-up epoch, random crop (pad 4) + flip.\n"+
			"A checkpoint OUT.ckpt is written after every epoch and every --checkpoint-every within\n"+
			"one (SIGINT/SIGTERM write it at the next step and exit); --resume continues from it.")
	arch := fs.String("model", "", "architecture: "+strings.Join(models.Names(), ", "))
	dataset := fs.String("dataset", "", "dataset: "+strings.Join(data.Names(), ", ")+" or folder:PATH")
	dataDir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	epochs := fs.Int("epochs", 0, "number of epochs (required)")
	out := fs.String("out", "", "output model file (.safetensors; required)")
	batch := fs.Int("batch", 0, "batch size (default 32 on 1-channel data, 128 otherwise)")
	lr := fs.Float64("lr", 0, "peak learning rate (default 0.03 SGD on 1-channel data, 0.1 SGD otherwise, 1e-3 Adam)")
	opt := fs.String("opt", def.Opt, "optimiser: sgd, adam or adamw")
	momentum := fs.Float64("momentum", def.Momentum, "SGD momentum")
	nesterov := fs.Bool("nesterov", def.Nesterov, "Nesterov momentum (SGD)")
	wd := fs.Float64("wd", def.WeightDecay, "weight decay")
	noBNDecay := fs.Bool("no-bn-decay", false, "no weight decay on biases and batch-norm parameters")
	warmupFlag := fs.String("warmup", "auto", "linear warm-up epochs: a number, or auto (1 on colour data, 0 otherwise)")
	minLR := fs.Float64("min-lr", 0, "final learning rate of the cosine schedule")
	smoothing := fs.Float64("label-smoothing", 0, "label smoothing of the cross-entropy")
	augment := fs.String("augment", "auto", "random crop (pad 4) + flip: auto (colour data only), on or off")
	seed := fs.Int64("seed", def.Seed, "random seed (initialisation, shuffling, augmentation)")
	fs.IntVar(&threads, "threads", 0, "compute threads (0 = all cores)")
	limit := fs.Int("limit", 0, "train on N training images only, a random subset fixed by --seed (0 = all)")
	testLimit := fs.Int("test-limit", 0, "evaluate on N test images only, a random subset fixed by --seed (0 = all)")
	resume := fs.Bool("resume", false, "continue from OUT.ckpt (written after every epoch and within epochs)")
	every := fs.Duration("checkpoint-every", train.DefaultCheckpointEvery, "also write the checkpoint within an epoch after this much wall time (0 = at epoch ends only)")
	keepCkpt := fs.Bool("keep-checkpoint", false, "keep OUT.ckpt after training finished (it is removed by default)")
	fs.BoolVar(&jsonOut, "json", false, "print the result as one JSON object on stdout")
	fail := func(e error) (train.Scratch, int, bool, error) { return train.Scratch{}, 0, false, e }
	if err := fs.Parse(args); err != nil {
		return fail(err)
	}
	aug, err := augmentFlag(*augment)
	if err != nil {
		return fail(err) // before any data is loaded
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	switch {
	case *arch == "":
		return fail(errors.New("--model is required (one of " + strings.Join(models.Names(), ", ") + ")"))
	case *dataset == "":
		return fail(errors.New("--dataset is required"))
	case *epochs <= 0:
		return fail(errors.New("--epochs must be a positive number"))
	case *out == "":
		return fail(errors.New("--out is required"))
	}
	if *every < 0 {
		return fail(fmt.Errorf("--checkpoint-every %v is negative", *every))
	}
	warmup := -1.0 // auto
	if *warmupFlag != "auto" {
		if warmup, err = strconv.ParseFloat(*warmupFlag, 64); err != nil || warmup < 0 {
			return fail(fmt.Errorf("--warmup must be auto or a non-negative number of epochs, got %q", *warmupFlag))
		}
	}
	sc = train.Scratch{Arch: *arch, Dataset: *dataset, DataDir: *dataDir, Epochs: *epochs, Out: *out,
		Opt: *opt, LR: *lr, Batch: *batch, Momentum: *momentum, Nesterov: *nesterov, WeightDecay: *wd, NoBNDecay: *noBNDecay,
		Warmup: warmup, MinLR: *minLR, LabelSmoothing: *smoothing, Augment: aug, Seed: *seed, Limit: *limit, TestLimit: *testLimit,
		Resume: *resume, CheckpointEvery: *every, KeepCheckpoint: *keepCkpt, Command: "autorep train " + strings.Join(args, " "),
		Progress: os.Stderr, Log: os.Stderr}
	return sc, threads, jsonOut, nil
}

// printJSONObject writes v as one JSON object on stdout.
func printJSONObject(v any) error {
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(v)
}
