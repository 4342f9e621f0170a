package models

import (
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/internal/benchutil"
	"github.com/autorep/autorep/internal/cputime"
	"github.com/autorep/autorep/nn"
)

// benchBatch returns a random CIFAR-sized batch and labels.
func benchBatch(n int) (*autograd.Var, []int32) {
	x, y := benchutil.CIFARBatch(rand.New(rand.NewPCG(1, 2)), n)
	return autograd.Const(x), y
}

// BenchmarkResNet20TrainStep is one forward + backward pass of ResNet-20
// in training mode on a batch of 128 CIFAR images (no optimiser step).
func BenchmarkResNet20TrainStep(b *testing.B) { benchTrainStep(b, "resnet20") }

// BenchmarkResNet18TrainStep is the same for ResNet-18 (resnet18_in); it
// also reports the process's peak resident set size.
func BenchmarkResNet18TrainStep(b *testing.B) {
	benchTrainStep(b, "resnet18")
	if rss := cputime.PeakRSS(); rss > 0 {
		b.ReportMetric(float64(rss)/(1<<30), "peak_rss_GiB")
	}
}

// benchTrainStep times forward + backward of arch at batch 128.
func benchTrainStep(b *testing.B, arch string) {
	const batch = 128
	m, err := New(arch, 10, [3]int{3, 32, 32})
	if err != nil {
		b.Fatal(err)
	}
	x, labels := benchBatch(batch)
	step := func() {
		nn.ZeroGrad(m.Net)
		y, err := m.Forward(x)
		if err != nil {
			b.Fatal(err)
		}
		loss, err := nn.CrossEntropy(y, labels, 0)
		if err != nil {
			b.Fatal(err)
		}
		loss.Backward()
	}
	benchutil.Images(b, batch, step)
}

// BenchmarkResNet20Infer is an evaluation-mode forward pass of ResNet-20
// on a batch of 256 images without gradient recording.
func BenchmarkResNet20Infer(b *testing.B) {
	const batch = 256
	m, err := New("resnet20", 10, [3]int{3, 32, 32})
	if err != nil {
		b.Fatal(err)
	}
	m.SetTraining(false)
	x, _ := benchBatch(batch)
	run := func() {
		autograd.NoGrad(func() {
			if _, err := m.Forward(x); err != nil {
				b.Fatal(err)
			}
		})
	}
	benchutil.Images(b, batch, run)
}
