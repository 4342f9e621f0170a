// Package train runs the training and evaluation loops of autorep models:
// mini-batch optimisation with a per-step learning-rate schedule,
// cross-entropy (with label smoothing) or a caller-supplied loss, hooks for
// ReLU-reduction methods (mask updates before each step, bookkeeping after
// each epoch, a keep-best predicate), a progress bar, and checkpoints after
// every epoch and within epochs (on a wall-time period or when asked to
// stop) from which an interrupted run resumes exactly.
package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/internal/progress"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/optim"
)

// EpochStats is the record of one finished epoch.
type EpochStats struct {
	// Epoch is 1-based.
	Epoch     int     `json:"epoch"`
	TrainLoss float64 `json:"train_loss"`
	// TrainAcc is the running training accuracy in [0, 1].
	TrainAcc float64 `json:"train_acc"`
	// TestLoss and TestAcc are NaN-free only when a test set is given;
	// otherwise they are 0 and HasTest is false.
	TestLoss float64 `json:"test_loss,omitempty"`
	TestAcc  float64 `json:"test_acc,omitempty"`
	HasTest  bool    `json:"has_test"`
	// LR is the learning rate of the epoch's last step.
	LR float64 `json:"lr"`
	// ReLUs is the model's ReLU count per image at the end of the epoch.
	ReLUs int `json:"relus"`
	// Seconds is the wall time of the epoch (training and evaluation).
	Seconds float64 `json:"seconds"`
	// Extra holds values hooks want recorded (e.g. "density", "lambda").
	Extra map[string]float64 `json:"extra,omitempty"`
}

// StepFunc computes the loss of one batch (with the graph recorded, model
// in training mode) and returns it with the logits used for the running
// accuracy. The default is cross-entropy with the trainer's label
// smoothing.
type StepFunc func(b data.Batch) (loss, logits *autograd.Var, err error)

// Stateful is extra run state (a hook's schedule, counters) saved in the
// checkpoint and restored on resume.
type Stateful interface {
	SaveState() (json.RawMessage, error)
	LoadState(json.RawMessage) error
}

// Trainer trains Model with Opt over Train for Epochs epochs. Fields left
// zero take the documented defaults; set them before calling Run.
type Trainer struct {
	Model *models.Model
	Opt   optim.Optimizer
	// Schedule gives the learning rate of each global step (0-based); nil
	// keeps the optimiser's rate.
	Schedule optim.Schedule
	Train    *data.Loader
	// Test, if not nil, is evaluated after every epoch.
	Test   *data.Set
	Epochs int
	// LabelSmoothing for the default cross-entropy step.
	LabelSmoothing float32
	// EvalBatch is the evaluation batch size (default 256).
	EvalBatch int
	// Recalibrate, if not nil, recomputes the batch-norm running
	// statistics from the training set (RecalibrateBN) before each
	// evaluation, so the evaluated and saved model carries statistics of
	// its current weights and activations, not a moving average that
	// lags them (ReLU reduction changes the activations every step).
	Recalibrate *RecalibrateOptions
	// EvalRunning, with Recalibrate, first evaluates the test set with the
	// running averages too, recording accuracy and loss in
	// Extra["test_acc_running"] and ["test_loss_running"] (what the epoch
	// would score without the recalibration; one more test pass per epoch).
	EvalRunning bool

	// Step replaces the default loss (see StepFunc).
	Step StepFunc
	// BeforeStep hooks run before every optimisation step, after the
	// learning rate is set, with the 0-based global step (AutoReP's
	// hysteresis mask update goes here).
	BeforeStep []func(step int) error
	// AfterEpoch hooks run after the epoch's evaluation, before the
	// checkpoint; they may fill s.Extra. Returning ErrStop ends training
	// after this epoch (the checkpoint is still written).
	AfterEpoch []func(s *EpochStats) error
	// KeepBest, if set, decides after each epoch whether the model is the
	// best so far (best is nil the first time); if so it is saved to
	// BestPath (when not empty) and recorded in Best.
	KeepBest func(s EpochStats, best *EpochStats) bool
	BestPath string
	// Checkpoint is the path written atomically after every epoch and
	// within epochs (CheckpointEvery, Interrupt) ("" for none); Resume
	// reads it.
	Checkpoint string
	// CheckpointEvery, if positive, also writes Checkpoint within an
	// epoch, at the first step boundary after this much wall time since
	// the last checkpoint (0 = epoch ends only). A mid-epoch checkpoint
	// holds the epoch's position and partial statistics, so that a run
	// killed during a long epoch loses at most this much work and resumes
	// bit-identically.
	CheckpointEvery time.Duration
	// Interrupt, if set, is asked after every step (with the number of
	// steps done, GlobalStep); when it returns true the trainer writes
	// Checkpoint at that step boundary and Run returns an error matching
	// ErrInterrupted (a signal handler or a test stops a run this way).
	Interrupt func(step int) bool
	// State lists extra state saved with the checkpoint, by name.
	State map[string]Stateful

	// Progress receives the progress bar (usually os.Stderr; nil for
	// none). Log receives one summary line per epoch (nil for none).
	Progress io.Writer
	Log      io.Writer
	// BarInfo, if set, returns extra text for the progress bar (ReLU
	// reduction shows the current ReLU count).
	BarInfo func() string

	// History holds the finished epochs (restored on resume).
	History []EpochStats
	// Best is the best epoch chosen by KeepBest, if any.
	Best *EpochStats
	// GlobalStep counts optimisation steps done so far.
	GlobalStep int
	// Elapsed accumulates training wall time across resumes.
	Elapsed time.Duration

	// pos is the position within the current epoch: restored by Resume
	// from a mid-epoch checkpoint (then consumed by the next epoch), and
	// set while a mid-epoch checkpoint is written.
	pos *epochPos
	// lastSave is when the checkpoint was last written (or Run started).
	lastSave time.Time
}

