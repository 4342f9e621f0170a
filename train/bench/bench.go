// Package bench measures plaintext training and inference throughput of a
// model on random data (what `autorep bench train` reports): warm-up steps
// excluded, one or more timed rounds, medians over rounds, and optionally
// the PyTorch anchor script run after each round so that speed ratios are
// taken in the same minutes (DESIGN §4).
package bench

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/internal/cputime"
	"github.com/autorep/autorep/internal/stat"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/optim"
	"github.com/autorep/autorep/tensor"
)

// Config sets what Train measures.
type Config struct {
	// Arch, Input and Classes build the model (models.New).
	Arch    string
	Input   [3]int
	Classes int
	// Batch is the training batch; Warmup untimed steps come first, then
	// Steps timed ones per round.
	Batch, Warmup, Steps int
	// InferBatch is the inference batch; each round times InferSteps
	// batches after 2 untimed ones.
	InferBatch, InferSteps int
	// Rounds is the number of timed rounds (training then inference).
	Rounds int
	// Anchor, if set, is a PyTorch script run as `Python Anchor threads
	// Arch` after each round; it prints the model's name and
	// train_images_per_s=… infer_images_per_s=… as fields of its output.
	Anchor, Python string
	// Log receives one line per round (nil = none).
	Log io.Writer
}

// Round is one timed round, in images/s and images per CPU-second of the
// process.
type Round struct {
	Train    float64 `json:"train_images_per_s"`
	Infer    float64 `json:"infer_images_per_s"`
	TrainCPU float64 `json:"train_images_per_cpu_s"`
	InferCPU float64 `json:"infer_images_per_cpu_s"`
}

// AnchorRun is one run of the PyTorch anchor script. TrainCPU and
// InferCPU (images per CPU-second of the anchor's process) are 0 when the
// script does not print them (the shared ResNet-20 anchor).
type AnchorRun struct {
	Train    float64 `json:"train_images_per_s"`
	Infer    float64 `json:"infer_images_per_s"`
	TrainCPU float64 `json:"train_images_per_cpu_s,omitempty"`
	InferCPU float64 `json:"infer_images_per_cpu_s,omitempty"`
}

// PyTorch is the anchor's medians over rounds and its runs.
type PyTorch struct {
	InferCPU float64     `json:"infer_images_per_cpu_s,omitempty"`
	Infer    float64     `json:"infer_images_per_s"`
	Runs     []AnchorRun `json:"runs"`
	TrainCPU float64     `json:"train_images_per_cpu_s,omitempty"`
	Train    float64     `json:"train_images_per_s"`
}

// Result is the report of Train; its JSON is `autorep bench train --json`
// (fields in key order, as the command's earlier map printed them).
type Result struct {
	Batch      int     `json:"batch"`
	InferBatch int     `json:"infer_batch"`
	InferCPU   float64 `json:"infer_images_per_cpu_s"`
	Infer      float64 `json:"infer_images_per_s"`
	// InferCPURatio and TrainCPURatio are autorep over PyTorch per
	// CPU-second (with an anchor that prints CPU-second rates): on a
	// loaded machine they compare the code, not the CPU share granted.
	InferCPURatio float64 `json:"infer_cpu_ratio,omitempty"`
	// InferRatio and TrainRatio are autorep over PyTorch (with an anchor).
	InferRatio float64  `json:"infer_ratio,omitempty"`
	Model      string   `json:"model"`
	PyTorch    *PyTorch `json:"pytorch,omitempty"`
	// Rounds lists every round when there is more than one.
	Rounds        []Round `json:"rounds,omitempty"`
	Steps         int     `json:"steps"`
	Threads       int     `json:"threads"`
	TrainCPU      float64 `json:"train_images_per_cpu_s"`
	TrainCPURatio float64 `json:"train_cpu_ratio,omitempty"`
	Train         float64 `json:"train_images_per_s"`
	TrainRatio    float64 `json:"train_ratio,omitempty"`
}

// anchorArchs are the architectures the anchor scripts build
// (scripts/torch-speed-anchor.py; ../shared/anchors/torch_resnet20_speed.py
// builds resnet20 only, which RunAnchor notices from its output).
var anchorArchs = []string{"resnet20", "resnet18", "wrn22_8"}

