package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"sort"
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

// benchCommand is one `autorep bench` subcommand.
type benchCommand struct {
	summary string
	run     func(args []string) error
}

var benchCommands = map[string]benchCommand{}

// registerBench adds an `autorep bench NAME` subcommand; called from init
// functions of command files (e.g. bench pi).
func registerBench(name, summary string, run func(args []string) error) {
	benchCommands[name] = benchCommand{summary, run}
}

func init() {
	register("bench", "measure speed: bench train (plaintext training/inference), bench pi, ...", runBench)
	registerBench("train", "plaintext training and inference throughput on random data", runBenchTrain)
}

func benchUsage() {
	fmt.Fprintf(os.Stderr, "Usage: autorep bench SUBCOMMAND [flags]\n\nSubcommands:\n")
	names := make([]string, 0, len(benchCommands))
	for n := range benchCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, benchCommands[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun 'autorep bench SUBCOMMAND --help' for its flags.\n")
}

func runBench(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		benchUsage()
		if len(args) == 0 {
			return errors.New("missing subcommand")
		}
		return nil
	}
	c, ok := benchCommands[args[0]]
	if !ok {
		benchUsage()
		return fmt.Errorf("unknown bench subcommand %q", args[0])
	}
	return c.run(args[1:])
}

func runBenchTrain(args []string) error {
	fs := newFlags("bench train", "[--model ARCH] [flags]",
		"Measures plaintext training (forward, backward, SGD step) and inference throughput\n"+
			"in images/s on random data, like ../shared/anchors/torch_resnet20_speed.py: warm-up\n"+
			"steps are excluded from the timing. --rounds repeats the timing and reports medians;\n"+
			"--anchor runs that PyTorch script after each round and reports the speed ratios\n"+
			"(DESIGN §4: compare ratios taken in the same minutes).")
	arch := fs.String("model", "resnet20", "architecture: "+strings.Join(models.Names(), ", "))
	dataset := fs.String("dataset", "cifar10", "dataset whose input shape and classes to use")
	batch := fs.Int("batch", 128, "training batch size")
	steps := fs.Int("steps", 20, "timed training steps")
	warm := fs.Int("warmup", 3, "untimed training steps first")
	inferBatch := fs.Int("infer-batch", 256, "inference batch size")
	inferSteps := fs.Int("infer-steps", 10, "timed inference batches (after 2 untimed)")
	threads := fs.Int("threads", 2, "compute threads (0 = all cores)")
	rounds := fs.Int("rounds", 1, "timed rounds (training then inference); figures are medians over rounds")
	anchor := fs.String("anchor", "", "PyTorch anchor script (e.g. ../shared/anchors/torch_resnet20_speed.py) to run after each round (resnet20, batch 128 and 256 only)")
	python := fs.String("python", "/usr/bin/python3", "with --anchor: the Python with torch that runs it")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *batch <= 0 || *steps <= 0 || *warm < 0 || *inferBatch <= 0 || *inferSteps <= 0 || *rounds <= 0 {
		return errors.New("--batch, --steps, --infer-batch, --infer-steps and --rounds must be positive, --warmup >= 0")
	}
	if *anchor != "" && (*arch != "resnet20" || *dataset != "cifar10" || *batch != 128 || *inferBatch != 256) {
		return errors.New("--anchor measures PyTorch's ResNet-20 on CIFAR shapes at batch 128 (inference 256): use those settings")
	}
	if *anchor != "" {
		if _, err := os.Stat(*anchor); err != nil {
			return fmt.Errorf("--anchor: %w", err)
		}
	}
	if err := applyThreads(*threads); err != nil {
		return err
	}
	in, classes, err := datasetShape("", *dataset)
	if err != nil {
		return err
	}
	m, err := models.New(*arch, classes, in)
	if err != nil {
		return err
	}
	b, err := newTrainBench(m, in, classes, *batch, *inferBatch)
	if err != nil {
		return err
	}
	th := runtime.GOMAXPROCS(0)
	fmt.Fprintf(os.Stderr, "bench train %s: batch %d, %d+%d steps, %d threads, %d round(s)\n", *arch, *batch, *warm, *steps, th, *rounds)
	for i := 0; i < *warm; i++ {
		if err := b.step(); err != nil {
			return err
		}
	}
	var runs []benchRound
	var anchors []anchorRun
	for r := 0; r < *rounds; r++ {
		rd, err := b.round(*steps, *inferSteps)
		if err != nil {
			return err
		}
		runs = append(runs, rd)
		fmt.Fprintf(os.Stderr, "%s threads=%d train_images_per_s=%.1f infer_images_per_s=%.1f (per CPU-second: train %.1f, infer %.1f)\n",
			*arch, th, rd.Train, rd.Infer, rd.TrainCPU, rd.InferCPU)
		if *anchor != "" {
			a, err := runAnchor(*python, *anchor, th)
			if err != nil {
				return err
			}
			anchors = append(anchors, a)
			fmt.Fprintf(os.Stderr, "pytorch threads=%d train_images_per_s=%.1f infer_images_per_s=%.1f\n", th, a.Train, a.Infer)
		}
	}
	med := func(f func(benchRound) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		return stat.Median(v)
	}
	train, infer := med(func(r benchRound) float64 { return r.Train }), med(func(r benchRound) float64 { return r.Infer })
	res := map[string]any{"model": *arch, "threads": th, "batch": *batch, "steps": *steps, "infer_batch": *inferBatch,
		"train_images_per_s": train, "infer_images_per_s": infer,
		"train_images_per_cpu_s": med(func(r benchRound) float64 { return r.TrainCPU }),
		"infer_images_per_cpu_s": med(func(r benchRound) float64 { return r.InferCPU })}
	if *rounds > 1 {
		res["rounds"] = runs
	}
	if len(anchors) > 0 {
		tt, ti := make([]float64, len(anchors)), make([]float64, len(anchors))
		for i, a := range anchors {
			tt[i], ti[i] = a.Train, a.Infer
		}
		ptTrain, ptInfer := stat.Median(tt), stat.Median(ti)
		res["pytorch"] = map[string]any{"train_images_per_s": ptTrain, "infer_images_per_s": ptInfer, "runs": anchors}
		res["train_ratio"], res["infer_ratio"] = train/ptTrain, infer/ptInfer
		fmt.Fprintf(os.Stderr, "medians over %d round(s): autorep %.1f / %.1f, PyTorch %.1f / %.1f images/s (train / infer): %.2fx / %.2fx\n",
			*rounds, train, infer, ptTrain, ptInfer, train/ptTrain, infer/ptInfer)
	}
	if *jsonOut {
		return printJSONObject(res)
	}
	return nil
}

