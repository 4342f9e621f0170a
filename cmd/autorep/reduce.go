package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/reduce"
	"github.com/autorep/autorep/reduce/sitecost"
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
after every epoch (OUT.ckpt.search|l1|finetune, best snapshot OUT.ckpt.best);
--resume continues from them.

--budget is a ReLU count per image: 12900, 12.9k, 1.2M, or a percentage of
the model's ReLUs (5%). --cost FILE (a site-cost file as 'bench pi --cost-out' writes it, or the
older JSON {"site name": cost per ReLU, ...}) weights each site's ReLUs in
the budget loss by its measured cost.`

// reduceRecord is the JSON stored under autorep.reduce in the output file.
type reduceRecord struct {
	Method         string            `json:"method"`
	Budget         int               `json:"budget"`
	ReLUs          int               `json:"relus"`
	Total          int               `json:"total"`
	PerSite        map[string]int    `json:"per_site"`
	Accuracy       float64           `json:"accuracy"`
	Degree         int               `json:"degree"`
	Lambda         float64           `json:"lambda,omitempty"`
	Threshold      float64           `json:"threshold,omitempty"`
	PolyBound      float64           `json:"poly_bound,omitempty"`
	ScoreLR        float64           `json:"score_lr,omitempty"`
	Epochs         int               `json:"epochs"`
	FinetuneEpochs int               `json:"finetune_epochs"`
	BestPhase      string            `json:"best_phase"`
	BestEpoch      int               `json:"best_epoch"`
	Dataset        string            `json:"dataset"`
	Base           string            `json:"base"`
	Cost           map[string]string `json:"cost,omitempty"`
	Forced         bool              `json:"forced,omitempty"`
	Seed           int64             `json:"seed"`
	Seconds        float64           `json:"seconds"`
	Command        string            `json:"command"`
	History        []reduce.EpochLog `json:"history"`
}

func runReduce(args []string) error {
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
	bnBatches := fs.Int("bn-batches", reduce.DefaultBNBatches, "training batches that recompute the batch-norm statistics before each evaluation (0 = keep running averages)")
	dataset := fs.String("dataset", "", "dataset name (default: the model's)")
	dataDir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	seed := fs.Int64("seed", 1, "random seed (scores, shuffling)")
	resume := fs.Bool("resume", false, "resume from the checkpoint")
	ckpt := fs.String("checkpoint", "", "checkpoint prefix: files PREFIX.search, .l1, .finetune, .best (default OUT.ckpt)")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object on stdout")
	out := fs.String("out", "", "output model file")
	batch := fs.Int("batch", reduce.DefaultBatch, "batch size")
	lr := fs.Float64("lr", reduce.DefaultLR, "search learning rate (Adam, cosine to 1e-5)")
	scoreLR := fs.Float64("score-lr", 0, "AutoReP score learning rate (0 = max(--lr, 4/search steps), so that short searches reach the budget; the reference scripts use 10x --lr)")
	ftLR := fs.Float64("finetune-lr", reduce.DefaultFinetuneLR, "finetune learning rate (SGD)")
	noKD := fs.Bool("no-kd", false, "train without distillation from the input model")
	augment := fs.String("augment", "auto", "crop+flip augmentation: auto (colour images), on, off")
	costFile := fs.String("cost", "", "JSON file of per-site ReLU costs weighting the budget loss")
	trainLimit := fs.Int("train-limit", 0, "use only the first N training images (quick runs; 0 = all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	augFlag, err := augmentFlag(*augment)
	if err != nil {
		return err // before any data is loaded
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if *modelPath == "" || *out == "" || *budgetFlag == "" {
		fs.Usage()
		return errors.New("--model, --budget and --out are required")
	}
	if *method != reduce.MethodAutoReP && *method != reduce.MethodSNL {
		return fmt.Errorf("--method %q: want autorep or snl", *method)
	}
	if *epochs < 1 || *ftEpochs < 0 || *trainLimit < 0 {
		return fmt.Errorf("--epochs must be at least 1, --finetune-epochs and --train-limit non-negative (got %d, %d, %d)", *epochs, *ftEpochs, *trainLimit)
	}
	start := time.Now()
	student, err := models.Load(*modelPath)
	if err != nil {
		return err
	}
	teacher, err := models.Load(*modelPath)
	if err != nil {
		return err
	}
	for _, s := range student.Sites {
		if s.Act != nil {
			return fmt.Errorf("%s is already reduced (site %s has masks); start from the all-ReLU model", *modelPath, s.Name)
		}
	}
	_, total := student.ReLUCount()
	budget, err := reduce.ParseBudget(*budgetFlag, total)
	if err != nil {
		return fmt.Errorf("--budget: %w", err)
	}
	name, err := datasetOf(*dataset, *modelPath, student)
	if err != nil {
		return err
	}
	dir := data.Dir(*dataDir)
	train, err := data.Load(dir, name, true)
	if err != nil {
		return err
	}
	test, err := data.Load(dir, name, false)
	if err != nil {
		return err
	}
	for _, s := range []*data.Set{train, test} {
		if err := fitSet(s, student); err != nil {
			return err
		}
	}
	var weights []float64
	var costRec map[string]string
	if *costFile != "" {
		weights, err = readCost(*costFile, student)
		if err != nil {
			return err
		}
		costRec = map[string]string{"file": *costFile}
	}
	aug := train.DefaultAugment()
	if augFlag != nil {
		aug = *augFlag
	}
	ckptPath := *ckpt
	if ckptPath == "" {
		ckptPath = *out + ".ckpt"
	}
	if dir := filepath.Dir(*out); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if *trainLimit < 0 {
		return fmt.Errorf("--train-limit %d is negative", *trainLimit)
	}
	if *trainLimit > 0 && *trainLimit < train.N {
		train = train.Take(*trainLimit)
	}
	if *bnBatches < 0 {
		return fmt.Errorf("--bn-batches %d is negative", *bnBatches)
	}
	if *bnBatches == 0 {
		*bnBatches = -1 // reduce.Config: negative = off
	}
	if *polyBound < 0 {
		return fmt.Errorf("--poly-bound %g is negative", *polyBound)
	}
	if *polyBound == 0 {
		*polyBound = -1 // reduce.Config: negative = off
	}
	cfg := reduce.Config{
		BNBatches: *bnBatches,
		Method:    *method, Budget: budget, Epochs: *epochs, FinetuneEpochs: *ftEpochs,
		Degree: *degree, Lambda: *lambda, Threshold: *threshold, SigmaMin: *sigmaMin, PolyBound: *polyBound, CostWeights: weights,
		Batch: *batch, LR: *lr, ScoreLR: *scoreLR, FinetuneLR: *ftLR, NoKD: *noKD, Augment: aug, Seed: *seed,
		Checkpoint: ckptPath, Resume: *resume, Progress: os.Stderr, Log: os.Stderr,
	}
	if err := noteCheckpoints(ckptPath, *resume); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "reduce %s: %s on %s (%d train / %d test images), %d → budget %d ReLUs, %d+%d epochs\n",
		*modelPath, *method, name, train.N, test.N, total, budget, *epochs, *ftEpochs)
	res, err := reduce.Run(student, teacher, train, test, cfg)
	if err != nil {
		return err
	}
	rec := reduceRecord{
		Method: res.Method, Budget: res.Budget, ReLUs: res.ReLUs, Total: res.Total, PerSite: map[string]int{},
		Accuracy: res.Accuracy, Degree: res.Degree, Lambda: res.Lambda, Threshold: res.Threshold, PolyBound: res.PolyBound, ScoreLR: res.ScoreLR,
		Epochs: res.Epochs, FinetuneEpochs: res.Finetune, BestPhase: res.Phase, BestEpoch: res.Epoch,
		Dataset: name, Base: *modelPath, Cost: costRec, Forced: res.Forced, Seed: *seed,
		Seconds: time.Since(start).Seconds(), Command: "autorep reduce " + strings.Join(args, " "), History: res.History,
	}
	for i, s := range student.Sites {
		rec.PerSite[s.Name] = res.PerSite[i]
	}
	if student.Meta.Dataset == "" {
		student.Meta.Dataset = name
	}
	if err := student.Meta.SetJSON("autorep.reduce", rec); err != nil {
		return err
	}
	if err := student.Save(*out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s: %s, %d of %d ReLUs (budget %d), test accuracy %.2f%% (best at %s epoch %d)\n",
		*out, res.Method, res.ReLUs, res.Total, res.Budget, res.Accuracy, res.Phase, res.Epoch)
	if *jsonOut {
		// The record stored in the model file, and where it went.
		return json.NewEncoder(os.Stdout).Encode(struct {
			Out string `json:"out"`
			reduceRecord
		}{*out, rec})
	}
	return nil
}

// fitSet checks that s matches the model's input and classes and
// normalises it with the model's recorded mean and std.
func fitSet(s *data.Set, m *models.Model) error {
	if s.C != m.Input[0] || s.H != m.Input[1] || s.W != m.Input[2] {
		return fmt.Errorf("dataset %s has %dx%dx%d images, model %s expects %dx%dx%d", s.Name, s.C, s.H, s.W, m.Arch, m.Input[0], m.Input[1], m.Input[2])
	}
	if s.Classes != m.Classes {
		return fmt.Errorf("dataset %s has %d classes, model has %d", s.Name, s.Classes, m.Classes)
	}
	if len(m.Meta.Mean) == s.C && len(m.Meta.Std) == s.C {
		s.Mean = append([]float32(nil), m.Meta.Mean...)
		s.Std = append([]float32(nil), m.Meta.Std...)
	}
	return nil
}

// readCost reads a site-cost file (package sitecost) and returns the
// weights in m's site order. Every site must be listed.
func readCost(path string, m *models.Model) ([]float64, error) {
	f, err := sitecost.Read(path)
	if err != nil {
		return nil, fmt.Errorf("--cost: %w", err)
	}
	names := make([]string, len(m.Sites))
	for i, s := range m.Sites {
		names[i] = s.Name
	}
	w, err := f.Weights(names)
	if err != nil {
		return nil, fmt.Errorf("--cost %s: %w", path, err)
	}
	return w, nil
}

// noteCheckpoints tells on stderr, as 'autorep train' does, when --resume
// finds no checkpoint (the run starts from the beginning) and when a run
// without --resume will overwrite existing checkpoints.
func noteCheckpoints(prefix string, resume bool) error {
	files, err := reduce.CheckpointFiles(prefix)
	if err != nil {
		return err
	}
	switch {
	case resume && len(files) == 0:
		fmt.Fprintf(os.Stderr, "note: no checkpoint at %s.{%s}; starting from the beginning\n", prefix, strings.Join(reduce.Phases, ","))
	case !resume && len(files) > 0:
		fmt.Fprintf(os.Stderr, "note: %s exists and will be overwritten; pass --resume to continue that run instead\n", strings.Join(files, ", "))
	}
	return nil
}