// Validate checks the settings before anything is built or run.
func (c Config) Validate() error {
	if c.Batch <= 0 || c.Steps <= 0 || c.Warmup < 0 || c.InferBatch <= 0 || c.InferSteps <= 0 || c.Rounds <= 0 {
		return errors.New("batch, steps, inference batch, inference steps and rounds must be positive, warm-up >= 0")
	}
	if c.Classes <= 0 {
		return fmt.Errorf("%d classes", c.Classes)
	}
	if c.Anchor != "" {
		if !slices.Contains(anchorArchs, c.Arch) || c.Input != [3]int{3, 32, 32} || c.Classes != 10 || c.Batch != 128 || c.InferBatch != 256 {
			return errors.New("the anchor measures PyTorch's ResNet-20, ResNet-18 or WRN-22-8 on CIFAR-10 shapes at batch 128 (inference 256): use those settings")
		}
		if _, err := os.Stat(c.Anchor); err != nil {
			return fmt.Errorf("anchor: %w", err)
		}
	}
	return nil
}

// Train builds the model, runs the warm-up and the timed rounds (and the
// anchor after each) on GOMAXPROCS threads, and returns the medians.
func Train(c Config) (*Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m, err := models.New(c.Arch, c.Classes, c.Input)
	if err != nil {
		return nil, err
	}
	b, err := newTrainBench(m, c.Input, c.Classes, c.Batch, c.InferBatch)
	if err != nil {
		return nil, err
	}
	log := c.Log
	if log == nil {
		log = io.Discard
	}
	th := runtime.GOMAXPROCS(0)
	for i := 0; i < c.Warmup; i++ {
		if err := b.step(); err != nil {
			return nil, err
		}
	}
	var runs []Round
	var anchors []AnchorRun
	for r := 0; r < c.Rounds; r++ {
		rd, err := b.round(c.Steps, c.InferSteps)
		if err != nil {
			return nil, err
		}
		runs = append(runs, rd)
		fmt.Fprintf(log, "%s threads=%d train_images_per_s=%.1f infer_images_per_s=%.1f (per CPU-second: train %.1f, infer %.1f)\n",
			c.Arch, th, rd.Train, rd.Infer, rd.TrainCPU, rd.InferCPU)
		if c.Anchor != "" {
			a, err := RunAnchor(c.Python, c.Anchor, c.Arch, th)
			if err != nil {
				return nil, err
			}
			anchors = append(anchors, a)
			fmt.Fprintf(log, "pytorch threads=%d train_images_per_s=%.1f infer_images_per_s=%.1f (per CPU-second: train %.1f, infer %.1f)\n",
				th, a.Train, a.Infer, a.TrainCPU, a.InferCPU)
		}
	}
	med := func(f func(Round) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		return stat.Median(v)
	}
	res := &Result{Model: c.Arch, Threads: th, Batch: c.Batch, Steps: c.Steps, InferBatch: c.InferBatch,
		Train: med(func(r Round) float64 { return r.Train }), Infer: med(func(r Round) float64 { return r.Infer }),
		TrainCPU: med(func(r Round) float64 { return r.TrainCPU }), InferCPU: med(func(r Round) float64 { return r.InferCPU })}
	if c.Rounds > 1 {
		res.Rounds = runs
	}
	if len(anchors) > 0 {
		res.addAnchor(anchors, log)
	}
	return res, nil
}

// addAnchor records the anchor's runs, their medians and the ratios of
// res's medians to them, and logs them.
func (res *Result) addAnchor(anchors []AnchorRun, log io.Writer) {
	amed := func(f func(AnchorRun) float64) float64 {
		v := make([]float64, len(anchors))
		for i, a := range anchors {
			v[i] = f(a)
		}
		return stat.Median(v)
	}
	pt := &PyTorch{Train: amed(func(a AnchorRun) float64 { return a.Train }), Infer: amed(func(a AnchorRun) float64 { return a.Infer }), Runs: anchors}
	res.PyTorch = pt
	res.TrainRatio, res.InferRatio = res.Train/pt.Train, res.Infer/pt.Infer
	fmt.Fprintf(log, "medians over %d round(s): autorep %.1f / %.1f, PyTorch %.1f / %.1f images/s (train / infer): %.2fx / %.2fx\n",
		len(anchors), res.Train, res.Infer, pt.Train, pt.Infer, res.TrainRatio, res.InferRatio)
	// CPU-second rates only when every run printed them.
	if slices.ContainsFunc(anchors, func(a AnchorRun) bool { return a.TrainCPU == 0 || a.InferCPU == 0 }) {
		return
	}
	pt.TrainCPU, pt.InferCPU = amed(func(a AnchorRun) float64 { return a.TrainCPU }), amed(func(a AnchorRun) float64 { return a.InferCPU })
	res.TrainCPURatio, res.InferCPURatio = res.TrainCPU/pt.TrainCPU, res.InferCPU/pt.InferCPU
	fmt.Fprintf(log, "per CPU-second: autorep %.1f / %.1f, PyTorch %.1f / %.1f images (train / infer): %.2fx / %.2fx\n",
		res.TrainCPU, res.InferCPU, pt.TrainCPU, pt.InferCPU, res.TrainCPURatio, res.InferCPURatio)
}

