package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/train/bench"
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
	listCommands(benchCommands, func(c benchCommand) string { return c.summary })
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
			"in images/s on random data, like scripts/torch-speed-anchor.py: warm-up\n"+
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
	anchor := fs.String("anchor", "", "PyTorch anchor script (scripts/torch-speed-anchor.py: resnet20, resnet18, wrn22_8; ../shared/anchors/torch_resnet20_speed.py: resnet20) to run after each round (batch 128 and 256 only)")
	python := fs.String("python", "/usr/bin/python3", "with --anchor: the Python with torch that runs it")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	in, classes, err := datasetShape("", *dataset)
	if err != nil {
		return err
	}
	cfg := bench.Config{Arch: *arch, Input: in, Classes: classes, Batch: *batch, Warmup: *warm, Steps: *steps,
		InferBatch: *inferBatch, InferSteps: *inferSteps, Rounds: *rounds, Anchor: *anchor, Python: *python, Log: os.Stderr}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := applyThreads(*threads); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench train %s: batch %d, %d+%d steps, %d threads, %d round(s)\n", *arch, *batch, *warm, *steps, runtime.GOMAXPROCS(0), *rounds)
	res, err := bench.Train(cfg)
	if err != nil {
		return err
	}
	if *jsonOut {
		return printJSONObject(res)
	}
	return nil
}
