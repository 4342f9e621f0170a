package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/internal/testutil"
	"github.com/autorep/autorep/modelfile"
)

// sameRun requires that resumed ended bit-identical to full: model
// tensors (weights, batch-norm statistics), optimiser state, step count,
// the hook's state and the epoch history (all but wall times).
func sameRun(t *testing.T, what string, full, resumed *Trainer, cFull, cResumed *counter) {
	t.Helper()
	a, err := full.Model.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	b, err := resumed.Model.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.SameTensors(a, b); err != nil {
		t.Fatalf("%s: model, resumed vs uninterrupted: %v", what, err)
	}
	oa, ob := full.Opt.State(), resumed.Opt.State()
	if err := testutil.SameTensors(oa.Tensors, ob.Tensors); err != nil {
		t.Fatalf("%s: optimiser, resumed vs uninterrupted: %v", what, err)
	}
	oa.Tensors, ob.Tensors = nil, nil
	if !reflect.DeepEqual(oa, ob) {
		t.Fatalf("%s: optimiser state %+v uninterrupted, %+v resumed", what, oa, ob)
	}
	if full.GlobalStep != resumed.GlobalStep || cFull.N != cResumed.N {
		t.Fatalf("%s: steps %d/%d, hook counter %d/%d", what, full.GlobalStep, resumed.GlobalStep, cFull.N, cResumed.N)
	}
	if len(full.History) != len(resumed.History) {
		t.Fatalf("%s: %d epochs uninterrupted, %d resumed", what, len(full.History), len(resumed.History))
	}
	for i := range full.History {
		h1, h2 := full.History[i], resumed.History[i]
		h1.Seconds, h2.Seconds = 0, 0
		if !reflect.DeepEqual(h1, h2) {
			t.Fatalf("%s: epoch %d logged %+v uninterrupted, %+v resumed", what, i+1, h1, h2)
		}
	}
}

// TestMidEpochResumeExact stops runs within an epoch (the trainer's
// Interrupt at a step boundary: the checkpoint is written there), resumes
// each in a fresh trainer, possibly stopping again, and requires the
// outcome of the uninterrupted run bit for bit. 4 batches an epoch: step 4
// is an epoch's last batch (the checkpoint is written before the epoch's
// evaluation), 5 and 6 the next epoch's first two.
func TestMidEpochResumeExact(t *testing.T) {
	for _, opt := range []string{"sgd", "adam"} {
		dir := t.TempDir()
		full, cFull := newTrainer(t, filepath.Join(dir, "full.ckpt"), 0, opt)
		if err := full.Run(); err != nil {
			t.Fatal(err)
		}
		for run, stops := range [][]int{{1}, {3}, {4}, {5}, {11}, {5, 6}, {2, 7, 10}} {
			ckpt := filepath.Join(dir, fmt.Sprintf("%s-%d.ckpt", opt, run))
			var tr *Trainer
			var c *counter
			for i, k := range stops {
				tr, c = newTrainer(t, ckpt, 0, opt)
				if i > 0 {
					if err := tr.Resume(ckpt); err != nil {
						t.Fatal(err)
					}
					if e, b := tr.Position(); e*4+b != stops[i-1] {
						t.Fatalf("%s %v: resumed at epoch %d batch %d, want step %d", opt, stops, e, b, stops[i-1])
					}
				}
				tr.Interrupt = func(step int) bool { return step == k }
				err := tr.Run()
				if !errors.Is(err, ErrInterrupted) || tr.GlobalStep != k {
					t.Fatalf("%s %v: stop at step %d: %v after %d steps", opt, stops, k, err, tr.GlobalStep)
				}
			}
			tr, c = newTrainer(t, ckpt, 0, opt)
			if err := tr.Resume(ckpt); err != nil {
				t.Fatal(err)
			}
			if tr.GlobalStep != stops[len(stops)-1] || c.N != tr.GlobalStep {
				t.Fatalf("%s %v: resumed at step %d, hook counter %d", opt, stops, tr.GlobalStep, c.N)
			}
			if err := tr.Run(); err != nil {
				t.Fatal(err)
			}
			sameRun(t, fmt.Sprintf("%s stopped at steps %v", opt, stops), full, tr, cFull, c)
		}
		// A stop asked for during an epoch's evaluation (as a signal
		// would) takes effect after its checkpoint, before the next step.
		ckpt := filepath.Join(dir, opt+"-eval.ckpt")
		tr, _ := newTrainer(t, ckpt, 0, opt)
		asked := false
		tr.AfterEpoch = append(tr.AfterEpoch, func(s *EpochStats) error { asked = s.Epoch == 2; return nil })
		tr.Interrupt = func(int) bool { return asked }
		if err := tr.Run(); !errors.Is(err, ErrInterrupted) || tr.GlobalStep != 8 {
			t.Fatalf("%s: stop during the evaluation: %v after %d steps", opt, err, tr.GlobalStep)
		}
		tr, c := newTrainer(t, ckpt, 0, opt)
		if err := tr.Resume(ckpt); err != nil {
			t.Fatal(err)
		}
		if e, b := tr.Position(); e != 2 || b != 0 {
			t.Fatalf("%s: stopped after epoch 2, resumed at epoch %d batch %d", opt, e, b)
		}
		if err := tr.Run(); err != nil {
			t.Fatal(err)
		}
		sameRun(t, opt+" stopped after epoch 2", full, tr, cFull, c)
	}
}

