package models

import (
	"github.com/autorep/autorep/internal/cputime"
	"math/rand"
	"testing"
	"time"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
)

// benchBatch returns a random CIFAR-sized batch and labels.
func benchBatch(n int) (*autograd.Var, []int32) {
	rng := rand.New(rand.NewSource(1))
	x := tensor.New(n, 3, 32, 32)
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	y := make([]int32, n)
	for i := range y {
		y[i] = int32(rng.Intn(10))
	}
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
	step() // create the kernel primitives
	b.ResetTimer()
	cpu0 := cputime.Used()
	best := time.Hour
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		step()
		best = min(best, time.Since(t0))
	}
	b.ReportMetric(float64(batch*b.N)/(cputime.Used()-cpu0).Seconds(), "images/cpu-s")
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
	// The best step is the figure least disturbed by other load.
	b.ReportMetric(float64(batch)/best.Seconds(), "best_images/s")
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
	run()
	b.ResetTimer()
	cpu0 := cputime.Used()
	best := time.Hour
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		run()
		best = min(best, time.Since(t0))
	}
	b.ReportMetric(float64(batch*b.N)/(cputime.Used()-cpu0).Seconds(), "images/cpu-s")
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(float64(batch)/best.Seconds(), "best_images/s")
}
