package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/serve"
	"github.com/autorep/autorep/train"
)

func init() {
	register("eval", "evaluate a model file on a dataset's test split (accuracy, loss, ReLUs)", runEval)
}

const evalSummary = `Evaluates a model file (plaintext, with its PolyMasks) on the test split of a dataset
and prints top-1 accuracy, mean cross-entropy and the ReLU count per image.
--index I --count N [--stride S] evaluates the test images I, I+S, ... (N of
them), the same images 'autorep infer' classifies with those flags;
--predictions adds each image's predicted label (and with --fixed-point the
label of the fixed-point executor that private inference reproduces), so the
model owner can check a client's private labels.`

func runEval(args []string) error {
	fs := newFlags("eval", "--model FILE [--dataset D] [flags]", evalSummary)
	path := fs.String("model", "", "model file (.safetensors; required)")
	dataset := fs.String("dataset", "", "dataset (default: the one recorded in the model file)")
	dataDir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	n := fs.Int("n", 0, "evaluate N images only, a fixed random subset (seed 1) (0 = all)")
	index := fs.Int("index", 0, "with --count: first image evaluated (instead of --n)")
	count := fs.Int("count", 0, "with --index: number of images")
	stride := fs.Int("stride", 1, "with --index: step between the images")
	preds := fs.Bool("predictions", false, "report every image's predicted label (JSON: predictions; else on stderr)")
	fixed := fs.Bool("fixed-point", false, "with --predictions: also the fixed-point executor's label (pi, default --frac/--ell), as private inference computes it")
	frac := fs.Uint("frac", 0, "with --fixed-point: fractional bits, as serve --frac (0: 16)")
	ell := fs.Int("ell", 0, "with --fixed-point: bit width of FSS gate inputs, as serve --ell (0: 64)")
	suite := fs.String("suite", "dealer", "with --fixed-point: the suite whose polynomial form to compute, as serve --suite (dealer or twoparty)")
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
	ranged := *count != 0
	fs.Visit(func(f *flag.Flag) { ranged = ranged || f.Name == "index" || f.Name == "stride" })
	images := train.EvalSet{Model: *path, Dataset: *dataset, DataDir: *dataDir, Train: *train_, N: *n,
		Ranged: ranged, Index: *index, Count: *count, Stride: *stride}
	if err := images.Check(); err != nil {
		return err
	}
	if ranged && *n != 0 {
		return errors.New("give either --n or --index/--count, not both")
	}
	if *fixed && !*preds {
		return errors.New("--fixed-point needs --predictions")
	}
	if err := pi.ValidSuite(*suite); err != nil {
		return err
	}
	if *preds && *n != 0 {
		return errors.New("--predictions takes --index/--count (or the whole split), not --n")
	}
	if err := applyThreads(*threads); err != nil {
		return err
	}
	m, name, set, idx, err := images.Load()
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := train.Evaluate(m, set, train.EvalOptions{Batch: *batch, Progress: os.Stderr})
	if err != nil {
		return err
	}
	var predictions []serve.Prediction
	fixedAgree := 0
	if *preds {
		var fixedCfg *pi.Config
		if *fixed {
			cfg, err := pi.Config{FracBits: *frac, Ell: *ell}.ForSuite(*suite, "")
			if err != nil {
				return err
			}
			fixedCfg = &cfg
		}
		if predictions, err = serve.Predict(m, set, idx, *batch, fixedCfg); err != nil {
			return err
		}
		for _, p := range predictions {
			if p.FixedLabel != nil && *p.FixedLabel == p.Label {
				fixedAgree++
			}
		}
	}
	secs := time.Since(start).Seconds()
	_, relus := m.ReLUCount()
	split := "test"
	if *train_ {
		split = "train"
	}
	fmt.Fprintf(os.Stderr, "%s on %s (%s, %s, %d images): accuracy %.2f%%, loss %.4f, %d ReLUs, %.1fs\n",
		*path, name, set.Source, split, res.N, 100*res.Accuracy, res.Loss, relus, secs)
	if *preds && !*jsonOut {
		for _, p := range predictions {
			fmt.Fprintf(os.Stderr, "image %d: label %d (true %d)", p.Index, p.Label, p.TrueLabel)
			if p.FixedLabel != nil {
				fmt.Fprintf(os.Stderr, ", fixed point %d", *p.FixedLabel)
			}
			fmt.Fprintln(os.Stderr)
		}
	}
	if *fixed {
		fmt.Fprintf(os.Stderr, "fixed-point labels equal to float labels: %d of %d (%.2f%%)\n", fixedAgree, len(predictions), 100*float64(fixedAgree)/float64(len(predictions)))
	}
	if *jsonOut {
		out := map[string]any{
			"model": *path, "arch": m.Arch, "dataset": name, "source": set.Source, "split": split, "n": res.N,
			"correct": res.Correct, "accuracy": res.Accuracy, "loss": res.Loss, "relus": relus, "seconds": secs,
		}
		if *preds {
			out["predictions"] = predictions
		}
		if *fixed {
			out["fixed_agreement"] = float64(fixedAgree) / float64(len(predictions))
		}
		return printJSONObject(out)
	}
	return nil
}
