package train

import (
	"fmt"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/internal/stat"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
)

// RecalibrateOptions tunes RecalibrateBN.
type RecalibrateOptions struct {
	// Batches is the number of batches forwarded (default 50).
	Batches int
	// Batch is the batch size (default 128).
	Batch int
	// Seed chooses the shuffled batches.
	Seed int64
}

// RecalibrateBN recomputes the running statistics of every batch norm of
// m from Batches shuffled, unaugmented batches of set, forwarded in
// training mode without gradients (PyTorch's swa_utils.update_bn). Per
// channel it keeps the median over batches of the batch mean and of the
// unbiased batch variance rather than their average: in a network with
// polynomial activations one image far outside the data distribution can
// blow up its whole batch's statistics by orders of magnitude, and an
// average would then shrink every other image's activations at test time.
// Weights are not changed. It leaves m in evaluation mode.
func RecalibrateBN(m *models.Model, set *data.Set, opt RecalibrateOptions) (err error) {
	if set == nil || set.N == 0 {
		return fmt.Errorf("train: recalibrate batch norm: empty dataset")
	}
	if opt.Batches <= 0 {
		opt.Batches = 50
	}
	if opt.Batch <= 0 {
		opt.Batch = 128
	}
	var bns []*nn.BatchNorm2d
	for _, n := range m.Net.Nodes {
		if b, ok := n.Op.(*nn.BatchNorm2d); ok {
			bns = append(bns, b)
		}
	}
	if len(bns) == 0 {
		return nil
	}
	// With momentum 1 a training-mode forward pass leaves exactly the
	// batch's statistics in the running buffers.
	saved := make([]float32, len(bns))
	means := make([][][]float32, len(bns)) // [layer][channel][batch]
	vars := make([][][]float32, len(bns))
	for i, b := range bns {
		saved[i] = b.Momentum
		b.Momentum = 1
		means[i] = make([][]float32, b.C)
		vars[i] = make([][]float32, b.C)
	}
	defer func() {
		for i, b := range bns {
			b.Momentum = saved[i]
		}
		m.SetTraining(false)
	}()
	m.SetTraining(true)
	loader := data.NewLoader(set, data.LoaderConfig{Batch: opt.Batch, Shuffle: true, Seed: opt.Seed})
	seen := 0 // batches collected
	for e := 0; seen < opt.Batches; e++ {
		it := loader.Epoch(e)
		autograd.NoGrad(func() {
			for seen < opt.Batches {
				b, ok := it.Next()
				if !ok {
					return // next epoch: a set smaller than Batches batches
				}
				if _, err = m.Forward(autograd.Const(b.X)); err != nil {
					return
				}
				for i, bn := range bns {
					for c := range bn.C {
						means[i][c] = append(means[i][c], bn.RunningMean.Data[c])
						vars[i][c] = append(vars[i][c], bn.RunningVar.Data[c])
					}
				}
				seen++
			}
		})
		it.Close()
		if err != nil {
			return fmt.Errorf("train: recalibrate batch norm: %w", err)
		}
	}
	for i, bn := range bns {
		for c := range bn.C {
			bn.RunningMean.Data[c] = stat.Median(means[i][c])
			bn.RunningVar.Data[c] = stat.Median(vars[i][c])
		}
	}
	return nil
}
