package reduce

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/internal/progress"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/optim"
	"github.com/autorep/autorep/tensor"
)

// Method names.
const (
	MethodAutoReP = "autorep"
	MethodSNL     = "snl"
)

// Defaults of a reduction run (AutoReP reference settings unless noted).
const (
	DefaultLambda      = 80.0 // budget-loss weight λ (reference default 10 is too slow for short searches, DESIGN §1.1)
	DefaultBatch       = 128
	DefaultLR          = 1e-3 // Adam (search) learning rate
	DefaultMinLR       = 1e-5 // cosine floor of the search
	DefaultFinetuneLR  = 1e-3 // SGD finetune learning rate
	DefaultMomentum    = 0.9
	DefaultWeightDecay = 5e-4
	DefaultKDTemp      = 4.0
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
	// Lambda is AutoReP's budget-loss weight λ.
	Lambda float64
	// Threshold is AutoReP's hysteresis threshold t (default 0.003).
	Threshold float64
	// CostWeights holds one cost weight per site for the budget loss (nil =
	// all 1); see Penalty.
	CostWeights []float64
	// Batch size, learning rates and finetune SGD settings.
	Batch                             int
	LR, MinLR, FinetuneLR             float64
	Momentum, WeightDecay             float64
	KDTemp                            float64
	NoKD                              bool // train without the distillation term
	Augment                           bool // crop+flip augmentation (CIFAR-style)
	Seed                              int64
	MaxStepsPerEpoch, EvalMaxExamples int // limits for quick runs and tests (0 = all)
	// Checkpoint is the path of the per-epoch checkpoint ("" = none); the
	// best snapshot goes to Checkpoint + ".best". Resume continues from it.
	Checkpoint string
	Resume     bool
	// Log receives progress bars and per-epoch lines (nil = silent).
	Log io.Writer
}

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
	if !(c.Lambda > 0) || !(c.Threshold >= 0) || c.Batch < 1 || !(c.LR > 0) || !(c.KDTemp > 0) {
		return fmt.Errorf("reduce: invalid lambda/threshold/batch/lr/kd-temperature")
	}
	if c.CostWeights != nil && len(c.CostWeights) != sites {
		return fmt.Errorf("reduce: %d cost weights for %d sites", len(c.CostWeights), sites)
	}
	return nil
}

// Net is the network to reduce.
type Net struct {
	// Student is trained; its Sites' activations are replaced.
	Student nn.Module
	// Sites are the student's ReLU sites (all plain ReLU, Shape set).
	Sites []*nn.Site
	// Teacher is the all-ReLU model for distillation (evaluated in eval
	// mode without gradients); nil disables distillation.
	Teacher nn.Module
}

// forward runs m on x, turning op shape panics into errors.
func forward(m nn.Module, x *autograd.Var) (*autograd.Var, error) {
	if g, ok := m.(*nn.Graph); ok {
		return g.Run(x)
	}
	return m.Forward(x), nil
}

// EpochLog is one epoch of a run.
type EpochLog struct {
	Phase    string  `json:"phase"` // "search", "l1", "finetune"
	Epoch    int     `json:"epoch"` // 1-based within the phase
	Loss     float64 `json:"loss"`
	TrainAcc float64 `json:"train_acc"`
	TestAcc  float64 `json:"test_acc"`
	ReLUs    int     `json:"relus"`
	Eta      float64 `json:"eta,omitempty"`
	Seconds  float64 `json:"seconds"`
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
	Epochs    int        `json:"epochs"`
	Finetune  int        `json:"finetune_epochs"`
	Weighted  bool       `json:"cost_weighted,omitempty"`
	Forced    bool       `json:"forced,omitempty"` // SNL: budget reached by keeping the top-B α
	History   []EpochLog `json:"history"`
}

// runner holds the state of one run.
type runner struct {
	cfg         Config
	net         Net
	train, test *data.Set
	total       int

	masked []*Masked
	snl    []*SNLAct
	pen    *Penalty
	eta    *EtaSchedule

	opt   optim.Optimizer
	sched optim.Schedule
	step  int // optimisation steps within the phase

	phase    string
	epoch    int // last completed epoch of phase
	history  []EpochLog
	best     map[string]*tensor.Tensor
	bestAcc  float64
	bestAt   EpochLog
	forced   bool
	l1Done   bool
	haveBest bool
}