// epochPos is the state of an epoch in progress that is not in the model
// or optimiser: which batches are done (the loader's order and
// augmentation are functions of the epoch and batch index, so the rest of
// the epoch replays from the index alone) and the running statistics of
// its logged line.
type epochPos struct {
	// Batches is the number of batches done, of Of batches of Batch
	// images (the loader's; a resume with other ones is refused).
	Batches int `json:"batches"`
	Of      int `json:"of"`
	Batch   int `json:"batch"`
	// LossSum, Correct and Seen are the epoch's running loss sum (per
	// image), correct predictions and images.
	LossSum float64 `json:"loss_sum"`
	Correct int     `json:"correct"`
	Seen    int     `json:"seen"`
	// LR is the learning rate of the last step.
	LR float64 `json:"lr"`
	// ElapsedNS is the epoch's wall time so far.
	ElapsedNS int64 `json:"elapsed_ns"`
}

// ErrStop, returned by an AfterEpoch hook, stops training after the
// current epoch without error.
var ErrStop = errors.New("train: stop requested")

// ErrInterrupted is matched (errors.Is) by the error Run returns when
// Interrupt asked it to stop; the checkpoint then holds the run up to
// that step.
var ErrInterrupted = errors.New("interrupted")

// Epoch returns the number of completed epochs.
func (t *Trainer) Epoch() int { return len(t.History) }

func (t *Trainer) check() error {
	if t.Model == nil || t.Model.Net == nil {
		return errors.New("train: no model")
	}
	if t.Opt == nil {
		return errors.New("train: no optimiser")
	}
	if t.Train == nil {
		return errors.New("train: no training data")
	}
	if t.Epochs <= 0 {
		return fmt.Errorf("train: epochs must be positive, got %d", t.Epochs)
	}
	return nil
}

// Run trains from the current epoch (0, or the one restored by Resume) to
// Epochs, evaluating, running hooks and checkpointing after each epoch.
func (t *Trainer) Run() error {
	if err := t.check(); err != nil {
		return err
	}
	t.lastSave = time.Now()
	for e := t.Epoch(); e < t.Epochs; e++ {
		stop, err := t.runEpoch(e)
		if err != nil {
			return err
		}
		if stop {
			break
		}
		// A stop asked for during the evaluation: the epoch's checkpoint
		// is written.
		if e+1 < t.Epochs && t.Interrupt != nil && t.Interrupt(t.GlobalStep) {
			return t.interrupted(fmt.Sprintf("after epoch %d (step %d)", e+1, t.GlobalStep))
		}
	}
	return nil
}

