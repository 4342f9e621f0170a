package train

import (
	"errors"
	"fmt"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
)

// EvalSet names the images `autorep eval` evaluates a model file on: a
// split of a dataset, whole, a fixed random subset, or the range of
// images `autorep infer` classifies with the same --index, --count and
// --stride. Its errors name those flags.
type EvalSet struct {
	// Model is the model file; Dataset the dataset ("": the one the file
	// records), DataDir data.Dir's flag value, Train the training split
	// instead of the test split.
	Model, Dataset, DataDir string
	Train                   bool
	// N > 0 takes a fixed random subset of N images (seed 1; all if the
	// split is smaller).
	N int
	// Ranged takes images Index, Index+Stride, ... (Count of them) instead.
	Ranged               bool
	Index, Count, Stride int
}

// Check refuses a range that names no image (what Load refuses before
// loading anything).
func (e EvalSet) Check() error {
	if e.Ranged && (e.Index < 0 || e.Count < 1 || e.Stride < 1) {
		return errors.New("--index I --count N [--stride S] need I >= 0, N >= 1, S >= 1")
	}
	return nil
}

// Load loads the model and the images, checked against the model's input
// shape and classes. It returns the dataset's name, the images, and the
// dataset index of each.
func (e EvalSet) Load() (m *models.Model, name string, set *data.Set, idx []int, err error) {
	if err := e.Check(); err != nil {
		return nil, "", nil, nil, err
	}
	if m, err = models.Load(e.Model); err != nil {
		return nil, "", nil, nil, err
	}
	if name, err = m.DatasetName(e.Dataset, e.Model); err != nil {
		return nil, "", nil, nil, err
	}
	if set, err = data.Load(data.Dir(e.DataDir), name, e.Train); err != nil {
		return nil, "", nil, nil, err
	}
	if in := [3]int{set.C, set.H, set.W}; in != m.Input || set.Classes != m.Classes {
		return nil, "", nil, nil, fmt.Errorf("%s expects %v inputs and %d classes; dataset %s has %v and %d", e.Model, m.Input, m.Classes, name, in, set.Classes)
	}
	if e.Ranged {
		if last := e.Index + (e.Count-1)*e.Stride; last >= set.N {
			return nil, "", nil, nil, fmt.Errorf("--index %d --count %d --stride %d reaches image %d; %s has %d", e.Index, e.Count, e.Stride, last, name, set.N)
		}
		for k := 0; k < e.Count; k++ {
			idx = append(idx, e.Index+k*e.Stride)
		}
		set, err = set.Subset(idx)
		return m, name, set, idx, err
	}
	if e.N > 0 && e.N < set.N {
		set = set.Sample(e.N, 1)
	}
	for i := range set.N {
		idx = append(idx, i)
	}
	return m, name, set, idx, nil
}
