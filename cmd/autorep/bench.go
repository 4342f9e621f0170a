package main

import (
	"errors"
	"fmt"
	"github.com/autorep/autorep/internal/cputime"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/autorep/autorep/autograd"
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
			"steps are excluded from the timing.")
	arch := fs.String("model", "resnet20", "architecture: "+strings.Join(models.Names(), ", "))
	dataset := fs.String("dataset", "cifar10", "dataset whose input shape and classes to use")
	batch := fs.Int("batch", 128, "training batch size")
	steps := fs.Int("steps", 20, "timed training steps")
	warm := fs.Int("warmup", 3, "untimed training steps first")
	inferBatch := fs.Int("infer-batch", 256, "inference batch size")
	inferSteps := fs.Int("infer-steps", 10, "timed inference batches (after 2 untimed)")
	threads := fs.Int("threads", 2, "compute threads (0 = all cores)")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *batch <= 0 || *steps <= 0 || *warm < 0 || *inferBatch <= 0 || *inferSteps <= 0 {
		return errors.New("--batch, --steps, --infer-batch and --infer-steps must be positive, --warmup >= 0")
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
	rng := rand.New(rand.NewPCG(1, 2))
	randn := func(shape ...int) *tensor.Tensor {
		t := tensor.New(shape...)
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64())
		}
		return t
	}
	x := randn(*batch, in[0], in[1], in[2])
	y := make([]int32, *batch)
	for i := range y {
		y[i] = int32(rng.IntN(classes))
	}
	params := optim.ParamsOf(m.Net)
	opt, err := optim.NewSGD([]optim.Group{{Params: params, WeightDecay: 5e-4}}, optim.SGDConfig{LR: 0.1, Momentum: 0.9})
	if err != nil {
		return err
	}
	nn.SetTraining(m.Net, true)
	step := func() error {
		opt.ZeroGrad()
		logits, err := m.Net.Run(autograd.Const(x))
		if err != nil {
			return err
		}
		loss, err := nn.CrossEntropy(logits, y, 0)
		if err != nil {
			return err
		}
		loss.Backward()
		opt.Step()
		// The step's activations and gradients are dead: reuse them.
		m.Net.ReleaseBuffers()
		return nil
	}
	fmt.Fprintf(os.Stderr, "bench train %s: batch %d, %d+%d steps, %d threads\n", *arch, *batch, *warm, *steps, runtime.GOMAXPROCS(0))
	for i := 0; i < *warm; i++ {
		if err := step(); err != nil {
			return err
		}
	}
	t0, c0 := time.Now(), cputime.Seconds()
	for i := 0; i < *steps; i++ {
		if err := step(); err != nil {
			return err
		}
	}
	trainIPS := float64(*steps**batch) / time.Since(t0).Seconds()
	trainCPU := float64(*steps**batch) / (cputime.Seconds() - c0)

	nn.SetTraining(m.Net, false)
	xb := randn(*inferBatch, in[0], in[1], in[2])
	var inferIPS, inferCPU float64
	var runErr error
	autograd.NoGrad(func() {
		for i := 0; i < 2; i++ {
			if _, runErr = m.Net.Run(autograd.Const(xb)); runErr != nil {
				return
			}
		}
		t, c := time.Now(), cputime.Seconds()
		for i := 0; i < *inferSteps; i++ {
			if _, runErr = m.Net.Run(autograd.Const(xb)); runErr != nil {
				return
			}
		}
		inferIPS = float64(*inferSteps**inferBatch) / time.Since(t).Seconds()
		inferCPU = float64(*inferSteps**inferBatch) / (cputime.Seconds() - c)
	})
	if runErr != nil {
		return runErr
	}
	fmt.Fprintf(os.Stderr, "%s threads=%d train_images_per_s=%.1f infer_images_per_s=%.1f (per CPU-second: train %.1f, infer %.1f)\n",
		*arch, runtime.GOMAXPROCS(0), trainIPS, inferIPS, trainCPU, inferCPU)
	if *jsonOut {
		return printJSONObject(map[string]any{"model": *arch, "threads": runtime.GOMAXPROCS(0), "batch": *batch,
			"steps": *steps, "train_images_per_s": trainIPS, "infer_batch": *inferBatch, "infer_images_per_s": inferIPS,
			"train_images_per_cpu_s": trainCPU, "infer_images_per_cpu_s": inferCPU})
	}
	return nil
}
