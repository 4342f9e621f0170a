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
	r = runCLI(t, short, "bench", "gates", "--suite", "dealer")
	if r.code != 1 || !strings.Contains(r.stderr, "twoparty") {
		t.Errorf("--suite dealer: want exit 1 naming the twoparty suite\n%s", r)
	}
	r = runCLI(t, short, "bench", "gates", "--ell", "20")
	if r.code != 1 || !strings.Contains(r.stderr, "fractional bits") {
		t.Errorf("--ell 20 with --frac 12: want exit 1 explaining the bound\n%s", r)
	}
}
