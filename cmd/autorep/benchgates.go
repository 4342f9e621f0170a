package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/autorep/autorep/gatebench"
	"github.com/autorep/autorep/ot"
	"github.com/autorep/autorep/otgates"
)

func init() {
	registerBench("gates", "non-linear gates of a protocol suite: bytes, rounds, elements/s", runBenchGates)
}

func runBenchGates(args []string) error {
	fs := newFlags("bench gates", "[--suite twoparty|dealer] [--ell N] [--n N] [--gates LIST] [--ot-k K] [--ot-kmul K] [--kk] [--ferret large|small] [--json]",
		"Runs each non-linear gate (relu, drelu, trunc, relu_trunc, square, poly2, maxpool2x2)\n"+
			"on N random shared inputs, both parties in this process (one goroutine each, in-memory\n"+
			"pipe), checks every output against the plaintext function and reports per element the\n"+
			"traffic (both directions; offline = input-independent), the rounds of the batch and the\n"+
			"elements per second (wall and CPU). The OT setup (base OTs) is not counted.\n"+
			"--suite dealer runs the same table on the dealer suite's FSS gates (offline = the\n"+
			"dealer material both parties receive, generated in this process and timed).")
	suite := fs.String("suite", "twoparty", "protocol suite: twoparty (OT-based, no dealer) or dealer (FSS, trusted dealer)")
	otK := fs.Int("ot-k", ot.DefaultConfig.K, "twoparty: SoftSpoken k of the OT extension (1..8; 0 = IKNP)")
	otKMul := fs.Int("ot-kmul", ot.DefaultConfig.KMul, "twoparty: SoftSpoken k of the multiplications' OT extension (0: the same as --ot-k)")
	kk := fs.Bool("kk", false, "twoparty: 1-out-of-N OT by Kolesnikov–Kumaresan instead of from correlated OTs")
	ferret := fs.String("ferret", "none", "twoparty: correlated OTs by Ferret silent OT with this parameter set (none, large: n = 10.6M, small: n = 607K), bootstrapped from --ot-k")
	ell := fs.Int("ell", 32, "ring width ℓ in bits (2·frac + 8 ≤ ℓ ≤ 64)")
	n := fs.Int("n", 10000, "elements per gate (outputs for maxpool2x2)")
	frac := fs.Int("frac", 12, "fractional bits: the shift of trunc, relu_trunc and poly2 (2·frac + 8 ≤ ℓ)")
	seed := fs.Uint64("seed", 1, "seed of the inputs and their shares")
	gates := fs.String("gates", strings.Join(otgates.BenchGates, ","), "comma-separated gates to run")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	fe, err := ot.ParseFerret(*ferret)
	if err != nil {
		return err
	}
	cfg := otgates.BenchConfig{Ell: *ell, N: *n, Frac: *frac, Seed: *seed, Gates: strings.Split(*gates, ","), OT: &ot.Config{K: *otK, KMul: *otKMul, KK: *kk, Ferret: fe}}
	var rep *otgates.BenchReport
	switch *suite {
	case "twoparty":
		rep, err = otgates.Bench(cfg)
	case "dealer":
		rep, err = gatebench.Dealer(cfg)
	default:
		return fmt.Errorf("--suite %q: want twoparty or dealer", *suite)
	}
	if err != nil {
		return err
	}
	if *jsonOut {
		return printJSONObject(rep)
	}
	suiteName := rep.Suite
	if rep.OT != "" {
		suiteName += " (" + rep.OT + ")"
	}
	fmt.Fprintf(os.Stderr, "suite %s, ℓ = %d, n = %d, frac = %d (per element, both directions)\n", suiteName, rep.Ell, rep.N, rep.Frac)
	fmt.Fprintf(os.Stderr, "%-11s %10s %10s %10s %7s %11s %11s %11s %10s\n", "gate", "bytes", "online", "offline", "rounds", "per_s", "per_cpu_s", "per_thread", "mismatches")
	bad := 0
	for _, name := range otgates.BenchGates {
		g, ok := rep.Gates[name]
		if !ok {
			continue
		}
		fmt.Fprintf(os.Stderr, "%-11s %10.1f %10.1f %10.1f %7d %11.0f %11.0f %11.0f %10d\n", name, g.Bytes, g.OnlineBytes, g.OfflineBytes, g.Rounds, g.PerS, g.PerCPUS, g.PerThreadCPUS, g.Mismatches)
		bad += g.Mismatches
	}
	if bad > 0 {
		return fmt.Errorf("%d outputs differ from the plaintext functions", bad)
	}
	return nil
}
