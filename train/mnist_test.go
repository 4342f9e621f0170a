package train

import (
	"os"
	"testing"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/optim"
)

// TestLeNetMNISTSubset trains LeNet for one epoch on 2,000 MNIST images
// and checks that it generalises to 1,000 test images.
func TestLeNetMNISTSubset(t *testing.T) {
	dir := os.Getenv("AUTOREP_DATA")
	if dir == "" {
		t.Skip("AUTOREP_DATA not set: skipping the MNIST training test")
	}
	trainSet, err := data.Load(dir, "mnist", true)
	if err != nil {
		t.Skipf("MNIST not available under AUTOREP_DATA=%s: %v", dir, err)
	}
	testSet, err := data.Load(dir, "mnist", false)
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.New("lenet", 10, [3]int{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	params := optim.ParamsOf(m.Net)
	opt, err := optim.NewSGD([]optim.Group{{Params: params, WeightDecay: 5e-4}},
		optim.SGDConfig{LR: 0.05, Momentum: 0.9, Nesterov: true})
	if err != nil {
		t.Fatal(err)
	}
	loader := data.NewLoader(trainSet.Take(2000), data.LoaderConfig{Batch: 16, Shuffle: true, Seed: 1})
	sched, _ := optim.NewCosine(0.05, 0, 0, loader.Len())
	tr := &Trainer{Model: m, Opt: opt, Schedule: sched, Train: loader, Test: testSet.Take(1000), Epochs: 1}
	start := time.Now()
	if err := tr.Run(); err != nil {
		t.Fatal(err)
	}
	s := tr.History[0]
	t.Logf("lenet, 2,000 MNIST images, 1 epoch: train acc %.1f%%, test acc %.1f%% (1,000 images), %v",
		100*s.TrainAcc, 100*s.TestAcc, time.Since(start).Round(time.Millisecond))
	if s.TestAcc < 0.85 {
		t.Fatalf("test accuracy %.1f%% after one epoch on 2,000 images; want >= 85%%", 100*s.TestAcc)
	}
}
