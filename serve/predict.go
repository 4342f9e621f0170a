package serve

import (
	"fmt"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/internal/stat"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/tensor"
)

// Prediction is the model owner's label of one image (`autorep eval
// --predictions`): the float model's, and optionally the fixed-point
// executor's, which private inference reproduces.
type Prediction struct {
	Index      int  `json:"index"`
	Label      int  `json:"label"`
	TrueLabel  int  `json:"true_label"`
	FixedLabel *int `json:"fixed_label,omitempty"`
}

// Predict returns the float model's label of every image of set (and the
// label of the fixed-point executor compiled with *fixed, if fixed is not
// nil), indexed by idx (the images' indices in the dataset they were
// taken from, one per image of set), in batches of batch images. The
// model owner's side of a private-vs-plaintext check: a client's private
// labels equal the fixed-point ones.
func Predict(m *models.Model, set *data.Set, idx []int, batch int, fixed *pi.Config) ([]Prediction, error) {
	if len(idx) != set.N || batch < 1 {
		return nil, fmt.Errorf("serve: predict: %d indices for %d images, batch %d", len(idx), set.N, batch)
	}
	var plan *pi.Plan
	if fixed != nil {
		var err error
		if plan, err = pi.Compile(m, *fixed); err != nil {
			return nil, err
		}
	}
	out := make([]Prediction, 0, set.N)
	for lo := 0; lo < set.N; lo += batch {
		hi := min(lo+batch, set.N)
		x := set.NormalizedRange(lo, hi)
		y, err := pi.ReferenceLogits(m, x)
		if err != nil {
			return nil, err
		}
		var yf *tensor.Tensor
		if plan != nil {
			if yf, err = plan.EvalFixed(x); err != nil {
				return nil, err
			}
		}
		classes := y.Shape[1]
		for i := lo; i < hi; i++ {
			k := i - lo
			p := Prediction{Index: idx[i], Label: stat.Argmax(y.Data[k*classes : (k+1)*classes]), TrueLabel: int(set.Labels[i])}
			if yf != nil {
				l := stat.Argmax(yf.Data[k*classes : (k+1)*classes])
				p.FixedLabel = &l
			}
			out = append(out, p)
		}
	}
	return out, nil
}
