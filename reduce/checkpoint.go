package reduce

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/optim"
	"github.com/autorep/autorep/tensor"
)

// checkpointKey is the metadata key of a reduction checkpoint's state.
const checkpointKey = "autorep.reduce.checkpoint"

// Tensor name prefixes inside a checkpoint file.
const (
	ckptModel = "model/"
	ckptOptim = "optim/"
	ckptBest  = "best/"
)

// ckptState is the JSON part of a checkpoint.
type ckptState struct {
	Method   string           `json:"method"`
	Budget   int              `json:"budget"`
	Degree   int              `json:"degree"`
	Sites    int              `json:"sites"`
	Phase    string           `json:"phase"`
	Epoch    int              `json:"epoch"`
	Step     int              `json:"step"`
	History  []EpochLog       `json:"history"`
	HaveBest bool             `json:"have_best"`
	BestAcc  float64          `json:"best_acc"`
	BestAt   EpochLog         `json:"best_at"`
	Forced   bool             `json:"forced,omitempty"`
	L1Done   bool             `json:"l1_done,omitempty"`
	Eta      float64          `json:"eta,omitempty"`
	EtaBest  int              `json:"eta_best,omitempty"`
	OptKind  string           `json:"opt_kind,omitempty"`
	OptLR    float64          `json:"opt_lr,omitempty"`
	OptSteps map[string]int64 `json:"opt_steps,omitempty"`
}

// saveCheckpoint writes the run state (model, optimiser, best snapshot,
// schedule) to cfg.Checkpoint, atomically.
func (r *runner) saveCheckpoint() error {
	if r.cfg.Checkpoint == "" {
		return nil
	}
	sd, err := nn.StateDict(r.net.Student)
	if err != nil {
		return fmt.Errorf("reduce: checkpoint: %w", err)
	}
	tensors := map[string]*tensor.Tensor{}
	for k, v := range sd {
		tensors[ckptModel+k] = v
	}
	for k, v := range r.best {
		tensors[ckptBest+k] = v
	}
	st := ckptState{
		Method: r.cfg.Method, Budget: r.cfg.Budget, Degree: r.cfg.Degree, Sites: len(r.net.Sites),
		Phase: r.phase, Epoch: r.epoch, Step: r.step, History: r.history,
		HaveBest: r.haveBest, BestAcc: r.bestAcc, BestAt: r.bestAt, Forced: r.forced, L1Done: r.l1Done,
	}
	if r.eta != nil {
		st.Eta, st.EtaBest = r.eta.Eta, r.eta.Best
	}
	if r.opt != nil {
		os := r.opt.State()
		st.OptKind, st.OptLR, st.OptSteps = os.Kind, os.LR, os.Steps
		for k, v := range os.Tensors {
			tensors[ckptOptim+k] = v
		}
	}
	js, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("reduce: checkpoint: %w", err)
	}
	if err := modelfile.Write(r.cfg.Checkpoint, tensors, map[string]string{checkpointKey: string(js)}); err != nil {
		return fmt.Errorf("reduce: checkpoint: %w", err)
	}
	return nil
}

// load restores the run state from cfg.Checkpoint (after install).
func (r *runner) load() error {
	f, err := modelfile.Read(r.cfg.Checkpoint)
	if err != nil {
		return err
	}
	raw, ok := f.Metadata[checkpointKey]
	if !ok {
		return fmt.Errorf("not a reduction checkpoint (no %s metadata)", checkpointKey)
	}
	var st ckptState
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("checkpoint state: %w", err)
	}
	if st.Method != r.cfg.Method || st.Budget != r.cfg.Budget || st.Degree != r.cfg.Degree || st.Sites != len(r.net.Sites) {
		return fmt.Errorf("checkpoint is for method %s budget %d degree %d with %d sites; this run is %s budget %d degree %d with %d sites",
			st.Method, st.Budget, st.Degree, st.Sites, r.cfg.Method, r.cfg.Budget, r.cfg.Degree, len(r.net.Sites))
	}
	switch st.Phase {
	case "search", "l1", "finetune":
	default:
		return fmt.Errorf("checkpoint has unknown phase %q", st.Phase)
	}
	if st.Epoch < 0 || st.Step < 0 {
		return fmt.Errorf("checkpoint has negative epoch/step")
	}
	model, best, opt := map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}
	for k, v := range f.Tensors {
		switch {
		case strings.HasPrefix(k, ckptModel):
			model[strings.TrimPrefix(k, ckptModel)] = v
		case strings.HasPrefix(k, ckptBest):
			best[strings.TrimPrefix(k, ckptBest)] = v
		case strings.HasPrefix(k, ckptOptim):
			opt[strings.TrimPrefix(k, ckptOptim)] = v
		default:
			return fmt.Errorf("unexpected tensor %q", k)
		}
	}
	// Bring the activations into the checkpoint's phase.
	if st.Phase == "finetune" {
		switch r.cfg.Method {
		case MethodAutoReP:
			for _, m := range r.masked {
				m.Frozen = true
				m.Score.SetRequiresGrad(false)
			}
		case MethodSNL:
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
		}
	}
	if err := nn.LoadStateDict(r.net.Student, model); err != nil {
		return err
	}
	if st.HaveBest && len(best) == 0 {
		return fmt.Errorf("checkpoint claims a best snapshot but has none")
	}
	r.phase, r.epoch, r.step, r.history = st.Phase, st.Epoch, st.Step, st.History
	r.haveBest, r.bestAcc, r.bestAt, r.forced, r.l1Done = st.HaveBest, st.BestAcc, st.BestAt, st.Forced, st.L1Done
	if st.HaveBest {
		r.best = best
	}
	if r.eta != nil && st.Eta > 0 {
		r.eta.Eta, r.eta.Best = st.Eta, st.EtaBest
	}
	if st.OptKind != "" {
		if err := r.newOptimizer(st.Phase); err != nil {
			return err
		}
		if err := r.opt.LoadState(optim.State{Kind: st.OptKind, LR: st.OptLR, Steps: st.OptSteps, Tensors: opt}); err != nil {
			return err
		}
	}
	return nil
}