// Run reduces net's ReLUs to cfg.Budget with AutoReP or SNL on the train
// set, evaluating on test after every epoch, and leaves the best model
// within budget in net.Student (sites with nn.PolyMask). It checkpoints
// every epoch when cfg.Checkpoint is set and resumes from it with
// cfg.Resume.
func Run(net Net, train, test *data.Set, cfg Config) (*Result, error) {
	cfg.defaults()
	if net.Student == nil || len(net.Sites) == 0 {
		return nil, errors.New("reduce: the network has no ReLU sites")
	}
	if train == nil || test == nil || train.N == 0 || test.N == 0 {
		return nil, errors.New("reduce: empty train or test set")
	}
	total := 0
	for _, s := range net.Sites {
		if len(s.Shape) == 0 || s.Size() <= 0 {
			return nil, fmt.Errorf("reduce: site %q has no shape (run a forward pass first)", s.Name)
		}
		if s.Act != nil {
			return nil, fmt.Errorf("reduce: site %q already has a reduced activation (%T); start from an all-ReLU model", s.Name, s.Act)
		}
		total += s.Size()
	}
	if err := cfg.validate(total, len(net.Sites)); err != nil {
		return nil, err
	}
	if cfg.NoKD {
		net.Teacher = nil
	}
	if net.Teacher != nil {
		nn.SetTraining(net.Teacher, false)
	}
	r := &runner{cfg: cfg, net: net, train: train, test: test, total: total, bestAcc: -1}
	if err := r.install(); err != nil {
		return nil, err
	}
	if cfg.Resume && cfg.Checkpoint != "" {
		if _, err := os.Stat(cfg.Checkpoint); err == nil {
			if err := r.load(); err != nil {
				return nil, fmt.Errorf("reduce: resume from %s: %w", cfg.Checkpoint, err)
			}
			r.logf("resumed %s at %s epoch %d (best %.2f%%)\n", cfg.Checkpoint, r.phase, r.epoch, r.bestAcc)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reduce: resume: %w", err)
		}
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

// install puts the method's trainable activations on every site.
func (r *runner) install() error {
	rng := rand.New(rand.NewPCG(uint64(r.cfg.Seed), 0x5eed))
	r.phase = "search"
	switch r.cfg.Method {
	case MethodAutoReP:
		for _, s := range r.net.Sites {
			m, err := NewMasked(s.Name, s.Shape, r.cfg.Degree, rng)
			if err != nil {
				return err
			}
			m.Threshold = float32(r.cfg.Threshold)
			s.Act = m
			r.masked = append(r.masked, m)
		}
		r.pen = &Penalty{Lambda: r.cfg.Lambda, Budget: float64(r.cfg.Budget), Weights: r.cfg.CostWeights}
	case MethodSNL:
		r.phase = "l1"
		for _, s := range r.net.Sites {
			a, err := NewSNL(s.Name, s.Shape)
			if err != nil {
				return err
			}
			s.Act = a
			r.snl = append(r.snl, a)
		}
		r.eta = NewEtaSchedule()
	}
	return nil
}

// count returns the current per-site and total ReLU counts.
func (r *runner) count() (per []int, total int) {
	per = make([]int, len(r.net.Sites))
	for i, s := range r.net.Sites {
		per[i] = s.ReLUCount()
		total += per[i]
	}
	return per, total
}

// stepsPerEpoch is the number of batches per training epoch.
func (r *runner) stepsPerEpoch() int {
	n := (r.train.N + r.cfg.Batch - 1) / r.cfg.Batch
	if r.cfg.MaxStepsPerEpoch > 0 && n > r.cfg.MaxStepsPerEpoch {
		n = r.cfg.MaxStepsPerEpoch
	}
	return n
}

// trainable returns the student's parameters that require gradients.
func (r *runner) trainable() []optim.Param {
	var out []optim.Param
	for _, p := range nn.NamedParameters(r.net.Student) {
		if p.Var.RequiresGrad() {
			out = append(out, optim.Param{Name: p.Name, Var: p.Var})
		}
	}
	return out
}

// newOptimizer builds the phase's optimiser and schedule.
func (r *runner) newOptimizer(phase string) error {
	params := r.trainable()
	steps := r.stepsPerEpoch()
	var err error
	switch phase {
	case "search":
		r.opt, err = optim.NewAdam([]optim.Group{{Params: params}}, optim.AdamConfig{LR: r.cfg.LR})
		if err == nil {
			r.sched, err = optim.NewCosine(r.cfg.LR, r.cfg.MinLR, 0, r.cfg.Epochs*steps)
		}
	case "l1":
		r.opt, err = optim.NewAdam([]optim.Group{{Params: params}}, optim.AdamConfig{LR: r.cfg.LR})
		r.sched = optim.Constant(r.cfg.LR)
	case "finetune":
		r.opt, err = optim.NewSGD(optim.SplitDecay(params, r.cfg.WeightDecay), optim.SGDConfig{LR: r.cfg.FinetuneLR, Momentum: r.cfg.Momentum})
		if err == nil {
			r.sched, err = optim.NewCosine(r.cfg.FinetuneLR, 0, 0, max(1, r.cfg.FinetuneEpochs*steps))
		}
	default:
		err = fmt.Errorf("unknown phase %q", phase)
	}
	if err != nil {
		return fmt.Errorf("reduce: %s optimiser: %w", phase, err)
	}
	return nil
}

func (r *runner) runAutoReP() error {
	if r.phase == "search" {
		if r.opt == nil {
			if err := r.newOptimizer("search"); err != nil {
				return err
			}
		}
		for r.epoch < r.cfg.Epochs {
			if err := r.trainEpoch(); err != nil {
				return err
			}
		}
		if !r.haveBest {
			_, n := r.count()
			return fmt.Errorf("reduce: the search ended with %d ReLUs, above the budget %d: raise --lambda or --epochs", n, r.cfg.Budget)
		}
		if r.cfg.FinetuneEpochs == 0 {
			return nil
		}
		if err := r.startFinetune(); err != nil {
			return err
		}
		if err := r.saveCheckpoint(); err != nil {
			return err
		}
	}
	return r.finetune()
}

// startFinetune restores the best search state, freezes the masks and
// switches to the SGD finetune.
func (r *runner) startFinetune() error {
	if err := nn.LoadStateDict(r.net.Student, r.best); err != nil {
		return fmt.Errorf("reduce: restore best: %w", err)
	}
	for _, m := range r.masked {
		m.Frozen = true
		if m.Score != nil {
			m.Score.SetRequiresGrad(false)
		}
	}
	r.phase, r.epoch, r.step = "finetune", 0, 0
	return r.newOptimizer("finetune")
}

func (r *runner) finetune() error {
	if r.cfg.FinetuneEpochs == 0 {
		return nil
	}
	if r.opt == nil {
		if err := r.newOptimizer("finetune"); err != nil {
			return err
		}
	}
	for r.epoch < r.cfg.FinetuneEpochs {
		if err := r.trainEpoch(); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) runSNL() error {
	if r.phase == "l1" {
		if r.opt == nil {
			if err := r.newOptimizer("l1"); err != nil {
				return err
			}
		}
		for !r.l1Done && r.epoch < r.cfg.Epochs {
			if err := r.trainEpoch(); err != nil {
				return err
			}
		}
		if err := r.binarize(); err != nil {
			return err
		}
		if err := r.saveCheckpoint(); err != nil {
			return err
		}
	}
	return r.finetune()
}

// binarize ends SNL's L1 phase: α > 0.01 become ReLUs, the rest identity.
// If the count is still above budget (the epoch cap was hit), it keeps the
// budget's largest α instead and marks the result as forced.
func (r *runner) binarize() error {
	count := 0
	for _, a := range r.snl {
		count += a.Count()
	}
	if count > r.cfg.Budget {
		r.forced = true
		r.logf("snl: %d ReLUs after %d epochs, above budget %d: keeping the %d largest α\n", count, r.epoch, r.cfg.Budget, r.cfg.Budget)
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
	}
	r.masked = r.masked[:0]
	for i, a := range r.snl {
		m, err := a.Binarize()
		if err != nil {
			return err
		}
		r.net.Sites[i].Act = m
		r.masked = append(r.masked, m)
	}
	r.snl = nil
	r.phase, r.epoch, r.step, r.opt = "finetune", 0, 0, nil
	// The binarised model is the first candidate.
	acc, err := r.evaluate()
	if err != nil {
		return err
	}
	_, n := r.count()
	r.logf("snl: binarised at %d ReLUs, test accuracy %.2f%%\n", n, acc)
	r.consider(EpochLog{Phase: "binarised", TestAcc: acc, ReLUs: n})
	return nil
}

// consider records e and snapshots the model if it is the best within
// budget so far.
func (r *runner) consider(e EpochLog) {
	if e.ReLUs <= r.cfg.Budget && e.TestAcc > r.bestAcc {
		sd, err := nn.StateDict(r.net.Student)
		if err != nil {
			return
		}
		r.best = make(map[string]*tensor.Tensor, len(sd))
		for k, v := range sd {
			r.best[k] = v.Clone()
		}
		r.bestAcc, r.bestAt, r.haveBest = e.TestAcc, e, true
	}
}

// loss builds the training loss for a batch and returns it with the
// number of correct predictions.
func (r *runner) loss(b data.Batch) (*autograd.Var, int, error) {
	x := autograd.Const(b.X)
	var teacher *autograd.Var
	if r.net.Teacher != nil {
		var err error
		autograd.NoGrad(func() { teacher, err = forward(r.net.Teacher, x) })
		if err != nil {
			return nil, 0, fmt.Errorf("teacher: %w", err)
		}
	}
	out, err := forward(r.net.Student, x)
	if err != nil {
		return nil, 0, err
	}
	loss, err := nn.CrossEntropy(out, b.Y, 0)
	if err != nil {
		return nil, 0, err
	}
	if teacher != nil {
		kd, err := nn.KDLoss(out, teacher, float32(r.cfg.KDTemp))
		if err != nil {
			return nil, 0, err
		}
		loss = nn.Plus(loss, kd)
	}
	switch {
	case r.phase == "search":
		pen, err := r.pen.Loss(r.masked)
		if err != nil {
			return nil, 0, err
		}
		loss = nn.Plus(loss, pen)
	case r.phase == "l1":
		loss = nn.Plus(loss, L1(r.snl, r.eta.Eta))
	}
	return loss, nn.Accuracy(out.Value, b.Y), nil
}

// setTraining switches the student (and the activations) between modes.
func (r *runner) setTraining(t bool) {
	nn.SetTraining(r.net.Student, t)
	for _, m := range r.masked {
		m.SetTraining(t)
	}
}

// trainEpoch runs one epoch of the current phase, evaluates, logs,
// updates the best snapshot and writes the checkpoint.
func (r *runner) trainEpoch() error {
	start := time.Now()
	ep := r.epoch + 1
	steps := r.stepsPerEpoch()
	loader := data.NewLoader(r.train, data.LoaderConfig{
		Batch: r.cfg.Batch, Shuffle: true, Seed: r.cfg.Seed + int64(len(r.history))*7919,
		Augment: r.cfg.Augment, DropLast: true,
	})
	it := loader.Epoch(len(r.history))
	defer it.Close()
	label := fmt.Sprintf("%s %d/%d", r.phase, ep, r.phaseEpochs())
	bar := progress.New(r.cfg.Log, label, steps, "batch")
	r.setTraining(true)
	var lossSum float64
	correct, seen := 0, 0
	for i := 0; i < steps; i++ {
		b, ok := it.Next()
		if !ok {
			break
		}
		r.opt.SetLR(r.sched.LR(r.step))
		r.opt.ZeroGrad()
		loss, c, err := r.loss(b)
		if err != nil {
			return fmt.Errorf("reduce: %s epoch %d step %d: %w", r.phase, ep, i+1, err)
		}
		lv := float64(loss.Value.Data[0])
		if math.IsNaN(lv) || math.IsInf(lv, 0) {
			return fmt.Errorf("reduce: %s epoch %d step %d: loss is %g (try a lower learning rate)", r.phase, ep, i+1, lv)
		}
		loss.Backward()
		r.opt.Step()
		r.step++
		lossSum += lv * float64(len(b.Y))
		correct += c
		seen += len(b.Y)
		_, n := r.count()
		bar.Set(i+1, fmt.Sprintf("loss %.3f acc %.1f%% relus %d", lossSum/float64(seen), 100*float64(correct)/float64(seen), n))
	}
	if seen == 0 {
		return errors.New("reduce: the training set yields no full batch (lower --batch)")
	}
	acc, err := r.evaluate()
	if err != nil {
		return err
	}
	_, n := r.count()
	e := EpochLog{Phase: r.phase, Epoch: ep, Loss: lossSum / float64(seen), TrainAcc: 100 * float64(correct) / float64(seen),
		TestAcc: acc, ReLUs: n, Seconds: time.Since(start).Seconds()}
	if r.eta != nil && r.phase == "l1" {
		e.Eta = r.eta.Eta
		r.eta.EndEpoch(ep, n)
		if n <= r.cfg.Budget {
			r.l1Done = true
		}
	}
	bar.Finish(fmt.Sprintf("loss %.3f acc %.1f%% test %.2f%% relus %d", e.Loss, e.TrainAcc, acc, n))
	r.logf("%s epoch %d: loss %.4f train %.2f%% test %.2f%% relus %d/%d (budget %d) %.0fs\n",
		r.phase, ep, e.Loss, e.TrainAcc, acc, n, r.total, r.cfg.Budget, e.Seconds)
	r.history = append(r.history, e)
	r.epoch = ep
	if r.phase != "l1" { // SNL's relaxed model is not a valid candidate
		r.consider(e)
	}
	return r.saveCheckpoint()
}

func (r *runner) phaseEpochs() int {
	if r.phase == "finetune" {
		return r.cfg.FinetuneEpochs
	}
	return r.cfg.Epochs
}

// evaluate returns the student's test accuracy (%) in eval mode.
func (r *runner) evaluate() (float64, error) {
	r.setTraining(false)
	defer r.setTraining(true)
	set := r.test
	n := set.N
	if r.cfg.EvalMaxExamples > 0 && n > r.cfg.EvalMaxExamples {
		set = set.Take(r.cfg.EvalMaxExamples)
		n = set.N
	}
	loader := data.NewLoader(set, data.LoaderConfig{Batch: 256})
	it := loader.Epoch(0)
	defer it.Close()
	correct := 0
	var err error
	autograd.NoGrad(func() {
		for {
			b, ok := it.Next()
			if !ok {
				return
			}
			var out *autograd.Var
			out, err = forward(r.net.Student, autograd.Const(b.X))
			if err != nil {
				return
			}
			correct += nn.Accuracy(out.Value, b.Y)
		}
	})
	if err != nil {
		return 0, fmt.Errorf("reduce: evaluate: %w", err)
	}
	return 100 * float64(correct) / float64(n), nil
}

// finish restores the best snapshot, replaces the trainable activations
// by frozen PolyMasks and builds the result.
func (r *runner) finish() (*Result, error) {
	if !r.haveBest {
		_, n := r.count()
		return nil, fmt.Errorf("reduce: no model within the budget %d (last count %d)", r.cfg.Budget, n)
	}
	if err := nn.LoadStateDict(r.net.Student, r.best); err != nil {
		return nil, fmt.Errorf("reduce: restore best: %w", err)
	}
	for i, m := range r.masked {
		r.net.Sites[i].Act = m.PolyMask()
	}
	nn.SetTraining(r.net.Student, false)
	per, n := r.count()
	if n > r.cfg.Budget {
		return nil, fmt.Errorf("reduce: internal error: best model has %d ReLUs > budget %d", n, r.cfg.Budget)
	}
	res := &Result{
		Method: r.cfg.Method, Budget: r.cfg.Budget, Total: r.total, ReLUs: n, PerSite: per,
		Accuracy: r.bestAcc, Phase: r.bestAt.Phase, Epoch: r.bestAt.Epoch, Degree: r.cfg.Degree,
		Epochs: r.cfg.Epochs, Finetune: r.cfg.FinetuneEpochs, Weighted: r.cfg.CostWeights != nil,
		Forced: r.forced, History: r.history,
	}
	if r.cfg.Method == MethodAutoReP {
		res.Lambda, res.Threshold = r.cfg.Lambda, r.cfg.Threshold
	} else {
		res.Degree = 1
	}
	return res, nil
}

// sitesSummary formats per-site counts for logs.
func sitesSummary(sites []*nn.Site) string {
	parts := make([]string, len(sites))
	for i, s := range sites {
		parts[i] = fmt.Sprintf("%s=%d/%d", s.Name, s.ReLUCount(), s.Size())
	}
	return strings.Join(parts, " ")
}
