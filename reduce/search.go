package reduce

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/optim"
	"github.com/autorep/autorep/train"
)

// Method names.
const (
	MethodAutoReP = "autorep"
	MethodSNL     = "snl"
)

// Defaults of a reduction run (AutoReP reference settings unless noted).
const (
	DefaultLambda      = 80.0 // budget-loss weight λ (the reference default 10 is too slow for short searches, DESIGN §1.1)
	DefaultBatch       = 128
	DefaultLR          = 1e-3 // Adam learning rate of the search (and of SNL's L1 phase)
	DefaultMinLR       = 1e-5 // cosine floor of the search
	DefaultFinetuneLR  = 1e-3 // SGD finetune learning rate
	DefaultMomentum    = 0.9
	DefaultWeightDecay = 5e-4
	DefaultKDTemp      = 4.0
	// DefaultBNBatches is SNL's default number of training batches that
	// recompute the batch-norm statistics before each evaluation (its
	// binarisation changes every mask at once); AutoReP keeps the running
	// averages by default (Config.BNBatches).
	DefaultBNBatches = 50
)

// Config configures a reduction run. Zero fields take the defaults above.
type Config struct {
	// Method is MethodAutoReP or MethodSNL.
	Method string
	// Budget is the ReLU budget B (count per image).
	Budget int
	// Epochs of the mask search (SNL: the most epochs of its L1 phase).
	Epochs int
	// FinetuneEpochs with the mask frozen (0 = none).
	FinetuneEpochs int
	// Degree of AutoReP's polynomial (default 2).
	Degree int
	// SigmaMin floors the standard deviation DaPa fits to (0 =
	// DefaultSigmaMin). A small floor lets c2 = φ(z)/(2σ) grow large on
	// narrow channels, and the quadratic then explodes on outliers carried
	// by residual shortcuts.
	SigmaMin float64
	// PolyBound is κ of Masked.PolyBound: every polynomial term of degree
	// ≥ 2 stays within κ·|x| over its channel's input range (0 =
	// DefaultPolyBound, negative = unbounded least-squares coefficients).
	PolyBound float64
	// ScaleX2 is Masked.ScaleX2, the reference code's --scale_x2: the
	// quadratic term is ScaleX2·θ2·x² with θ2 trainable and DaPa-fitted
	// (AutoReP, degree ≥ 2). 0 = the default: none, or when resuming the
	// scale the checkpoint was trained with; 1 = none. On the reference's
	// own schedule the unscaled search led the scaled ones by 1.2-2.6
	// points (docs/RESULTS.md, issue 17 item 5). A set value that differs
	// from a checkpoint's is refused. The model file holds the applied
	// coefficients.
	ScaleX2 float64
	// BNBatches is the number of training batches from which the
	// batch-norm running statistics are recomputed (train.RecalibrateBN)
	// before every evaluation, so that a candidate is evaluated and saved
	// with statistics of its current masks; negative = keep the running
	// averages. 0 = the method's default: AutoReP keeps the running
	// averages, SNL recalibrates from DefaultBNBatches; when resuming, the
	// checkpoint's setting (DefaultBNBatches for checkpoints written
	// before it was recorded, when that was every method's default). A
	// set value that differs from a checkpoint's recorded one is refused.
	// Recalibration does not change the training trajectory, only the
	// evaluations and so which epoch is kept (TestRecalibrationKeepsTrajectory):
	// in the scaled ResNet-20 AutoReP searches it cost points in every
	// epoch from the fourth, 2.2-2.5 in the last three, while SNL's
	// binarisation, which changes every mask at once, is what it is for. The running averages can absorb a
	// rare blown-up batch: with unbounded polynomials (PolyBound < 0) a
	// ResNet-20 search that trained at 89% evaluated at 10% for an epoch;
	// none of the bounded (default κ) searches did.
	BNBatches int
	// EvalRunning also evaluates every epoch with the batch-norm running
	// averages before the recalibration (EpochLog.TestAccRunning), to see
	// what the recalibration changes, e.g. which epoch is kept.
	EvalRunning bool
	// Lambda is AutoReP's budget-loss weight λ.
	Lambda float64
	// Threshold is AutoReP's hysteresis threshold t (default 0.003).
	Threshold float64
	// CostWeights holds one cost weight per site for the budget loss (nil =
	// all 1); see Penalty.
	CostWeights []float64
	// Batch is the training batch size.
	Batch int
	// LR and MinLR bound the search's cosine schedule (Adam); FinetuneLR
	// starts the finetune's cosine schedule (SGD with Momentum and
	// WeightDecay).
	LR, MinLR, FinetuneLR float64
	// ScoreLR is the search learning rate of AutoReP's scores a (0 =
	// SearchScoreLR(LR, search steps), so that short searches reach the
	// budget); the reference scripts use 10×LR (w_mask_lr).
	ScoreLR               float64
	Momentum, WeightDecay float64
	// KDTemp is the distillation temperature; NoKD trains without the
	// distillation term.
	KDTemp float64
	NoKD   bool
	// Eta0 is SNL's initial L1 weight (0 = SNLEta0).
	Eta0 float64
	// Augment applies crop+flip augmentation (colour images).
	Augment bool
	// Seed drives the scores' initialisation and the shuffling.
	Seed int64
	// Checkpoint is the prefix of the per-phase checkpoints
	// (Checkpoint+".search", ".l1", ".finetune") and of the best snapshot
	// (Checkpoint+".best"). With "" they go to a temporary directory that
	// is removed at the end (no resume). Resume continues from the
	// checkpoints.
	Checkpoint string
	Resume     bool
	// CheckpointEvery also writes the phase's checkpoint within an epoch
	// once this much wall time has passed since the last one (0 = at
	// epoch ends only); see train.Trainer.CheckpointEvery.
	CheckpointEvery time.Duration
	// Interrupt, if set, is asked after every training step with the
	// phase and its steps done; true writes the phase's checkpoint at that
	// step and Run returns an error matching train.ErrInterrupted.
	Interrupt func(phase string, step int) bool
	// Progress receives progress bars, Log per-epoch lines (nil = silent).
	Progress, Log io.Writer
}

