package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/autorep/autorep/pi"
	pibench "github.com/autorep/autorep/pi/bench"
	"github.com/autorep/autorep/reduce/sitecost"
)

func init() {
	registerBench("pi", "private inference: agreement, error, bytes, rounds, latency per image", runBenchPI)
}

func runBenchPI(args []string) error {
	fs := newFlags("bench pi", "--model FILE --dataset D --n N [flags]",
		"Runs N test images through plaintext (float and fixed-point) and secure inference\n"+
			"(server and client in this process, in-process dealer) one image at a time and reports\n"+
			"label agreement with the fixed-point executor, the logit error against the float model,\n"+
			"online bytes and rounds, dealer material, latency percentiles, a per-layer breakdown and\n"+
			"the DESIGN §2.4 cost model (rounds x RTT + bytes / bandwidth + measured online time)\n"+
			"for LAN (3 Gbit/s, 0.3 ms) and WAN (400 Mbit/s, 40 ms). --model may also name an\n"+
			"architecture (random weights, for cost figures).\n\n"+
			"--suite twoparty runs the dealer-free suite instead (HE linear layers, OT gates; no dealer);\n"+
			"--ferret small|large makes its correlated OTs by Ferret silent OT (fewer offline bytes, more CPU).\n\n"+
			"--cost-out FILE (all-ReLU models, either suite) runs the same images again with every\n"+
			"ReLU replaced by a polynomial of degree 1, then of degree 2, then all ReLU once more\n"+
			"(the all-ReLU CPU is the mean of its two runs), and writes each site's\n"+
			"measured saving per replaced ReLU for each degree (CPU time saved, both parties, plus\n"+
			"the bytes saved, offline + online without setup, as microseconds on the LAN link) for\n"+
			"'autorep reduce --cost'.\n\n"+
			"peak_rss_mib is the process's peak resident set size (getrusage): server, client and,\n"+
			"for the dealer suite, the dealer all run in this one process.")
	path := fs.String("model", "", "model file (.safetensors) or architecture name (random weights; required)")
	dataset := fs.String("dataset", "", "dataset (default: the one recorded in the model file)")
	dataDir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	n := fs.Int("n", 10, "number of test images (a fixed random subset, seed 1, unless all)")
	skip := fs.Int("skip", 0, "skip the first K images of the fixed subset (run images K..K+n-1 of a run of K+n: a long run in resumable chunks)")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object on stdout")
	trans := fs.String("transport", "pipe", "pipe (in memory) or tcp (loopback)")
	suite := fs.String("suite", pi.SuiteDealer, "protocol suite: dealer or twoparty (no dealer)")
	frac := fs.Uint("frac", 0, "fractional bits (0: 16, or 12 for the twoparty suite's HE polynomials, as serve)")
	ell := fs.Int("ell", 64, "bit width of the FSS gate inputs (dealer suite) or of the shares, Z_2^ell (twoparty suite)")
	costOut := fs.String("cost-out", "", "also measure every site with polynomials of degree 1 and 2 instead of ReLUs and write the per-site saving per replaced ReLU to this JSON file (for reduce --cost; all-ReLU models)")
	lazy := fs.Bool("lazy", false, "fetch dealer material layer by layer during the online phase (bounded memory; the in-process dealer may then generate items twice)")
	truncMode := fs.String("trunc", "", "twoparty suite's truncations: faithful (the default: polynomials by HE, one-unit errors) or exact (narrow polynomial form by OT, logits equal the fixed-point executor's)")
	pBits := fs.Int("pbits", 0, "twoparty suite, faithful: bit width of the HE prime of the polynomials, at most 50 (default 3·frac+10: frac ≤ 13)")
	ferret := pi.AddFerretFlag(fs)
	output := fs.String("output", "logits", "what the client learns: logits, label (secure argmax) or topk:K (the K best labels in order)")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the whole run to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	rep, costs, err := pibench.Run(pibench.Config{Model: *path, Dataset: *dataset, DataDir: *dataDir, N: *n, Skip: *skip,
		Suite: *suite, Frac: *frac, Ell: *ell, Trunc: *truncMode, PBits: *pBits, OT: ferret.OT(), Output: *output, SiteCosts: *costOut != "", CPUProfile: *cpuProfile,
		Options: pibench.Options{Transport: *trans, Lazy: *lazy, Progress: os.Stderr}})
	if err != nil {
		return err
	}
	if costs != nil {
		if err := sitecost.Write(*costOut, *costs); err != nil {
			return fmt.Errorf("--cost-out: %w", err)
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	_ = rep.WriteText(os.Stderr) // a failed write to stderr has nowhere to be reported
	return nil
}
