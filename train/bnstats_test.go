package train

import (
	"math"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
)

// batchStats returns the first batch norm of m and its statistics over
// all of set in one training-mode batch.
func batchStats(t *testing.T, m *models.Model, set *data.Set) (bn *nn.BatchNorm2d, mean, variance []float32) {
	t.Helper()
	bn = m.Net.Nodes[1].Op.(*nn.BatchNorm2d)
	saved := [2][]float32{append([]float32(nil), bn.RunningMean.Data...), append([]float32(nil), bn.RunningVar.Data...)}
	bn.Momentum = 1
	m.SetTraining(true)
	it := data.NewLoader(set, data.LoaderConfig{Batch: set.N}).Epoch(0)
	b, _ := it.Next()
	it.Close()
	autograd.NoGrad(func() {
		if _, err := m.Forward(autograd.Const(b.X)); err != nil {
			t.Fatal(err)
		}
	})
	mean = append([]float32(nil), bn.RunningMean.Data...)
	variance = append([]float32(nil), bn.RunningVar.Data...)
	copy(bn.RunningMean.Data, saved[0])
	copy(bn.RunningVar.Data, saved[1])
	bn.Momentum = 0.1
	m.SetTraining(false)
	return bn, mean, variance
}

func TestRecalibrateBNOneBatchIsBatchStatistics(t *testing.T) {
	m, set := tinyModel(1), tinySet(24, 2)
	bn, mean, variance := batchStats(t, m, set)
	for c := range bn.RunningMean.Data {
		bn.RunningMean.Data[c], bn.RunningVar.Data[c] = 7, 1e6 // stale
	}
	if err := RecalibrateBN(m, set, RecalibrateOptions{Batches: 1, Batch: set.N, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	for c := range mean {
		if d := math.Abs(float64(bn.RunningMean.Data[c] - mean[c])); d > 1e-5 {
			t.Errorf("channel %d: mean %g, batch mean %g", c, bn.RunningMean.Data[c], mean[c])
		}
		if r := float64(bn.RunningVar.Data[c] / variance[c]); math.Abs(r-1) > 1e-4 {
			t.Errorf("channel %d: variance %g, batch variance %g", c, bn.RunningVar.Data[c], variance[c])
		}
	}
	if bn.Training || bn.Momentum != 0.1 {
		t.Errorf("after recalibration: training %v momentum %g, want eval mode and momentum 0.1", bn.Training, bn.Momentum)
	}
}

// One image far outside the distribution blows up the variance of the
// one batch of four holding it; the median over batches ignores that batch.
func TestRecalibrateBNIgnoresOutlierBatch(t *testing.T) {
	m := tinyModel(1)
	const n = 40
	set := &data.Set{Name: "flat", N: n, C: 1, H: 6, W: 6, Classes: 3, Pixels: make([]uint8, n*36),
		Labels: make([]int32, n), Mean: []float32{0.31}, Std: []float32{0.02}}
	for i := range set.Pixels {
		set.Pixels[i] = uint8(75 + i*7%11) // normalised to within ±1
	}
	for j := range 36 {
		set.Pixels[(n-1)*36+j] = uint8(255 * ((j + j/6) % 2)) // a checkerboard, ±35 after normalising
	}
	clean := set.Take(n - 1)
	bn, _, want := batchStats(t, m, clean)
	_, _, all := batchStats(t, m, set)
	if err := RecalibrateBN(m, set, RecalibrateOptions{Batches: 10, Batch: 4, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	for c := range want {
		got := float64(bn.RunningVar.Data[c])
		if all[c] < 4*want[c] {
			t.Fatalf("channel %d: the outlier does not stand out (variance %g with it, %g without)", c, all[c], want[c])
		}
		if got > 2*float64(want[c]) || got < float64(want[c])/4 {
			t.Errorf("channel %d: recalibrated variance %g, want near %g (clean images; %g with the outlier)", c, got, want[c], all[c])
		}
	}
}

func TestRecalibrateBNEmptySet(t *testing.T) {
	if err := RecalibrateBN(tinyModel(1), &data.Set{}, RecalibrateOptions{}); err == nil {
		t.Fatal("no error for an empty dataset")
	}
}
