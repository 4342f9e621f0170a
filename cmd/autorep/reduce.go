package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/autorep/autorep/reduce"
	"github.com/autorep/autorep/train"
)

func init() {
	register("reduce", "replace ReLUs by polynomials under a ReLU budget (AutoReP or SNL)", runReduce)
}

const reduceSummary = `Reduce the ReLUs of a trained model to a budget with AutoReP (learned
per-element masks, hysteresis, DaPa polynomials, budget loss, distillation
from the input model) or the SNL baseline (L1-relaxed masks, identity
replacements). The output model file carries the masks and polynomial
coefficients ("<site>.mask", "<site>.poly") and a reduction record, so
'autorep eval', 'relus', 'serve' and 'plot' use them. A checkpoint is written
after every epoch and every --checkpoint-every within one
(OUT.ckpt.search|l1|finetune, best snapshot OUT.ckpt.best); SIGINT/SIGTERM
write it at the next step boundary and exit; --resume continues from it,
mid-epoch or not, to the result of an uninterrupted run (with the run's
own flags: another learning rate is refused; more --finetune-epochs
continue a finished run, and the log says so).

--budget is a ReLU count per image: 12900, 12.9k, 1.2M, or a percentage of
the model's ReLUs (5%). --cost FILE (a site-cost file as 'bench pi --cost-out' writes it, or the
older JSON {"site name": cost per ReLU, ...}) weights each site's ReLUs in
the budget loss by its measured cost.`

func runReduce(args []string) error {
	run, jsonOut, err := reduceFlags(args)
	if err != nil {
		return err
	}
	asked, stop := train.StopOnSignal("reduce", os.Stderr)
	defer stop()
	run.Config.Interrupt = func(string, int) bool { return asked() }
	rec, err := run.Run()
	if err != nil {
		return train.ResumeHint(err)
	}
	if jsonOut {
		// The record stored in the model file, and where it went.
		return json.NewEncoder(os.Stdout).Encode(struct {
			Out string `json:"out"`
			*reduce.Record
		}{run.Out, rec})
	}
	return nil
}