// trainBench holds a model with its random batches and optimiser.
type trainBench struct {
	m     *models.Model
	x, xb *tensor.Tensor
	y     []int32
	opt   optim.Optimizer
}

func newTrainBench(m *models.Model, in [3]int, classes, batch, inferBatch int) (*trainBench, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	randn := func(shape ...int) *tensor.Tensor {
		t := tensor.New(shape...)
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64())
		}
		return t
	}
	b := &trainBench{m: m, x: randn(batch, in[0], in[1], in[2]), y: make([]int32, batch)}
	for i := range b.y {
		b.y[i] = int32(rng.IntN(classes))
	}
	b.xb = randn(inferBatch, in[0], in[1], in[2])
	opt, err := optim.NewSGD([]optim.Group{{Params: optim.ParamsOf(m.Net), WeightDecay: 5e-4}}, optim.SGDConfig{LR: 0.1, Momentum: 0.9})
	if err != nil {
		return nil, err
	}
	b.opt = opt
	return b, nil
}

// step is one training step (forward, backward, SGD).
func (b *trainBench) step() error {
	nn.SetTraining(b.m.Net, true)
	b.opt.ZeroGrad()
	logits, err := b.m.Net.Run(autograd.Const(b.x))
	if err != nil {
		return err
	}
	loss, err := nn.CrossEntropy(logits, b.y, 0)
	if err != nil {
		return err
	}
	loss.Backward()
	b.opt.Step()
	// The step's activations and gradients are dead: reuse them.
	b.m.Net.ReleaseBuffers()
	return nil
}

// round times steps training steps, then inferSteps inference batches
// after 2 untimed ones.
func (b *trainBench) round(steps, inferSteps int) (Round, error) {
	var r Round
	n := float64(steps * b.x.Shape[0])
	t0, c0 := time.Now(), cputime.Seconds()
	for i := 0; i < steps; i++ {
		if err := b.step(); err != nil {
			return r, err
		}
	}
	r.Train, r.TrainCPU = n/time.Since(t0).Seconds(), n/(cputime.Seconds()-c0)
	nn.SetTraining(b.m.Net, false)
	var runErr error
	autograd.NoGrad(func() {
		for i := 0; i < 2; i++ {
			if _, runErr = b.m.Net.Run(autograd.Const(b.xb)); runErr != nil {
				return
			}
		}
		n := float64(inferSteps * b.xb.Shape[0])
		t, c := time.Now(), cputime.Seconds()
		for i := 0; i < inferSteps; i++ {
			if _, runErr = b.m.Net.Run(autograd.Const(b.xb)); runErr != nil {
				return
			}
		}
		r.Infer, r.InferCPU = n/time.Since(t).Seconds(), n/(cputime.Seconds()-c)
	})
	return r, runErr
}

// RunAnchor runs `python script threads arch` and reads the
// train_images_per_s=… infer_images_per_s=… figures it prints; its output
// must name arch as a field, so that a script that builds one network
// only (and ignores the argument) is not taken for another's speed.
func RunAnchor(python, script, arch string, threads int) (AnchorRun, error) {
	out, err := exec.Command(python, script, strconv.Itoa(threads), arch).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, lastLine(string(ee.Stderr)))
		}
		return AnchorRun{}, fmt.Errorf("anchor %s %s: %w", python, script, err)
	}
	return parseAnchor(script, arch, string(out))
}

// parseAnchor reads an anchor's output, which must name arch.
func parseAnchor(script, arch, out string) (AnchorRun, error) {
	var a AnchorRun
	var haveT, haveI bool
	fields := strings.Fields(out)
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		x, perr := strconv.ParseFloat(v, 64)
		switch {
		case k == "train_images_per_s" && perr == nil && x > 0:
			a.Train, haveT = x, true
		case k == "infer_images_per_s" && perr == nil && x > 0:
			a.Infer, haveI = x, true
		case k == "train_images_per_cpu_s" && perr == nil && x > 0:
			a.TrainCPU = x
		case k == "infer_images_per_cpu_s" && perr == nil && x > 0:
			a.InferCPU = x
		}
	}
	if !haveT || !haveI {
		return a, fmt.Errorf("anchor %s printed no positive train_images_per_s and infer_images_per_s: %q", script, lastLine(out))
	}
	if !slices.Contains(fields, arch) {
		return a, fmt.Errorf("anchor %s did not name %s as the model it measured: %q", script, arch, lastLine(out))
	}
	return a, nil
}

// lastLine returns the last non-empty line of s, cut to 200 bytes.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := lines[len(lines)-1]
	if len(l) > 200 {
		l = l[:200]
	}
	return l
}
