package train

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/optim"
	"github.com/autorep/autorep/tensor"
)

// KeyCheckpoint is the metadata key holding a checkpoint's run state.
const KeyCheckpoint = modelfile.KeyCheckpoint

// Tensor name prefixes inside a checkpoint file.
const (
	modelPrefix = modelfile.CheckpointModelPrefix
	optimPrefix = modelfile.CheckpointOptimPrefix
)

// Checkpoint versions: 1 holds the state after a completed epoch (what
// binaries before mid-epoch checkpoints write; still read); 2 adds
// Position, set in a checkpoint written within an epoch. Version 2 is
// written always, so that an older binary refuses a mid-epoch checkpoint
// instead of restarting its epoch from half-trained weights.
const (
	ckptVersionEpoch = 1
	ckptVersion      = 2
)

// ckptState is the JSON run state stored under KeyCheckpoint.
type ckptState struct {
	Version    int                        `json:"version"`
	Arch       string                     `json:"arch"`
	Epoch      int                        `json:"epoch"`
	GlobalStep int                        `json:"global_step"`
	ElapsedNS  int64                      `json:"elapsed_ns"`
	History    []EpochStats               `json:"history"`
	Best       *EpochStats                `json:"best,omitempty"`
	Optim      optim.State                `json:"optim"`
	Extra      map[string]json.RawMessage `json:"extra,omitempty"`
	// Position is the epoch in progress (number Epoch+1) in a mid-epoch
	// checkpoint; nil after a completed epoch.
	Position *epochPos `json:"position,omitempty"`
	// Epochs and Schedule are the run's length and learning-rate schedule
	// (scheduleString); Resume refuses other learning rates and notes
	// another length (absent in checkpoints of older binaries: not
	// checked).
	Epochs   int    `json:"epochs,omitempty"`
	Schedule string `json:"schedule,omitempty"`
}

// scheduleRates drops a cosine schedule's length (Total=N) from its
// scheduleString, leaving what a resumed run must keep.
func scheduleRates(s string) string {
	i := strings.Index(s, " Total:")
	if !strings.HasPrefix(s, "optim.Cosine{") || i < 0 {
		return s
	}
	return s[:i] + "}"
}

// scheduleString describes s for the checkpoint ("" for nil): its type
// and fields, e.g. "optim.Cosine{Base:0.001 Min:1e-05 Warmup:0 Total:1560}".
func scheduleString(s optim.Schedule) string {
	if s == nil {
		return ""
	}
	return fmt.Sprintf("%T%+v", s, s)
}

// SaveCheckpoint writes the model, optimiser state and run state to path
// atomically (one .safetensors file: model tensors under "model.",
// optimiser buffers under "optim.", run state in the metadata; written to
// a temporary file renamed over path, so the previous checkpoint stays
// until the new one is complete). Between epochs it records the epochs
// done; after Resume from a mid-epoch checkpoint, before the epoch
// continues, it records that position again.
func (t *Trainer) SaveCheckpoint(path string) error {
	st := ckptState{Version: ckptVersion, Arch: t.Model.Arch, Epoch: t.Epoch(), GlobalStep: t.GlobalStep,
		ElapsedNS: int64(t.Elapsed), History: t.History, Best: t.Best, Optim: t.Opt.State(), Position: t.pos,
		Epochs: t.Epochs, Schedule: scheduleString(t.Schedule)}
	if len(t.State) > 0 {
		st.Extra = map[string]json.RawMessage{}
		for name, s := range t.State {
			raw, err := s.SaveState()
			if err != nil {
				return fmt.Errorf("train: checkpoint state %q: %w", name, err)
			}
			st.Extra[name] = raw
		}
	}
	mt, err := t.Model.Tensors()
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	ts := map[string]*tensor.Tensor{}
	for k, v := range mt {
		ts[modelPrefix+k] = v
	}
	for k, v := range st.Optim.Tensors {
		ts[optimPrefix+k] = v
	}
	meta := t.Model.Meta.Clone()
	meta.Arch, meta.Classes, meta.Input = t.Model.Arch, t.Model.Classes, t.Model.Input
	if err := meta.SetJSON(KeyCheckpoint, st); err != nil {
		return err
	}
	if err := modelfile.Write(path, ts, meta.Map()); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	t.lastSave = time.Now()
	return nil
}

// saveAt writes the checkpoint within an epoch, at position p.
func (t *Trainer) saveAt(p epochPos) error {
	t.pos = &p
	defer func() { t.pos = nil }()
	return t.SaveCheckpoint(t.Checkpoint)
}

// Position returns the epoch (0-based) and the batches of it done that
// the next Run continues from: after Resume from a mid-epoch checkpoint
// (epoch, batches > 0), else (Epoch(), 0).
func (t *Trainer) Position() (epoch, batches int) {
	if t.pos != nil {
		return t.Epoch(), t.pos.Batches
	}
	return t.Epoch(), 0
}