// benchRound is one timed round of bench train, in images/s and images
// per CPU-second of the process.
type benchRound struct {
	Train    float64 `json:"train_images_per_s"`
	Infer    float64 `json:"infer_images_per_s"`
	TrainCPU float64 `json:"train_images_per_cpu_s"`
	InferCPU float64 `json:"infer_images_per_cpu_s"`
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
func (b *trainBench) round(steps, inferSteps int) (benchRound, error) {
	var r benchRound
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

// anchorRun is one run of the PyTorch anchor script.
type anchorRun struct {
	Train float64 `json:"train_images_per_s"`
	Infer float64 `json:"infer_images_per_s"`
}

// runAnchor runs `python script threads` and reads the
// train_images_per_s=… infer_images_per_s=… figures it prints.
func runAnchor(python, script string, threads int) (anchorRun, error) {
	out, err := exec.Command(python, script, strconv.Itoa(threads)).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, lastLine(string(ee.Stderr)))
		}
		return anchorRun{}, fmt.Errorf("anchor %s %s: %w", python, script, err)
	}
	var a anchorRun
	var haveT, haveI bool
	for _, f := range strings.Fields(string(out)) {
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
		}
	}
	if !haveT || !haveI {
		return a, fmt.Errorf("anchor %s printed no positive train_images_per_s and infer_images_per_s: %q", script, lastLine(string(out)))
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
