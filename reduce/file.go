package reduce

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/reduce/sitecost"
)

// FileRun reduces the ReLUs of a trained all-ReLU model file to a budget,
// as `autorep reduce` does: it loads the model twice (student and
// distillation teacher), the dataset normalised as the model records, the
// optional per-site cost file, runs Run with per-epoch checkpoints, and
// writes the reduced model with its Record (modelfile.KeyReduce).
type FileRun struct {
	// Model is the input file, Out the output file.
	Model, Out string
	// Budget is a ReLU count per image (12900, 12.9k) or a percentage of
	// the model's ReLUs (5%); see ParseBudget.
	Budget string
	// Dataset is the dataset name ("" = the one the model records);
	// DataDir the data directory (data.Dir resolves "").
	Dataset, DataDir string
	// CostFile, if set, is a sitecost file whose costs weigh each site's
	// ReLUs in the budget loss: the saving a replacement by the search's
	// polynomial degree brings (replacementDegree; see Penalty).
	CostFile string
	// TrainLimit uses only the first N training images (0 = all).
	TrainLimit int
	// Augment sets crop+flip augmentation; nil = the dataset's default.
	Augment *bool
	// Config holds the method and its settings. Run sets Budget,
	// CostWeights and Augment; an empty Checkpoint becomes Out+".ckpt".
	Config Config
	// Command is recorded in the output file.
	Command string
}

// Record is the JSON a reduced model file stores under modelfile.KeyReduce.
type Record struct {
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
	ScaleX2        float64           `json:"scale_x2,omitempty"`
	ScoreLR        float64           `json:"score_lr,omitempty"`
	BNRunning      bool              `json:"bn_running,omitempty"` // evaluated with the batch-norm running averages (Result.BNRunning)
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
	History        []EpochLog        `json:"history"`
}

