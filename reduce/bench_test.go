package reduce

import (
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/internal/benchutil"
	"github.com/autorep/autorep/internal/cputime"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/train"
)

// BenchmarkMaskedSite measures forward+backward of one AutoReP site the
// size of a ResNet-18 stage-2 activation (128 images × 128×16×16), half the
// mask replaced by degree-2 polynomials.
func BenchmarkMaskedSite(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := NewMasked("s", []int{128, 16, 16}, 2, rng)
	if err != nil {
		b.Fatal(err)
	}
	for i := range m.Mask {
		m.Mask[i] = float32(i % 2)
		m.Score.Value.Data[i] = float32(1 - 2*(i%2)) // keep the mask as set
	}
	m.SetTraining(true)
	m.DaPaSteps = 0 // statistics only run during the first steps
	x := autograd.Param(randTensor(rng, 1, 128, 128, 16, 16))
	g := tensor.Full(1, 128, 128, 16, 16)
	b.SetBytes(int64(4 * len(x.Value.Data)))
	b.ResetTimer()
	cpu0 := cputime.Used()
	for i := 0; i < b.N; i++ {
		x.ZeroGrad()
		m.Score.ZeroGrad()
		m.Coef.ZeroGrad()
		m.Apply(x).Backward(g.Clone())
	}
	b.ReportMetric(float64(cputime.Used()-cpu0)/float64(b.N*len(x.Value.Data)), "cpu-ns/elem")
}

// BenchmarkResNet20Step times one reduction step of ResNet-20 on a random
// CIFAR-sized batch of 128 as package reduce runs it (student forward and
// backward through the installed activations, teacher forward for KD, the
// method's extra loss; no optimiser step), beside a plain training step of
// the same network for comparison:
//
//	train         CE only, plain ReLU sites
//	autorep       AutoReP search step (mask about half replaced), after
//	              the first DaPaSteps steps
//	autorep-dapa  the same during the first DaPaSteps steps (running
//	              statistics of every site's input)
//	snl           SNL L1 step
//	finetune      AutoReP finetune step (frozen mask, about half replaced)
func BenchmarkResNet20Step(b *testing.B) { benchReduceSteps(b, "resnet20") }

// BenchmarkResNet18Step is BenchmarkResNet20Step for the paper's
// ResNet-18 ("resnet18_in"), the network of issue 18's longest runs.
func BenchmarkResNet18Step(b *testing.B) { benchReduceSteps(b, "resnet18") }

func benchReduceSteps(b *testing.B, arch string) {
	for _, mode := range []string{"train", "autorep", "autorep-dapa", "snl", "finetune"} {
		b.Run(mode, func(b *testing.B) { benchReduceStep(b, arch, mode) })
	}
}

func benchReduceStep(b *testing.B, arch, mode string) {
	const batch = 128
	student, err := models.New(arch, 10, [3]int{3, 32, 32})
	if err != nil {
		b.Fatal(err)
	}
	teacher, err := models.NewSeeded(arch, 10, [3]int{3, 32, 32}, 2)
	if err != nil {
		b.Fatal(err)
	}
	teacher.SetTraining(false)
	rng := rand.New(rand.NewPCG(3, 4))
	x, y := benchutil.CIFARBatch(rng, batch)
	bt := data.Batch{X: x, Y: y}
	total := 0
	for _, s := range student.Sites {
		total += s.Size()
	}
	method := MethodAutoReP
	if mode == "snl" {
		method = MethodSNL
	}
	cfg := Config{Method: method, Budget: total / 2, Epochs: 1}
	cfg.defaults()
	r := &runner{cfg: cfg, student: student, teacher: teacher, total: total}
	var step train.StepFunc
	switch mode {
	case "train":
		step = func(b data.Batch) (*autograd.Var, *autograd.Var, error) {
			logits, err := student.Forward(autograd.Const(b.X))
			if err != nil {
				return nil, nil, err
			}
			loss, err := nn.CrossEntropy(logits, b.Y, 0)
			return loss, logits, err
		}
	case "autorep", "autorep-dapa", "finetune":
		if err := r.install(); err != nil {
			b.Fatal(err)
		}
		for _, m := range r.masked {
			for i := range m.Mask {
				// Half the elements replaced, the scores keeping the mask.
				if rng.IntN(2) == 0 {
					m.Mask[i], m.Score.Value.Data[i] = 0, -0.5
				} else {
					m.Score.Value.Data[i] = 0.5
				}
			}
			if mode != "autorep-dapa" {
				m.counters[0] = float32(m.DaPaSteps) // past the statistics phase
			}
			if mode == "finetune" {
				m.Frozen = true
				m.Score.SetRequiresGrad(false)
			}
		}
		step = r.searchStep
		if mode == "finetune" {
			step = r.baseLoss
		}
	case "snl":
		if err := r.install(); err != nil {
			b.Fatal(err)
		}
		for _, a := range r.snl {
			for i := range a.Alpha.Value.Data {
				a.Alpha.Value.Data[i] = rng.Float32()
			}
		}
		step = r.l1Step
	}
	student.SetTraining(true)
	run := func() {
		nn.ZeroGrad(student.Net)
		loss, _, err := step(bt)
		if err != nil {
			b.Fatal(err)
		}
		loss.Backward()
		student.Net.ReleaseBuffers() // as train.Trainer does after each step
	}
	benchutil.Images(b, batch, run)
}