// reduceFlags parses reduce's flags into the run (logging to stderr) and
// --json.
func reduceFlags(args []string) (run reduce.FileRun, jsonOut bool, err error) {
	fs := newFlags("reduce", "--model FILE --method autorep|snl --budget B --epochs N --out FILE", reduceSummary)
	modelPath := fs.String("model", "", "input model file (trained, all ReLU)")
	method := fs.String("method", reduce.MethodAutoReP, "reduction method: autorep or snl")
	budgetFlag := fs.String("budget", "", "ReLU budget per image: count (12900, 12.9k) or percentage (5%)")
	epochs := fs.Int("epochs", 10, "search epochs (SNL: most epochs of the L1 phase)")
	ftEpochs := fs.Int("finetune-epochs", 0, "finetune epochs with the mask frozen (SGD momentum 0.9, wd 5e-4, cosine)")
	degree := fs.Int("degree", reduce.DefaultDegree, "AutoReP polynomial degree (1, 2 or 3)")
	lambda := fs.Float64("lambda", reduce.DefaultLambda, "AutoReP budget-loss weight λ")
	threshold := fs.Float64("threshold", reduce.DefaultThreshold, "AutoReP hysteresis threshold t")
	sigmaMin := fs.Float64("sigma-min", reduce.DefaultSigmaMin, "AutoReP: floor on the standard deviation DaPa fits to (bounds the quadratic term)")
	polyBound := fs.Float64("poly-bound", reduce.DefaultPolyBound, "AutoReP: keep each polynomial term of degree ≥ 2 within κ·|x| over its channel's input range (0 = unbounded least squares)")
	scaleX2 := fs.Float64("scale-x2", 0, "AutoReP: the reference code's x² scale S: the quadratic term is S·θ2·x² with θ2 trainable and DaPa-fitted, so it starts S times the fit and learns S times slower (default 1 = off; --resume: the checkpoint's; the model file holds the applied coefficients)")
	bnBatches := fs.Int("bn-batches", 0, fmt.Sprintf("training batches that recompute the batch-norm statistics before each evaluation (0 = keep the running averages; default: autorep 0, snl %d; --resume: the checkpoint's)", reduce.DefaultBNBatches))
	evalRunning := fs.Bool("eval-running-bn", false, "also evaluate every epoch with the batch-norm running averages, before recalibrating (logged, and recorded as test_acc_running; one more test pass per epoch; nothing to add without recalibration)")
	dataset := fs.String("dataset", "", "dataset name (default: the model's)")
	dataDir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	seed := fs.Int64("seed", 1, "random seed (scores, shuffling)")
	resume := fs.Bool("resume", false, "resume from the checkpoint (written after every epoch and within epochs)")
	every := fs.Duration("checkpoint-every", train.DefaultCheckpointEvery, "also write the checkpoint within an epoch after this much wall time (0 = at epoch ends only)")
	ckpt := fs.String("checkpoint", "", "checkpoint prefix: files PREFIX.search, .l1, .finetune, .best (default OUT.ckpt)")
	fs.BoolVar(&jsonOut, "json", false, "print the result as one JSON object on stdout")
	out := fs.String("out", "", "output model file")
	batch := fs.Int("batch", reduce.DefaultBatch, "batch size")
	lr := fs.Float64("lr", reduce.DefaultLR, "search learning rate (Adam, cosine to 1e-5)")
	scoreLR := fs.Float64("score-lr", 0, "AutoReP score learning rate (0 = max(--lr, 4/search steps), so that short searches reach the budget; the reference scripts use 10x --lr)")
	ftLR := fs.Float64("finetune-lr", reduce.DefaultFinetuneLR, "finetune learning rate (SGD)")
	noKD := fs.Bool("no-kd", false, "train without distillation from the input model")
	augment := fs.String("augment", "auto", "crop+flip augmentation: auto (colour images), on, off")
	costFile := fs.String("cost", "", "JSON file of per-site ReLU costs weighting the budget loss")
	trainLimit := fs.Int("train-limit", 0, "use only the first N training images (quick runs; 0 = all)")
	fail := func(e error) (reduce.FileRun, bool, error) { return reduce.FileRun{}, false, e }
	if err := fs.Parse(args); err != nil {
		return fail(err)
	}
	aug, err := augmentFlag(*augment)
	if err != nil {
		return fail(err) // before any data is loaded
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected arguments %v", fs.Args()))
	}
	if *modelPath == "" || *out == "" || *budgetFlag == "" {
		fs.Usage()
		return fail(errors.New("--model, --budget and --out are required"))
	}
	if *every < 0 {
		return fail(fmt.Errorf("--checkpoint-every %v is negative", *every))
	}
	// Unset --scale-x2 and --bn-batches stay 0 in reduce.Config: the
	// method's default, or the checkpoint's setting on --resume.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *bnBatches < 0 {
		return fail(fmt.Errorf("--bn-batches %d is negative", *bnBatches))
	}
	if *bnBatches == 0 && set["bn-batches"] {
		*bnBatches = -1 // reduce.Config: negative = off
	}
	if *polyBound < 0 {
		return fail(fmt.Errorf("--poly-bound %g is negative", *polyBound))
	}
	if set["scale-x2"] {
		if !(*scaleX2 > 0) || math.IsInf(*scaleX2, 0) {
			return fail(fmt.Errorf("--scale-x2 %g: want a positive number (1 = off)", *scaleX2))
		}
		if *scaleX2 != 1 && *method == reduce.MethodAutoReP && *degree < 2 {
			return fail(fmt.Errorf("--scale-x2 %g needs degree 2 or more (--degree %d has no x² term)", *scaleX2, *degree))
		}
	}
	if *polyBound == 0 {
		*polyBound = -1 // reduce.Config: negative = off
	}
	run = reduce.FileRun{Model: *modelPath, Out: *out, Budget: *budgetFlag, Dataset: *dataset, DataDir: *dataDir,
		CostFile: *costFile, TrainLimit: *trainLimit, Augment: aug,
		Command: "autorep reduce " + strings.Join(args, " "),
		Config: reduce.Config{
			BNBatches: *bnBatches, EvalRunning: *evalRunning,
			Method: *method, Epochs: *epochs, FinetuneEpochs: *ftEpochs,
			Degree: *degree, Lambda: *lambda, Threshold: *threshold, SigmaMin: *sigmaMin, PolyBound: *polyBound, ScaleX2: *scaleX2,
			Batch: *batch, LR: *lr, ScoreLR: *scoreLR, FinetuneLR: *ftLR, NoKD: *noKD, Seed: *seed,
			Checkpoint: *ckpt, Resume: *resume, CheckpointEvery: *every, Progress: os.Stderr, Log: os.Stderr,
		}}
	return run, jsonOut, nil
}