// Resume restores the state saved by SaveCheckpoint at path into t, whose
// Model and Opt must be built exactly as in the interrupted run (same
// architecture, same activations installed, same parameter groups) and
// over the same data and batch size. Run then continues where the
// checkpoint was written: within its epoch (mid-epoch checkpoint), or with
// the epoch after the last completed one. The file is
// validated before anything is restored, but the model, optimiser and
// State entries are restored one after the other: after an error, do not
// train with t.
func (t *Trainer) Resume(path string) error {
	if t.Model == nil || t.Opt == nil {
		return fmt.Errorf("train: resume: model and optimiser must be set first")
	}
	f, err := modelfile.Read(path)
	if err != nil {
		return fmt.Errorf("train: resume: %w", err)
	}
	raw, ok := f.Metadata[KeyCheckpoint]
	if !ok {
		return fmt.Errorf("train: resume: %s is not a checkpoint (no %s metadata)", path, KeyCheckpoint)
	}
	var st ckptState
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return fmt.Errorf("train: resume: %s: bad checkpoint state: %w", path, err)
	}
	if st.Version != ckptVersion && st.Version != ckptVersionEpoch {
		return fmt.Errorf("train: resume: %s: unsupported checkpoint version %d (this binary reads %d and %d)", path, st.Version, ckptVersionEpoch, ckptVersion)
	}
	if st.Arch != t.Model.Arch {
		return fmt.Errorf("train: resume: %s holds a %q model, this run trains %q", path, st.Arch, t.Model.Arch)
	}
	if st.Epoch != len(st.History) || st.Epoch < 0 || st.GlobalStep < 0 {
		return fmt.Errorf("train: resume: %s: inconsistent checkpoint (epoch %d, %d history entries)", path, st.Epoch, len(st.History))
	}
	// The steps so far followed the checkpoint's learning rates: another
	// rate would continue a run that never was. The length may change (a
	// finished phase continued for more epochs, as `reduce --resume
	// --finetune-epochs` does); the remaining steps then follow the new
	// length's schedule, which no uninterrupted run of either length had,
	// so it is logged.
	if cur := scheduleString(t.Schedule); st.Schedule != "" && scheduleRates(st.Schedule) != scheduleRates(cur) {
		return fmt.Errorf("train: resume: %s was written with the learning-rate schedule %s, this run's is %s: resume with the run's own learning rate and batch size",
			path, st.Schedule, cur)
	}
	if st.Epochs > 0 && st.Epochs != t.Epochs && t.Log != nil {
		fmt.Fprintf(t.Log, "note: %s was written by a run of %d epochs, continued as a run of %d: its remaining steps follow the %d-epoch learning-rate schedule\n",
			path, st.Epochs, t.Epochs, t.Epochs)
	}
	if p := st.Position; p != nil {
		if st.Version == ckptVersionEpoch || p.Batches < 1 || p.Batches > p.Of || p.Seen < 1 || p.Correct < 0 || p.Correct > p.Seen ||
			math.IsNaN(p.LossSum) || p.ElapsedNS < 0 {
			return fmt.Errorf("train: resume: %s: inconsistent mid-epoch position %+v", path, *p)
		}
		if t.Train != nil {
			if of, batch := t.Train.Len(), t.Train.Config().Batch; p.Of != of || p.Batch != batch {
				return fmt.Errorf("train: resume: %s was written at batch %d of an epoch of %d batches of %d images; this run has %d batches of %d (resume with the same batch size and data)",
					path, p.Batches, p.Of, p.Batch, of, batch)
			}
		}
	}
	model := map[string]*tensor.Tensor{}
	st.Optim.Tensors = map[string]*tensor.Tensor{}
	for name, v := range f.Tensors {
		switch {
		case strings.HasPrefix(name, modelPrefix):
			model[strings.TrimPrefix(name, modelPrefix)] = v
		case strings.HasPrefix(name, optimPrefix):
			st.Optim.Tensors[strings.TrimPrefix(name, optimPrefix)] = v
		default:
			return fmt.Errorf("train: resume: %s: unexpected tensor %q", path, name)
		}
	}
	if err := t.Model.LoadTensors(model); err != nil {
		return fmt.Errorf("train: resume: %s: %w", path, err)
	}
	if err := t.Opt.LoadState(st.Optim); err != nil {
		return fmt.Errorf("train: resume: %s: %w", path, err)
	}
	for name, s := range t.State {
		raw, ok := st.Extra[name]
		if !ok {
			return fmt.Errorf("train: resume: %s: no saved state for %q", path, name)
		}
		if err := s.LoadState(raw); err != nil {
			return fmt.Errorf("train: resume: %s: state %q: %w", path, name, err)
		}
	}
	t.History = st.History
	t.Best = st.Best
	t.GlobalStep = st.GlobalStep
	t.Elapsed = time.Duration(st.ElapsedNS)
	t.pos = st.Position
	return nil
}
