package main

import (
	"strings"
	"testing"

	"github.com/autorep/autorep/otgates"
)

func TestBenchGatesCLI(t *testing.T) {
	// A loaded machine gives this process little CPU: a generous bound.
	r := runCLI(t, 4*short, "bench", "gates", "--n", "40", "--json")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	var rep otgates.BenchReport
	decodeJSON(t, r, &rep)
	if rep.Suite != "twoparty" || rep.Ell != 32 || rep.N != 40 || rep.Frac != 12 {
		t.Errorf("header %+v", rep)
	}
	for _, name := range otgates.BenchGates {
		g, ok := rep.Gates[name]
		if !ok || g.Mismatches != 0 || g.Bytes <= 0 || g.PerS <= 0 {
			t.Errorf("%s: %+v (present %v)", name, g, ok)
		}
	}
	// The dealer suite: the same table from the FSS gates, every output
	// checked (a mismatch exits 1).
	r = runCLI(t, 4*short, "bench", "gates", "--suite", "dealer", "--n", "40", "--json")
	if r.code != 0 {
		t.Fatalf("--suite dealer: want exit 0\n%s", r)
	}
	var drep otgates.BenchReport
	decodeJSON(t, r, &drep)
	if drep.Suite != "dealer" || drep.Ell != 32 || drep.N != 40 {
		t.Errorf("dealer header %+v", drep)
	}
	for _, name := range otgates.BenchGates {
		g, ok := drep.Gates[name]
		if !ok || g.Mismatches != 0 || g.OnlineBytes <= 0 || g.Rounds < 1 {
			t.Errorf("dealer %s: %+v (present %v)", name, g, ok)
		}
	}
	// The twoparty suite with IKNP: the OT's 16 bytes per COT show.
	r = runCLI(t, 4*short, "bench", "gates", "--n", "40", "--gates", "trunc", "--ot-k", "0", "--ot-kmul", "0", "--json")
	var irep otgates.BenchReport
	decodeJSON(t, r, &irep)
	if irep.OT != "iknp" || irep.Gates["trunc"].Bytes < 16 {
		t.Errorf("--ot-k 0: %+v", irep)
	}
	// --ferret small: the session says so and the ReLU is exact.
	r = runCLI(t, 4*short, "bench", "gates", "--n", "40", "--gates", "relu", "--ferret", "small", "--json")
	var frep otgates.BenchReport
	decodeJSON(t, r, &frep)
	if frep.OT != "ferret small from softspoken k=4" || frep.Gates["relu"].Mismatches != 0 {
		t.Errorf("--ferret small: %+v", frep)
	}
	r = runCLI(t, short, "bench", "gates", "--ferret", "medium")
	if r.code != 1 || !strings.Contains(r.stderr, "none, large or small") {
		t.Errorf("--ferret medium: want exit 1 naming the sets\n%s", r)
	}
	r = runCLI(t, short, "bench", "gates", "--suite", "thirdparty")
	if r.code != 1 || !strings.Contains(r.stderr, "twoparty or dealer") {
		t.Errorf("--suite thirdparty: want exit 1 naming the suites\n%s", r)
	}
	r = runCLI(t, short, "bench", "gates", "--ell", "20")
	if r.code != 1 || !strings.Contains(r.stderr, "fractional bits") {
		t.Errorf("--ell 20 with --frac 12: want exit 1 explaining the bound\n%s", r)
	}
}