// runEpoch trains epoch e (0-based) and records it; it continues from
// the position Resume restored, if any.
func (t *Trainer) runEpoch(e int) (stop bool, err error) {
	start := time.Now()
	t.Model.SetTraining(true)
	step := t.Step
	if step == nil {
		step = t.defaultStep
	}
	it := t.Train.Epoch(e)
	defer it.Close()
	total := t.Train.Set().N
	if cfg := t.Train.Config(); cfg.DropLast {
		total = t.Train.Len() * cfg.Batch
	}
	bar := progress.New(t.Progress, fmt.Sprintf("epoch %d/%d", e+1, t.Epochs), total, "img")
	p := epochPos{Of: t.Train.Len(), Batch: t.Train.Config().Batch, LR: t.Opt.LR()}
	if t.pos != nil {
		p, t.pos = *t.pos, nil
		for range p.Batches { // the batches done before the checkpoint
			if _, ok := it.Next(); !ok {
				return false, fmt.Errorf("train: epoch %d: the checkpoint is at batch %d of an epoch with fewer", e+1, p.Batches)
			}
		}
		bar.Set(p.Seen, "resumed")
	}
	prior := time.Duration(p.ElapsedNS)
	for {
		b, ok := it.Next()
		if !ok {
			break
		}
		if t.Schedule != nil {
			p.LR = t.Schedule.LR(t.GlobalStep)
			t.Opt.SetLR(p.LR)
		}
		for _, h := range t.BeforeStep {
			if err := h(t.GlobalStep); err != nil {
				return false, fmt.Errorf("train: epoch %d step %d: %w", e+1, t.GlobalStep, err)
			}
		}
		t.Opt.ZeroGrad()
		loss, logits, err := step(b)
		if err != nil {
			return false, fmt.Errorf("train: epoch %d step %d: %w", e+1, t.GlobalStep, err)
		}
		lv := float64(loss.Value.Data[0])
		if math.IsNaN(lv) || math.IsInf(lv, 0) {
			return false, fmt.Errorf("train: epoch %d step %d: loss is %v (diverged; lower the learning rate)", e+1, t.GlobalStep, lv)
		}
		loss.Backward()
		t.Opt.Step()
		t.GlobalStep++
		n := len(b.Y)
		p.LossSum += lv * float64(n)
		p.Correct += nn.Accuracy(logits.Value, b.Y)
		p.Seen += n
		p.Batches++
		// Nothing of this step is used any more: its activation and
		// gradient buffers go back to the graph's pool for the next.
		t.Model.Net.ReleaseBuffers()
		if p.Seen < total {
			info := fmt.Sprintf("loss %.4f acc %.2f%% lr %.3g", p.LossSum/float64(p.Seen), 100*float64(p.Correct)/float64(p.Seen), p.LR)
			if t.BarInfo != nil {
				info += " " + t.BarInfo()
			}
			bar.Set(p.Seen, info)
		}
		interrupt := t.Interrupt != nil && t.Interrupt(t.GlobalStep)
		if t.Checkpoint != "" && (interrupt || (t.CheckpointEvery > 0 && time.Since(t.lastSave) >= t.CheckpointEvery)) {
			p.ElapsedNS = int64(prior + time.Since(start))
			if err := t.saveAt(p); err != nil {
				return false, err
			}
		}
		if interrupt {
			if t.Progress != nil {
				fmt.Fprintln(t.Progress) // end the bar's line
			}
			return false, t.interrupted(fmt.Sprintf("in epoch %d after batch %d of %d (step %d)", e+1, p.Batches, p.Of, t.GlobalStep))
		}
	}
	lossSum, correct, seen, lr := p.LossSum, p.Correct, p.Seen, p.LR
	if seen == 0 {
		return false, fmt.Errorf("train: epoch %d produced no batches (dataset smaller than one batch?)", e+1)
	}
	bar.Finish(fmt.Sprintf("loss %.4f acc %.2f%%", lossSum/float64(seen), 100*float64(correct)/float64(seen)))
	s := EpochStats{Epoch: e + 1, TrainLoss: lossSum / float64(seen), TrainAcc: float64(correct) / float64(seen), LR: lr}
	if t.Recalibrate != nil {
		if t.EvalRunning && t.Test != nil {
			m, err := Evaluate(t.Model, t.Test, EvalOptions{Batch: t.EvalBatch, Progress: t.Progress})
			if err != nil {
				return false, fmt.Errorf("train: epoch %d: %w", e+1, err)
			}
			s.Extra = map[string]float64{"test_acc_running": m.Accuracy, "test_loss_running": m.Loss}
		}
		opt := *t.Recalibrate
		opt.Seed += int64(e)
		if err := RecalibrateBN(t.Model, t.Train.Set(), opt); err != nil {
			return false, fmt.Errorf("train: epoch %d: %w", e+1, err)
		}
	}
	if t.Test != nil {
		m, err := Evaluate(t.Model, t.Test, EvalOptions{Batch: t.EvalBatch, Progress: t.Progress})
		if err != nil {
			return false, fmt.Errorf("train: epoch %d: %w", e+1, err)
		}
		s.TestLoss, s.TestAcc, s.HasTest = m.Loss, m.Accuracy, true
	}
	_, s.ReLUs = t.Model.ReLUCount()
	for _, h := range t.AfterEpoch {
		if err := h(&s); err != nil {
			if errors.Is(err, ErrStop) {
				stop = true
				continue
			}
			return false, fmt.Errorf("train: after epoch %d: %w", e+1, err)
		}
	}
	s.Seconds = (prior + time.Since(start)).Seconds()
	t.Elapsed += prior + time.Since(start)
	t.History = append(t.History, s)
	if t.KeepBest != nil && t.KeepBest(s, t.Best) {
		best := s
		t.Best = &best
		if t.BestPath != "" {
			if err := t.Model.Save(t.BestPath); err != nil {
				return false, fmt.Errorf("train: saving best model: %w", err)
			}
		}
	}
	if t.Log != nil {
		line := fmt.Sprintf("epoch %d/%d: train loss %.4f acc %.2f%%", s.Epoch, t.Epochs, s.TrainLoss, 100*s.TrainAcc)
		if s.HasTest {
			line += fmt.Sprintf(", test loss %.4f acc %.2f%%", s.TestLoss, 100*s.TestAcc)
			if v, ok := s.Extra["test_acc_running"]; ok {
				line += fmt.Sprintf(" (%.2f%% before batch-norm recalibration)", 100*v)
			}
		}
		line += fmt.Sprintf(", relus %d, %.1fs", s.ReLUs, s.Seconds)
		fmt.Fprintln(t.Log, line)
	}
	if t.Checkpoint != "" {
		if err := t.SaveCheckpoint(t.Checkpoint); err != nil {
			return false, err
		}
	}
	return stop, nil
}