// errKill is what a simulated kill panics with.
type errKill struct{}

// TestPeriodicCheckpointExact kills runs (a panic, no checkpoint written
// at the kill) that write a checkpoint at every step boundary
// (CheckpointEvery of 1ns): the resumed run continues from the step
// before the kill and ends bit-identical to an uninterrupted run, which
// the checkpoints themselves do not change.
func TestPeriodicCheckpointExact(t *testing.T) {
	dir := t.TempDir()
	full, cFull := newTrainer(t, "", 0, "adam")
	if err := full.Run(); err != nil {
		t.Fatal(err)
	}
	every, cEvery := newTrainer(t, filepath.Join(dir, "every.ckpt"), 0, "adam")
	every.CheckpointEvery = time.Nanosecond
	if err := every.Run(); err != nil {
		t.Fatal(err)
	}
	sameRun(t, "checkpointing every step", full, every, cFull, cEvery)
	for _, k := range []int{3, 6, 9} {
		ckpt := filepath.Join(dir, "kill.ckpt")
		tr, _ := newTrainer(t, ckpt, 0, "adam")
		tr.CheckpointEvery = time.Nanosecond
		tr.Interrupt = func(step int) bool {
			if step == k {
				panic(errKill{})
			}
			return false
		}
		func() {
			defer func() {
				if v := recover(); v != nil {
					if _, ok := v.(errKill); !ok {
						panic(v)
					}
				}
			}()
			tr.Run()
			t.Fatalf("kill at step %d never happened", k)
		}()
		tr, c := newTrainer(t, ckpt, 0, "adam")
		if err := tr.Resume(ckpt); err != nil {
			t.Fatal(err)
		}
		if tr.GlobalStep != k-1 {
			t.Fatalf("killed at step %d, resumed at step %d: want the checkpoint of the step before", k, tr.GlobalStep)
		}
		if err := tr.Run(); err != nil {
			t.Fatal(err)
		}
		sameRun(t, "killed", full, tr, cFull, c)
	}
}

// rewriteState rewrites the run state of the checkpoint at path with
// edit applied to its decoded JSON.
func rewriteState(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	f, err := modelfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(f.Metadata[KeyCheckpoint]), &st); err != nil {
		t.Fatal(err)
	}
	edit(st)
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	f.Metadata[KeyCheckpoint] = string(raw)
	if err := modelfile.Write(path, f.Tensors, f.Metadata); err != nil {
		t.Fatal(err)
	}
}

// TestEpochCheckpointV1 resumes a checkpoint in the format binaries
// before mid-epoch checkpoints wrote (version 1, no position: the state
// after a completed epoch) exactly, and refuses a version-1 file that
// claims a position, and a mid-epoch checkpoint under another batch size.
func TestEpochCheckpointV1(t *testing.T) {
	dir := t.TempDir()
	full, cFull := newTrainer(t, "", 0, "sgd")
	if err := full.Run(); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "v1.ckpt")
	part, _ := newTrainer(t, ckpt, 1, "sgd")
	if err := part.Run(); err != nil {
		t.Fatal(err)
	}
	rewriteState(t, ckpt, func(st map[string]any) {
		if st["version"] != float64(ckptVersion) || st["position"] != nil {
			t.Fatalf("epoch-end checkpoint state %v", st)
		}
		st["version"] = 1
	})
	tr, c := newTrainer(t, ckpt, 0, "sgd")
	if err := tr.Resume(ckpt); err != nil {
		t.Fatal(err)
	}
	if e, b := tr.Position(); e != 1 || b != 0 {
		t.Fatalf("version-1 checkpoint resumed at epoch %d batch %d", e, b)
	}
	if err := tr.Run(); err != nil {
		t.Fatal(err)
	}
	sameRun(t, "version 1", full, tr, cFull, c)

	mid := filepath.Join(dir, "mid.ckpt")
	tr, _ = newTrainer(t, mid, 0, "sgd")
	tr.Interrupt = func(step int) bool { return step == 6 }
	if err := tr.Run(); !errors.Is(err, ErrInterrupted) {
		t.Fatal(err)
	}
	other, _ := newTrainer(t, "", 0, "sgd")
	other.Train = data.NewLoader(other.Train.Set(), data.LoaderConfig{Batch: 20, Shuffle: true, Seed: 9, Augment: true, Pad: 1})
	if err := other.Resume(mid); err == nil || !strings.Contains(err.Error(), "batches of 16") {
		t.Fatalf("mid-epoch checkpoint of batch 16 resumed with batch 20: %v", err)
	}
	rewriteState(t, mid, func(st map[string]any) { st["version"] = 1 })
	fresh, _ := newTrainer(t, "", 0, "sgd")
	if err := fresh.Resume(mid); err == nil || !strings.Contains(err.Error(), "position") {
		t.Fatalf("version-1 checkpoint with a position accepted: %v", err)
	}
}