// Run performs the reduction and writes Out.
func (f FileRun) Run() (*Record, error) {
	cfg := f.Config
	if cfg.Method != MethodAutoReP && cfg.Method != MethodSNL {
		return nil, fmt.Errorf("method %q: want %s or %s", cfg.Method, MethodAutoReP, MethodSNL)
	}
	if f.Model == "" || f.Out == "" {
		return nil, errors.New("no input or output model file")
	}
	if cfg.Epochs < 1 || cfg.FinetuneEpochs < 0 || f.TrainLimit < 0 {
		return nil, fmt.Errorf("epochs must be at least 1, finetune epochs and the training limit non-negative (got %d, %d, %d)", cfg.Epochs, cfg.FinetuneEpochs, f.TrainLimit)
	}
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	start := time.Now()
	student, err := models.Load(f.Model)
	if err != nil {
		return nil, err
	}
	teacher, err := models.Load(f.Model)
	if err != nil {
		return nil, err
	}
	for _, s := range student.Sites {
		if s.Act != nil {
			return nil, fmt.Errorf("%s is already reduced (site %s has masks); start from the all-ReLU model", f.Model, s.Name)
		}
	}
	_, total := student.ReLUCount()
	if cfg.Budget, err = ParseBudget(f.Budget, total); err != nil {
		return nil, fmt.Errorf("budget: %w", err)
	}
	name, err := student.DatasetName(f.Dataset, f.Model)
	if err != nil {
		return nil, err
	}
	dir := data.Dir(f.DataDir)
	train, err := data.Load(dir, name, true)
	if err != nil {
		return nil, err
	}
	test, err := data.Load(dir, name, false)
	if err != nil {
		return nil, err
	}
	for _, s := range []*data.Set{train, test} {
		if err := fitSet(s, student); err != nil {
			return nil, err
		}
	}
	var costRec map[string]string
	if f.CostFile != "" {
		cf, err := sitecost.Read(f.CostFile)
		if err != nil {
			return nil, fmt.Errorf("cost file: %w", err)
		}
		names := make([]string, len(student.Sites))
		for i, s := range student.Sites {
			names[i] = s.Name
		}
		deg := cfg.replacementDegree()
		if cfg.CostWeights, err = cf.Weights(names, deg); err != nil {
			return nil, fmt.Errorf("cost file %s: %w", f.CostFile, err)
		}
		costRec = map[string]string{"file": f.CostFile, "degree": strconv.Itoa(deg)}
	}
	cfg.Augment = train.DefaultAugment()
	if f.Augment != nil {
		cfg.Augment = *f.Augment
	}
	if cfg.Checkpoint == "" {
		cfg.Checkpoint = f.Out + ".ckpt"
	}
	if err := os.MkdirAll(filepath.Dir(f.Out), 0o755); err != nil {
		return nil, err
	}
	if f.TrainLimit > 0 && f.TrainLimit < train.N {
		train = train.Take(f.TrainLimit)
	}
	if err := noteCheckpoints(log, cfg.Checkpoint, cfg.Resume); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "reduce %s: %s on %s (%d train / %d test images), %d → budget %d ReLUs, %d+%d epochs\n",
		f.Model, cfg.Method, name, train.N, test.N, total, cfg.Budget, cfg.Epochs, cfg.FinetuneEpochs)
	res, err := Run(student, teacher, train, test, cfg)
	if err != nil {
		return nil, err
	}
	rec := &Record{
		Method: res.Method, Budget: res.Budget, ReLUs: res.ReLUs, Total: res.Total, PerSite: map[string]int{},
		Accuracy: res.Accuracy, Degree: res.Degree, Lambda: res.Lambda, Threshold: res.Threshold, PolyBound: res.PolyBound, ScaleX2: res.ScaleX2, ScoreLR: res.ScoreLR, BNRunning: res.BNRunning,
		Epochs: res.Epochs, FinetuneEpochs: res.Finetune, BestPhase: res.Phase, BestEpoch: res.Epoch,
		Dataset: name, Base: f.Model, Cost: costRec, Forced: res.Forced, Seed: cfg.Seed,
		Seconds: time.Since(start).Seconds(), Command: f.Command, History: res.History,
	}
	for i, s := range student.Sites {
		rec.PerSite[s.Name] = res.PerSite[i]
	}
	if student.Meta.Dataset == "" {
		student.Meta.Dataset = name
	}
	if err := student.Meta.SetJSON(modelfile.KeyReduce, rec); err != nil {
		return nil, err
	}
	if err := student.Save(f.Out); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "wrote %s: %s, %d of %d ReLUs (budget %d), test accuracy %.2f%% (best at %s epoch %d)\n",
		f.Out, res.Method, res.ReLUs, res.Total, res.Budget, res.Accuracy, res.Phase, res.Epoch)
	return rec, nil
}

// fitSet checks that s matches the model's input and classes and
// normalises it with the model's recorded mean and std.
func fitSet(s *data.Set, m *models.Model) error {
	if s.Shape() != m.Input {
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

// noteCheckpoints tells log, as `autorep train` does, when a resume finds
// no checkpoint (the run starts from the beginning) and when a run without
// resume will overwrite existing checkpoints.
func noteCheckpoints(log io.Writer, prefix string, resume bool) error {
	files, err := CheckpointFiles(prefix)
	if err != nil {
		return err
	}
	switch {
	case resume && len(files) == 0:
		fmt.Fprintf(log, "note: no checkpoint at %s.{%s}; starting from the beginning\n", prefix, strings.Join(Phases, ","))
	case !resume && len(files) > 0:
		fmt.Fprintf(log, "note: %s exists and will be overwritten; pass --resume to continue that run instead\n", strings.Join(files, ", "))
	}
	return nil
}

// WithDefaults returns c with its zero fields set to the defaults Run
// uses (DefaultDegree, DefaultLambda, ...), so that two configurations can
// be compared as Run sees them.
func (c Config) WithDefaults() Config {
	c.defaults()
	return c
}
