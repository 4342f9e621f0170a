package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/train"
)

func init() {
	register("eval", "evaluate a model file on a dataset's test split (accuracy, loss, ReLUs)", runEval)
}

func runEval(args []string) error {
	fs := newFlags("eval", "--model FILE [--dataset D] [flags]",
		"Evaluates a model file (plaintext, with its PolyMasks) on the test split of a dataset\n"+
			"and prints top-1 accuracy, mean cross-entropy and the ReLU count per image.")
	path := fs.String("model", "", "model file (.safetensors; required)")
	dataset := fs.String("dataset", "", "dataset (default: the one recorded in the model file)")
	dataDir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	n := fs.Int("n", 0, "evaluate N images only, a fixed random subset (seed 1) (0 = all)")
	batch := fs.Int("batch", 256, "batch size")
	threads := fs.Int("threads", 0, "compute threads (0 = all cores)")
	train_ := fs.Bool("train-split", false, "evaluate on the training split instead")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *path == "" {
		return errors.New("--model FILE is required")
	}
	if *n < 0 || *batch <= 0 {
		return errors.New("--n must be >= 0 and --batch positive")
	}
	if err := applyThreads(*threads); err != nil {
		return err
	}
	m, err := models.Load(*path)
	if err != nil {
		return err
	}
	name := *dataset
	if name == "" {
		name = m.Meta.Dataset
	}
	if name == "" {
		return fmt.Errorf("%s records no dataset; pass --dataset", *path)
	}
	set, err := data.Load(data.Dir(*dataDir), name, *train_)
	if err != nil {
		return err
	}
	if in := [3]int{set.C, set.H, set.W}; in != m.Input || set.Classes != m.Classes {
		return fmt.Errorf("%s expects %v inputs and %d classes; dataset %s has %v and %d", *path, m.Input, m.Classes, name, in, set.Classes)
	}
	if set, err = sampleSet(set, *n, 1); err != nil {
		return err
	}
	start := time.Now()
	res, err := train.Evaluate(m, set, train.EvalOptions{Batch: *batch, Progress: os.Stderr})
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	_, relus := m.ReLUCount()
	split := "test"
	if *train_ {
		split = "train"
	}
	fmt.Fprintf(os.Stderr, "%s on %s (%s, %d images): accuracy %.2f%%, loss %.4f, %d ReLUs, %.1fs\n",
		*path, name, split, res.N, 100*res.Accuracy, res.Loss, relus, secs)
	if *jsonOut {
		return printJSONObject(map[string]any{
			"model": *path, "arch": m.Arch, "dataset": name, "split": split, "n": res.N,
			"correct": res.Correct, "accuracy": res.Accuracy, "loss": res.Loss, "relus": relus, "seconds": secs,
		})
	}
	return nil
}