// scaleX2 is the x² scale in effect after defaults: 0 when off.
func (c *Config) scaleX2() float64 {
	if c.ScaleX2 == 1 {
		return 0
	}
	return c.ScaleX2
}

// x2Flag is the value of reduce's --scale-x2 that asks for the x² scale s
// in effect (0 = off).
func x2Flag(s float64) float64 {
	if s == 0 {
		return 1
	}
	return s
}

// bnFlag is the value of reduce's --bn-batches that asks for the
// recalibration setting n in effect (negative = off).
func bnFlag(n int) int { return max(n, 0) }

func (c *Config) defaults() {
	if c.Degree == 0 {
		c.Degree = DefaultDegree
	}
	if c.Lambda == 0 {
		c.Lambda = DefaultLambda
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if c.SigmaMin == 0 {
		c.SigmaMin = DefaultSigmaMin
	}
	if c.PolyBound == 0 {
		c.PolyBound = DefaultPolyBound
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.LR == 0 {
		c.LR = DefaultLR
	}
	if c.MinLR == 0 {
		c.MinLR = DefaultMinLR
	}
	if c.FinetuneLR == 0 {
		c.FinetuneLR = DefaultFinetuneLR
	}
	if c.Momentum == 0 {
		c.Momentum = DefaultMomentum
	}
	if c.WeightDecay == 0 {
		c.WeightDecay = DefaultWeightDecay
	}
	if c.KDTemp == 0 {
		c.KDTemp = DefaultKDTemp
	}
	if c.ScaleX2 == 0 {
		c.ScaleX2 = 1
	}
	if c.BNBatches == 0 {
		c.BNBatches = -1
		if c.Method == MethodSNL {
			c.BNBatches = DefaultBNBatches
		}
	}
}

func (c *Config) validate(total, sites int) error {
	switch c.Method {
	case MethodAutoReP, MethodSNL:
	default:
		return fmt.Errorf("reduce: unknown method %q (want %s or %s)", c.Method, MethodAutoReP, MethodSNL)
	}
	if c.Budget < 0 || c.Budget > total {
		return fmt.Errorf("reduce: budget %d outside 0..%d (the model's ReLUs)", c.Budget, total)
	}
	if c.Epochs < 1 {
		return fmt.Errorf("reduce: need at least one search epoch, got %d", c.Epochs)
	}
	if c.FinetuneEpochs < 0 {
		return fmt.Errorf("reduce: negative finetune epochs %d", c.FinetuneEpochs)
	}
	if c.Degree < 1 || c.Degree > MaxDegree {
		return fmt.Errorf("reduce: degree %d outside 1..%d", c.Degree, MaxDegree)
	}
	if !(c.Lambda > 0) || !(c.Threshold >= 0) || c.Batch < 1 || !(c.LR > 0) || !(c.MinLR >= 0) ||
		!(c.FinetuneLR > 0) || !(c.KDTemp > 0) || c.Momentum < 0 || c.WeightDecay < 0 || !(c.ScoreLR >= 0) || !(c.Eta0 >= 0) {
		return fmt.Errorf("reduce: invalid lambda/threshold/batch/learning rate/momentum/weight decay/temperature")
	}
	if !(c.SigmaMin > 0) || c.SigmaMin > 1e6 {
		return fmt.Errorf("reduce: sigma floor %g: want a positive number", c.SigmaMin)
	}
	if math.IsNaN(c.PolyBound) || math.IsInf(c.PolyBound, 0) {
		return fmt.Errorf("reduce: polynomial bound %g: want a finite number", c.PolyBound)
	}
	if !(c.ScaleX2 >= 0) || c.ScaleX2 > 1e6 {
		return fmt.Errorf("reduce: x² scale %g: want a positive number (1 = off)", c.ScaleX2)
	}
	if c.scaleX2() != 0 && c.Method == MethodAutoReP && c.Degree < 2 {
		return fmt.Errorf("reduce: x² scale %g needs a polynomial of degree 2 or more (degree %d)", c.ScaleX2, c.Degree)
	}
	if c.CostWeights != nil && len(c.CostWeights) != sites {
		return fmt.Errorf("reduce: %d cost weights for %d sites", len(c.CostWeights), sites)
	}
	return nil
}

// EpochLog is one epoch of a run.
type EpochLog struct {
	Phase    string  `json:"phase"` // "search", "l1", "binarised", "finetune"
	Epoch    int     `json:"epoch"` // 1-based within the phase
	Loss     float64 `json:"loss"`
	TrainAcc float64 `json:"train_acc"` // percent
	TestAcc  float64 `json:"test_acc"`  // percent
	// TestAccRunning is the test accuracy (percent) with the batch-norm
	// running averages, before recalibration (Config.EvalRunning).
	TestAccRunning float64 `json:"test_acc_running,omitempty"`
	ReLUs          int     `json:"relus"`
	Eta            float64 `json:"eta,omitempty"`
	Seconds        float64 `json:"seconds"`
}

// Result summarises a run. After Run the student's sites carry
// nn.PolyMask activations with the returned mask and coefficients.
type Result struct {
	Method    string     `json:"method"`
	Budget    int        `json:"budget"`
	Total     int        `json:"total"`
	ReLUs     int        `json:"relus"`
	PerSite   []int      `json:"per_site"`
	Accuracy  float64    `json:"accuracy"` // test accuracy (%) of the returned model
	Phase     string     `json:"best_phase"`
	Epoch     int        `json:"best_epoch"`
	Degree    int        `json:"degree"`
	Lambda    float64    `json:"lambda,omitempty"`
	Threshold float64    `json:"threshold,omitempty"`
	PolyBound float64    `json:"poly_bound,omitempty"` // κ of the coefficient bound (AutoReP, degree ≥ 2)
	ScaleX2   float64    `json:"scale_x2,omitempty"`   // the reference's x² scale (AutoReP, degree ≥ 2; 0 = off)
	ScoreLR   float64    `json:"score_lr,omitempty"`   // AutoReP: the scores' search learning rate (set or derived)
	BNRunning bool       `json:"bn_running,omitempty"` // evaluated with the batch-norm running averages (no recalibration; Config.BNBatches)
	Epochs    int        `json:"epochs"`
	Finetune  int        `json:"finetune_epochs"`
	Weighted  bool       `json:"cost_weighted,omitempty"`
	Forced    bool       `json:"forced,omitempty"` // SNL: budget reached by keeping the top-B α
	History   []EpochLog `json:"history"`
}

// runner holds the state of one run.
type runner struct {
	cfg              Config
	student, teacher *models.Model
	train, test      *data.Set
	total            int

	masked []*Masked
	snl    []*SNLAct
	pen    *Penalty

	// state is saved in the checkpoints (as train.Stateful).
	state runState
	// setX2 and setBN say whether the caller set Config.ScaleX2 and
	// Config.BNBatches (else a resumed run takes the checkpoint's).
	setX2, setBN bool
}

// runState is the run's own bookkeeping, saved with each phase's
// checkpoint: the epochs of the finished phases, the best candidate
// within budget so far, and SNL's schedule.
type runState struct {
	History []EpochLog `json:"history"`
	Best    *EpochLog  `json:"best,omitempty"`
	Eta     float64    `json:"eta,omitempty"`
	EtaBest int        `json:"eta_best,omitempty"`
	L1Done  bool       `json:"l1_done,omitempty"`
	Forced  bool       `json:"forced,omitempty"`
	// ScaleX2 is the x² scale the checkpointed coefficients θ were
	// trained with (0 = off): resuming with another would change the
	// function they compute.
	ScaleX2 float64 `json:"scale_x2,omitempty"`
	// BNBatches is the run's batch-norm recalibration (Config.BNBatches
	// after defaults, never 0; negative = off); 0 in checkpoints written
	// before it was recorded, when every run recalibrated with
	// DefaultBNBatches unless told otherwise.
	BNBatches int `json:"bn_batches,omitempty"`
	// Settings are the run's other settings that shape its steps, by
	// reduce's flag names (settingsOf); a resumed run must keep them
	// (absent in checkpoints of older binaries: not checked). The budget
	// is not among them: an SNL run may continue another budget's L1
	// phase (scripts/issue18-queue.sh).
	Settings map[string]string `json:"settings,omitempty"`
}

// settingsOf returns the settings of c (after defaults; ScoreLR as
// configured, 0 = derived) that a resumed run must keep, keyed by
// reduce's flag names; the method's own only.
func settingsOf(c *Config, kd bool) map[string]string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	s := map[string]string{"method": string(c.Method), "batch": strconv.Itoa(c.Batch), "seed": strconv.FormatInt(c.Seed, 10),
		"augment": strconv.FormatBool(c.Augment), "lr": f(c.LR), "kd": "off"}
	if kd {
		s["kd"] = "temperature " + f(c.KDTemp)
	}
	switch c.Method {
	case MethodAutoReP:
		s["degree"], s["lambda"], s["threshold"] = strconv.Itoa(c.Degree), f(c.Lambda), f(c.Threshold)
		s["poly-bound"], s["sigma-min"], s["score-lr"] = f(c.PolyBound), f(c.SigmaMin), f(c.ScoreLR)
		if c.CostWeights != nil {
			s["cost"] = fmt.Sprint(c.CostWeights)
		}
	case MethodSNL:
		s["eta0"] = f(c.Eta0)
	}
	return s
}

// SaveState implements train.Stateful.
func (r *runner) SaveState() (json.RawMessage, error) { return json.Marshal(r.state) }

// LoadState implements train.Stateful.
func (r *runner) LoadState(b json.RawMessage) error {
	var st runState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	if st.Eta < 0 || (st.Best != nil && st.Best.ReLUs < 0) {
		return errors.New("invalid reduction state")
	}
	if r.cfg.Method == MethodAutoReP && st.ScaleX2 != r.cfg.scaleX2() {
		if r.setX2 {
			return fmt.Errorf("checkpoint trained with x² scale %g (0 = off), this run asks for %g: resume with --scale-x2 %g (Config.ScaleX2)",
				st.ScaleX2, r.cfg.scaleX2(), x2Flag(st.ScaleX2))
		}
		r.cfg.ScaleX2 = x2Flag(st.ScaleX2)
		for _, m := range r.masked {
			m.ScaleX2 = st.ScaleX2
		}
		r.logf("resuming with the checkpoint's x² scale %g (0 = off; --scale-x2 %g)\n", st.ScaleX2, x2Flag(st.ScaleX2))
	}
	switch rec := st.BNBatches; {
	case rec == 0 && !r.setBN && r.cfg.BNBatches != DefaultBNBatches:
		r.cfg.BNBatches = DefaultBNBatches
		r.logf("resuming a checkpoint that predates the per-method recalibration default with its setting: batch-norm recalibration from %d batches (--bn-batches %d)\n",
			DefaultBNBatches, DefaultBNBatches)
	case rec == 0 || rec == r.cfg.BNBatches:
	case r.setBN:
		return fmt.Errorf("checkpoint evaluated with batch-norm recalibration from %d batches (0 = off), this run asks for %d: resume with --bn-batches %d (Config.BNBatches)",
			bnFlag(rec), bnFlag(r.cfg.BNBatches), bnFlag(rec))
	default:
		r.cfg.BNBatches = rec
		r.logf("resuming with the checkpoint's batch-norm recalibration (--bn-batches %d)\n", bnFlag(rec))
	}
	if st.Settings != nil {
		if err := train.CheckSettings(st.Settings, r.state.Settings); err != nil {
			return err
		}
	}
	st.Settings = r.state.Settings
	st.BNBatches = r.cfg.BNBatches
	r.state = st
	return nil
}

// Run reduces student's ReLUs to cfg.Budget with AutoReP or SNL on the
// train set, evaluating on test after every epoch, and leaves the best
// model within budget in student (sites with nn.PolyMask). teacher (the
// all-ReLU input model, may be nil) provides the distillation targets. The
// epochs run in package train's Trainer (one per phase), which checkpoints
// every epoch and, with cfg.CheckpointEvery, within epochs; with
// cfg.Resume the run continues from the checkpoints, mid-epoch ones
// included, to the same result as an uninterrupted run.
func Run(student, teacher *models.Model, trainSet, test *data.Set, cfg Config) (*Result, error) {
	setX2, setBN := cfg.ScaleX2 != 0, cfg.BNBatches != 0
	cfg.defaults()
	if student == nil || student.Net == nil || len(student.Sites) == 0 {
		return nil, errors.New("reduce: the network has no ReLU sites")
	}
	if trainSet == nil || test == nil || trainSet.N == 0 || test.N == 0 {
		return nil, errors.New("reduce: empty train or test set")
	}
	total := 0
	for _, s := range student.Sites {
		if len(s.Shape) == 0 || s.Size() <= 0 {
			return nil, fmt.Errorf("reduce: site %q has no shape", s.Name)
		}
		if s.Act != nil {
			return nil, fmt.Errorf("reduce: site %q already has a reduced activation (%T); start from an all-ReLU model", s.Name, s.Act)
		}
		total += s.Size()
	}
	if err := cfg.validate(total, len(student.Sites)); err != nil {
		return nil, err
	}
	if cfg.NoKD {
		teacher = nil
	}
	if teacher != nil {
		teacher.SetTraining(false)
	}
	if cfg.Checkpoint == "" {
		dir, err := os.MkdirTemp("", "autorep-reduce-*")
		if err != nil {
			return nil, fmt.Errorf("reduce: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.Checkpoint = dir + "/run"
		cfg.Resume = false
	}
	r := &runner{cfg: cfg, student: student, teacher: teacher, train: trainSet, test: test, total: total, setX2: setX2, setBN: setBN}
	r.state.BNBatches = cfg.BNBatches
	r.state.Settings = settingsOf(&cfg, teacher != nil)
	if err := r.install(); err != nil {
		return nil, err
	}
	var err error
	switch cfg.Method {
	case MethodAutoReP:
		err = r.runAutoReP()
	case MethodSNL:
		err = r.runSNL()
	}
	if err != nil {
		return nil, err
	}
	return r.finish()
}

func (r *runner) logf(format string, args ...any) {
	if r.cfg.Log != nil {
		fmt.Fprintf(r.cfg.Log, format, args...)
	}
}

func (r *runner) path(suffix string) string { return r.cfg.Checkpoint + "." + suffix }

// Phases lists the checkpointed phases of a run; phase P's checkpoint is
// Config.Checkpoint + "." + P.
var Phases = []string{"search", "l1", "finetune"}

// CheckpointFiles returns the per-phase checkpoint files of the run with
// checkpoint prefix prefix that exist (what Config.Resume continues from).
func CheckpointFiles(prefix string) ([]string, error) {
	var out []string
	for _, p := range Phases {
		ok, err := exists(prefix + "." + p)
		if err != nil {
			return nil, fmt.Errorf("reduce: %w", err)
		}
		if ok {
			out = append(out, prefix+"."+p)
		}
	}
	return out, nil
}

// exists reports whether a checkpoint file exists (errors other than
// absence are returned).
func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// install puts the method's trainable activations on every site.
func (r *runner) install() error {
	rng := rand.New(rand.NewPCG(uint64(r.cfg.Seed), 0x5eed))
	switch r.cfg.Method {
	case MethodAutoReP:
		for _, s := range r.student.Sites {
			m, err := NewMasked(s.Name, s.Shape, r.cfg.Degree, rng)
			if err != nil {
				return err
			}
			m.Threshold = float32(r.cfg.Threshold)
			m.SigmaMin = r.cfg.SigmaMin
			m.PolyBound = max(r.cfg.PolyBound, 0)
			m.ScaleX2 = r.cfg.scaleX2()
			s.Act = m
			r.masked = append(r.masked, m)
		}
		r.pen = &Penalty{Lambda: r.cfg.Lambda, Budget: float64(r.cfg.Budget), Weights: r.cfg.CostWeights}
		r.state.ScaleX2 = r.cfg.scaleX2()
	case MethodSNL:
		for _, s := range r.student.Sites {
			a, err := NewSNL(s.Name, s.Shape)
			if err != nil {
				return err
			}
			s.Act = a
			r.snl = append(r.snl, a)
		}
		r.state.Eta = SNLEta0
		if r.cfg.Eta0 > 0 {
			r.state.Eta = r.cfg.Eta0
		}
		r.state.EtaBest = -1
	}
	return nil
}

// trainable returns the student's parameters that require gradients.
func (r *runner) trainable() []optim.Param {
	var out []optim.Param
	for _, p := range nn.NamedParameters(r.student.Net) {
		if p.Var.RequiresGrad() {
			out = append(out, optim.Param{Name: p.Name, Var: p.Var})
		}
	}
	return out
}

// trainer builds the Trainer of one phase with its optimiser and
// schedule; it resumes from the phase's checkpoint when asked and present.
func (r *runner) trainer(phase string, epochs int, step train.StepFunc) (*train.Trainer, error) {
	loader := data.NewLoader(r.train, data.LoaderConfig{Batch: r.cfg.Batch, Shuffle: true, Seed: r.cfg.Seed,
		Augment: r.cfg.Augment, DropLast: r.train.N > r.cfg.Batch})
	steps := max(1, loader.Len())
	params := r.trainable()
	t := &train.Trainer{Model: r.student, Train: loader, Test: r.test, Epochs: epochs, Step: step,
		Checkpoint: r.path(phase), State: map[string]train.Stateful{"reduce": r},
		Progress: r.cfg.Progress, Log: r.cfg.Log}
	t.BarInfo = func() string {
		_, n := r.student.ReLUCount()
		return fmt.Sprintf("relus %d", n)
	}
	t.CheckpointEvery = r.cfg.CheckpointEvery
	if r.cfg.Interrupt != nil {
		t.Interrupt = func(step int) bool { return r.cfg.Interrupt(phase, step) }
	}
	t.EvalRunning = r.cfg.EvalRunning
	var err error
	switch phase {
	case "search":
		groups := []optim.Group{{Params: params}}
		if r.cfg.Method == MethodAutoReP && r.cfg.ScoreLR == 0 {
			r.cfg.ScoreLR = SearchScoreLR(r.cfg.LR, epochs*steps)
			if r.cfg.Log != nil && r.cfg.ScoreLR != r.cfg.LR {
				fmt.Fprintf(r.cfg.Log, "score learning rate %.3g: 4/(%d search steps), so that the scores can reach the budget (--score-lr sets it)\n",
					r.cfg.ScoreLR, epochs*steps)
			}
		}
		if r.cfg.ScoreLR > 0 && r.cfg.ScoreLR != r.cfg.LR {
			var rest, scores []optim.Param
			for _, p := range params {
				if strings.HasSuffix(p.Name, ".score") {
					scores = append(scores, p)
				} else {
					rest = append(rest, p)
				}
			}
			groups = []optim.Group{{Params: rest}, {Params: scores, LRScale: r.cfg.ScoreLR / r.cfg.LR}}
		}
		t.Opt, err = optim.NewAdam(groups, optim.AdamConfig{LR: r.cfg.LR})
		if err == nil {
			t.Schedule, err = optim.NewCosine(r.cfg.LR, r.cfg.MinLR, 0, epochs*steps)
		}
	case "l1":
		t.Opt, err = optim.NewAdam([]optim.Group{{Params: params}}, optim.AdamConfig{LR: r.cfg.LR})
	case "finetune":
		t.Opt, err = optim.NewSGD(optim.SplitDecay(params, r.cfg.WeightDecay), optim.SGDConfig{LR: r.cfg.FinetuneLR, Momentum: r.cfg.Momentum})
		if err == nil {
			t.Schedule, err = optim.NewCosine(r.cfg.FinetuneLR, 0, 0, epochs*steps)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("reduce: %s optimiser: %w", phase, err)
	}
	if phase != "l1" { // SNL's relaxed model is never a candidate
		t.KeepBest = func(s train.EpochStats, _ *train.EpochStats) bool {
			return r.consider(logOf(phase, s))
		}
		t.BestPath = r.path("best")
	}
	if r.cfg.Resume {
		ok, err := exists(t.Checkpoint)
		if err != nil {
			return nil, fmt.Errorf("reduce: resume: %w", err)
		}
		if ok {
			if err := t.Resume(t.Checkpoint); err != nil {
				return nil, fmt.Errorf("reduce: %w", err)
			}
			if e, b := t.Position(); b > 0 {
				r.logf("resumed %s phase from %s in epoch %d after batch %d of %d\n", phase, t.Checkpoint, e+1, b, steps)
			} else {
				r.logf("resumed %s phase from %s after epoch %d\n", phase, t.Checkpoint, e)
			}
		}
	}
	// After the resume: a checkpoint may have set the recalibration.
	t.Recalibrate = r.recalibration(0)
	r.logf("%s phase: %d epochs, %d steps each\n", phase, epochs, steps)
	return t, nil
}

// recalibration returns the batch-norm recalibration options (nil when
// disabled); offset varies the batches drawn.
func (r *runner) recalibration(offset int) *train.RecalibrateOptions {
	if r.cfg.BNBatches < 0 {
		return nil
	}
	return &train.RecalibrateOptions{Batches: r.cfg.BNBatches, Batch: r.cfg.Batch, Seed: r.cfg.Seed + int64(offset)}
}

// logOf converts a Trainer epoch to the run's log entry.
func logOf(phase string, s train.EpochStats) EpochLog {
	return EpochLog{Phase: phase, Epoch: s.Epoch, Loss: s.TrainLoss, TrainAcc: 100 * s.TrainAcc,
		TestAcc: 100 * s.TestAcc, TestAccRunning: 100 * s.Extra["test_acc_running"], ReLUs: s.ReLUs, Eta: s.Extra["eta"], Seconds: s.Seconds}
}

// consider reports whether e is the best candidate within budget so far
// and records it (the Trainer then saves the model to the best path).
func (r *runner) consider(e EpochLog) bool {
	if e.ReLUs > r.cfg.Budget || (r.state.Best != nil && e.TestAcc <= r.state.Best.TestAcc) {
		return false
	}
	r.state.Best = &e
	return true
}

// baseLoss runs the student (and the teacher, without gradients) and
// returns the CE (+ KD) loss with the student's logits.
func (r *runner) baseLoss(b data.Batch) (loss, logits *autograd.Var, err error) {
	x := autograd.Const(b.X)
	var teacher *autograd.Var
	if r.teacher != nil {
		autograd.NoGrad(func() { teacher, err = r.teacher.Forward(x) })
		if err != nil {
			return nil, nil, fmt.Errorf("teacher: %w", err)
		}
	}
	logits, err = r.student.Forward(x)
	if err != nil {
		return nil, nil, err
	}
	loss, err = nn.CrossEntropy(logits, b.Y, 0)
	if err != nil {
		return nil, nil, err
	}
	if teacher != nil {
		kd, err := nn.KDLoss(logits, teacher, float32(r.cfg.KDTemp))
		if err != nil {
			return nil, nil, err
		}
		loss = nn.Plus(loss, kd)
	}
	return loss, logits, nil
}

// searchStep is AutoReP's loss: CE + KD + λ·max(0, density − B/total).
func (r *runner) searchStep(b data.Batch) (loss, logits *autograd.Var, err error) {
	loss, logits, err = r.baseLoss(b)
	if err != nil {
		return nil, nil, err
	}
	pen, err := r.pen.Loss(r.masked)
	if err != nil {
		return nil, nil, err
	}
	return nn.Plus(loss, pen), logits, nil
}

// l1Step is SNL's loss: CE + KD + η·Σ|α|.
func (r *runner) l1Step(b data.Batch) (loss, logits *autograd.Var, err error) {
	loss, logits, err = r.baseLoss(b)
	if err != nil {
		return nil, nil, err
	}
	return nn.Plus(loss, L1(r.snl, r.state.Eta)), logits, nil
}

// appendHistory adds a finished phase's epochs to the run history.
func (r *runner) appendHistory(phase string, t *train.Trainer) {
	for _, s := range t.History {
		r.state.History = append(r.state.History, logOf(phase, s))
	}
}

func (r *runner) runAutoReP() error {
	resumeFT := false
	if r.cfg.Resume && r.cfg.FinetuneEpochs > 0 {
		var err error
		if resumeFT, err = exists(r.path("finetune")); err != nil {
			return fmt.Errorf("reduce: resume: %w", err)
		}
	}
	if !resumeFT {
		t, err := r.trainer("search", r.cfg.Epochs, r.searchStep)
		if err != nil {
			return err
		}
		if err := t.Run(); err != nil {
			return fmt.Errorf("reduce: search: %w", err)
		}
		r.appendHistory("search", t)
		switch {
		case r.state.Best == nil:
			if err := r.trimSearch(); err != nil {
				return err
			}
		case r.cfg.FinetuneEpochs == 0:
			return nil
		default:
			if err := r.loadBest(); err != nil {
				return err
			}
		}
	}
	for _, m := range r.masked {
		m.Frozen = true
		m.Score.SetRequiresGrad(false)
	}
	return r.finetune()
}

// trimSearch handles a search that ended above the budget: a small
// excess (at most budget/TrimFraction, with a finetune to follow) is
// trimmed rather than thrown away — hours of work on the large networks —
// and the finetune starts from the search's last epoch; anything else is
// an error.
func (r *runner) trimSearch() error {
	_, n := r.student.ReLUCount()
	if r.cfg.FinetuneEpochs == 0 || n-r.cfg.Budget > r.cfg.Budget/TrimFraction {
		return fmt.Errorf("reduce: the search ended with %d ReLUs, above the budget %d: raise --score-lr, --lambda or --epochs", n, r.cfg.Budget)
	}
	k := TrimToBudget(r.masked, r.cfg.Budget)
	if _, left := r.student.ReLUCount(); left > r.cfg.Budget {
		return fmt.Errorf("reduce: the search ended with %d ReLUs, above the budget %d, and trimming its searched sites leaves %d", n, r.cfg.Budget, left)
	}
	r.logf("the search ended with %d ReLUs, above the budget %d: the %d kept positions of lowest score are replaced; the finetune starts from the search's last epoch\n", n, r.cfg.Budget, k)
	return nil
}

// finetune trains with the mask frozen (SGD, cosine), keeping the best.
func (r *runner) finetune() error {
	if r.cfg.FinetuneEpochs == 0 {
		return nil
	}
	t, err := r.trainer("finetune", r.cfg.FinetuneEpochs, r.baseLoss)
	if err != nil {
		return err
	}
	if e, b := t.Position(); e == 0 && b == 0 {
		// Checkpoint the finetune's starting point (AutoReP: the search's
		// best snapshot; SNL: the binarised model) before its first epoch.
		// The best snapshot is overwritten as soon as a finetune epoch
		// beats it, so a run killed after that save but before the
		// epoch's checkpoint used to resume the finetune from that later
		// model instead of the search's best.
		if err := t.SaveCheckpoint(t.Checkpoint); err != nil {
			return fmt.Errorf("reduce: finetune: %w", err)
		}
	}
	if err := t.Run(); err != nil {
		return fmt.Errorf("reduce: finetune: %w", err)
	}
	r.appendHistory("finetune", t)
	return nil
}

func (r *runner) runSNL() error {
	resumeFT := false
	if r.cfg.Resume {
		var err error
		if resumeFT, err = exists(r.path("finetune")); err != nil {
			return fmt.Errorf("reduce: resume: %w", err)
		}
	}
	if resumeFT {
		// The finetune checkpoint holds the binarised masks; start from
		// all-ones fixed activations of the right shapes.
		if err := r.binarizeSites(); err != nil {
			return err
		}
		return r.finetune()
	}
	t, err := r.trainer("l1", r.cfg.Epochs, r.l1Step)
	if err != nil {
		return err
	}
	t.AfterEpoch = append(t.AfterEpoch, func(s *train.EpochStats) error {
		if s.Extra == nil {
			s.Extra = map[string]float64{}
		}
		s.Extra["eta"] = r.state.Eta
		sched := EtaSchedule{Eta: r.state.Eta, Best: r.state.EtaBest}
		sched.EndEpoch(s.Epoch, s.ReLUs)
		r.state.Eta, r.state.EtaBest = sched.Eta, sched.Best
		if s.ReLUs <= r.cfg.Budget {
			r.state.L1Done = true
			return train.ErrStop
		}
		return nil
	})
	if !r.state.L1Done {
		if err := t.Run(); err != nil {
			return fmt.Errorf("reduce: snl: %w", err)
		}
	}
	r.appendHistory("l1", t)
	if err := r.forceBudget(); err != nil {
		return err
	}
	if err := r.binarizeSites(); err != nil {
		return err
	}
	if opt := r.recalibration(r.cfg.Epochs); opt != nil {
		if err := train.RecalibrateBN(r.student, r.train, *opt); err != nil {
			return fmt.Errorf("reduce: snl: %w", err)
		}
	}
	m, err := train.Evaluate(r.student, r.test, train.EvalOptions{})
	if err != nil {
		return fmt.Errorf("reduce: snl: %w", err)
	}
	_, n := r.student.ReLUCount()
	e := EpochLog{Phase: "binarised", TestAcc: 100 * m.Accuracy, ReLUs: n}
	r.logf("snl: binarised at %d ReLUs, test accuracy %.2f%%\n", n, e.TestAcc)
	r.state.History = append(r.state.History, e)
	if r.consider(e) {
		if err := r.student.Save(r.path("best")); err != nil {
			return fmt.Errorf("reduce: %w", err)
		}
	}
	return r.finetune()
}

// forceBudget handles an SNL L1 phase that hit the epoch cap above budget:
// it keeps the budget's largest α (set to at least 1) and zeroes the rest.
func (r *runner) forceBudget() error {
	count := 0
	for _, a := range r.snl {
		count += a.Count()
	}
	if count <= r.cfg.Budget {
		return nil
	}
	r.state.Forced = true
	r.logf("snl: %d ReLUs after %d epochs, above budget %d: keeping the %d largest α\n", count, r.cfg.Epochs, r.cfg.Budget, r.cfg.Budget)
	type ref struct {
		a *SNLAct
		i int
	}
	var all []ref
	for _, a := range r.snl {
		for i := range a.Alpha.Value.Data {
			all = append(all, ref{a, i})
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		return all[i].a.Alpha.Value.Data[all[i].i] > all[j].a.Alpha.Value.Data[all[j].i]
	})
	for k, e := range all {
		v := &e.a.Alpha.Value.Data[e.i]
		if k < r.cfg.Budget {
			*v = max(*v, 1)
		} else {
			*v = 0
		}
	}
	return nil
}

// binarizeSites replaces SNL's relaxed activations by fixed masks
// (α > 0.01 → ReLU, else identity).
func (r *runner) binarizeSites() error {
	r.masked = r.masked[:0]
	for i, a := range r.snl {
		m, err := a.Binarize()
		if err != nil {
			return err
		}
		r.student.Sites[i].Act = m
		r.masked = append(r.masked, m)
	}
	r.snl = nil
	return nil
}

// loadBest loads the best snapshot into the student (whose activations
// must be of the kind the snapshot was taken with).
func (r *runner) loadBest() error {
	f, err := modelfile.Read(r.path("best"))
	if err != nil {
		return fmt.Errorf("reduce: best snapshot: %w", err)
	}
	if err := r.student.LoadTensors(f.Tensors); err != nil {
		return fmt.Errorf("reduce: best snapshot %s: %w", r.path("best"), err)
	}
	return nil
}

// finish restores the best snapshot, replaces the trainable activations
// by frozen PolyMasks and builds the result.
func (r *runner) finish() (*Result, error) {
	best := r.state.Best
	if best == nil {
		_, n := r.student.ReLUCount()
		return nil, fmt.Errorf("reduce: no model within the budget %d (last count %d)", r.cfg.Budget, n)
	}
	if err := r.loadBest(); err != nil {
		return nil, err
	}
	for i, m := range r.masked {
		r.student.Sites[i].Act = m.PolyMask()
	}
	r.student.SetTraining(false)
	per, n := r.student.ReLUCount()
	if n > r.cfg.Budget {
		return nil, fmt.Errorf("reduce: internal error: best model has %d ReLUs > budget %d", n, r.cfg.Budget)
	}
	res := &Result{
		Method: r.cfg.Method, Budget: r.cfg.Budget, Total: r.total, ReLUs: n, PerSite: per,
		Accuracy: best.TestAcc, Phase: best.Phase, Epoch: best.Epoch, Degree: r.cfg.Degree,
		Epochs: r.cfg.Epochs, Finetune: r.cfg.FinetuneEpochs, Weighted: r.cfg.CostWeights != nil,
		Forced: r.state.Forced, History: r.state.History, BNRunning: r.cfg.BNBatches < 0,
	}
	if r.cfg.Method == MethodAutoReP {
		res.Lambda, res.Threshold, res.ScoreLR = r.cfg.Lambda, r.cfg.Threshold, r.cfg.ScoreLR
		if r.cfg.Degree >= 2 {
			res.PolyBound = max(r.cfg.PolyBound, 0)
			res.ScaleX2 = r.cfg.scaleX2()
		}
	} else {
		res.Degree = 1
	}
	return res, nil
}
