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
			loss, err := nn.CrossEntropy(logits, b.Y, 0)
			if err != nil {
				runErr = err
				return
			}
			n := len(b.Y)
			lossSum += float64(loss.Value.Data[0]) * float64(n)
			res.Correct += nn.Accuracy(logits.Value, b.Y)
			res.N += n
			if res.N < set.N {
				bar.Set(res.N, fmt.Sprintf("acc %.2f%%", 100*float64(res.Correct)/float64(res.N)))
			}
		}
	})
	if runErr != nil {
		return Metrics{}, fmt.Errorf("train: evaluate: %w", runErr)
	}
	res.Loss = lossSum / float64(res.N)
	res.Accuracy = float64(res.Correct) / float64(res.N)
	bar.Finish(fmt.Sprintf("loss %.4f acc %.2f%%", res.Loss, 100*res.Accuracy))
	if math.IsNaN(res.Loss) {
		return res, fmt.Errorf("train: evaluate: loss is NaN")
	}
	return res, nil
}
