package train

import (
	"fmt"
	"io"
	"math"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/internal/progress"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
)

// EvalOptions tunes Evaluate.
type EvalOptions struct {
	// Batch is the batch size (default 256).
	Batch int
	// Limit evaluates only the first Limit images (0 = all).
	Limit int
	// Progress receives a progress bar (nil for none).
	Progress io.Writer
}

// Metrics is the result of an evaluation.
type Metrics struct {
	N        int     `json:"n"`
	Correct  int     `json:"correct"`
	Loss     float64 `json:"loss"`
	Accuracy float64 `json:"accuracy"`
	// NonFinite counts the images whose logits overflowed (Inf or NaN, e.g.
	// a polynomial activation blowing up on an outlier): they count as
	// misclassified and are left out of Loss.
	NonFinite int `json:"non_finite,omitempty"`
}

// Evaluate runs the model in evaluation mode, without recording gradients, over
// set (normalised with the set's mean and std, no augmentation) and
// returns the mean cross-entropy and the top-1 accuracy. It leaves the model in
// evaluation mode.
func Evaluate(m *models.Model, set *data.Set, opt EvalOptions) (Metrics, error) {
	if set == nil || set.N == 0 {
		return Metrics{}, fmt.Errorf("train: evaluate: empty dataset")
	}
	bs := opt.Batch
	if bs <= 0 {
		bs = 256
	}
	if opt.Limit > 0 && opt.Limit < set.N {
		set = set.Take(opt.Limit)
	}
	m.SetTraining(false)
	bar := progress.New(opt.Progress, "eval", set.N, "img")
	var res Metrics
	var lossSum float64
	var runErr error
	it := data.NewLoader(set, data.LoaderConfig{Batch: bs}).Epoch(0)
	defer it.Close()
	autograd.NoGrad(func() {
		for {
			b, ok := it.Next()
			if !ok {
				return
			}
			logits, err := m.Forward(autograd.Const(b.X))
			if err != nil {
				runErr = err
				return
			}
			finite, labels := finiteRows(logits.Value, b.Y)
			n := len(b.Y)
			res.N += n
			res.NonFinite += n - len(labels)
			if len(labels) == 0 {
				return
			}
			loss, err := nn.CrossEntropy(autograd.Const(finite), labels, 0)
			if err != nil {
				runErr = err
				return
			}
			lossSum += float64(loss.Value.Data[0]) * float64(len(labels))
			res.Correct += nn.Accuracy(finite, labels)
			if res.N < set.N {
				bar.Set(res.N, fmt.Sprintf("acc %.2f%%", 100*float64(res.Correct)/float64(res.N)))
			}
		}
	})
	if runErr != nil {
		return Metrics{}, fmt.Errorf("train: evaluate: %w", runErr)
	}
	if res.NonFinite == res.N {
		return res, fmt.Errorf("train: evaluate: the logits of all %d images are Inf or NaN (diverged)", res.N)
	}
	res.Loss = lossSum / float64(res.N-res.NonFinite)
	res.Accuracy = float64(res.Correct) / float64(res.N)
	info := fmt.Sprintf("loss %.4f acc %.2f%%", res.Loss, 100*res.Accuracy)
	if res.NonFinite > 0 {
		info += fmt.Sprintf(" (%d images with overflowing logits)", res.NonFinite)
	}
	bar.Finish(info)
	return res, nil
}

// finiteRows returns the rows of logits [N, K] (and their labels) whose
// values are all finite; logits itself when every row is.
func finiteRows(logits *tensor.Tensor, labels []int32) (*tensor.Tensor, []int32) {
	k := logits.Shape[1]
	keep := make([]int, 0, len(labels))
	for i := range labels {
		ok := true
		for _, v := range logits.Data[i*k : (i+1)*k] {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				ok = false
				break
			}
		}
		if ok {
			keep = append(keep, i)
		}
	}
	if len(keep) == len(labels) {
		return logits, labels
	}
	out := tensor.New(len(keep), k)
	ys := make([]int32, len(keep))
	for j, i := range keep {
		copy(out.Data[j*k:], logits.Data[i*k:(i+1)*k])
		ys[j] = labels[i]
	}
	return out, ys
}