// interrupted returns the ErrInterrupted of a stop at the position at
// (the checkpoint is written).
func (t *Trainer) interrupted(at string) error {
	where := "no checkpoint (none configured)"
	if t.Checkpoint != "" {
		where = "checkpoint written to " + t.Checkpoint
	}
	return fmt.Errorf("%w %s: %s", ErrInterrupted, at, where)
}

// defaultStep is cross-entropy with label smoothing.
func (t *Trainer) defaultStep(b data.Batch) (loss, logits *autograd.Var, err error) {
	logits, err = t.Model.Forward(autograd.Const(b.X))
	if err != nil {
		return nil, nil, err
	}
	loss, err = nn.CrossEntropy(logits, b.Y, t.LabelSmoothing)
	return loss, logits, err
}

// Record is the training record stored in a model file's autorep.train
// metadata.
type Record struct {
	Command  string       `json:"command,omitempty"`
	Dataset  string       `json:"dataset,omitempty"`
	Source   string       `json:"source,omitempty"` // the file or directory the training set was read from
	Epochs   int          `json:"epochs"`
	Steps    int          `json:"steps"`
	Seconds  float64      `json:"seconds"`
	TestAcc  float64      `json:"test_acc,omitempty"`
	Config   any          `json:"config,omitempty"`
	History  []EpochStats `json:"history"`
	Best     *EpochStats  `json:"best,omitempty"`
	Finished string       `json:"finished,omitempty"`
}

// Record summarises the run so far.
func (t *Trainer) Record() Record {
	r := Record{Epochs: t.Epoch(), Steps: t.GlobalStep, Seconds: t.Elapsed.Seconds(),
		History: append([]EpochStats(nil), t.History...), Best: t.Best,
		Finished: time.Now().UTC().Format(time.RFC3339)}
	if n := len(t.History); n > 0 && t.History[n-1].HasTest {
		r.TestAcc = t.History[n-1].TestAcc
	}
	return r
}
