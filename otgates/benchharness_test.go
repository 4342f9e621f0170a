package otgates

import (
	"math"
	"testing"
)

func TestBench(t *testing.T) {
	for _, ell := range []int{32, 64} {
		rep, err := Bench(BenchConfig{Ell: ell, N: 300, Frac: 12, Seed: 1, Batch: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range BenchGates {
			g := checkGateExact(t, rep, ell, name, "")
			if g.Bytes <= 0 || math.Abs(g.Bytes-g.OnlineBytes-g.OfflineBytes) > 1e-9 || g.Rounds <= 0 || g.PerS <= 0 {
				t.Errorf("ℓ=%d %s: implausible costs %+v", ell, name, g)
			}
			// One party's thread uses at most the process's CPU time.
			if _, ok := threadCPU(); ok && g.PerThreadCPUS < g.PerCPUS {
				t.Errorf("ℓ=%d %s: %.0f per thread CPU-s below %.0f per process CPU-s", ell, name, g.PerThreadCPUS, g.PerCPUS)
			}
		}
		// ReLU and DReLU differ by the multiplexer: two COTs and 2·ℓ bits
		// per element (300 elements pad to 384 OTs).
		mux := float64(2*(cotBytes(300)+ceil8(300*ell))) / 300
		if d := rep.Gates["relu"].Bytes - rep.Gates["drelu"].Bytes; math.Abs(d-mux) > 1e-9 {
			t.Errorf("ℓ=%d: relu − drelu = %.2f bytes, want the multiplexer's %.2f", ell, d, mux)
		}
	}
	// Batches: the same traffic per element as one call of the batch size.
	rep, err := Bench(BenchConfig{Ell: 32, N: 600, Frac: 12, Seed: 2, Batch: 300})
	if err != nil {
		t.Fatal(err)
	}
	one, err := Bench(BenchConfig{Ell: 32, N: 300, Frac: 12, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range BenchGates {
		if a, b := rep.Gates[name], one.Gates[name]; a.Mismatches != 0 || math.Abs(a.Bytes-b.Bytes) > 1e-9 || a.Rounds != b.Rounds {
			t.Errorf("%s: two batches of 300 %+v, one %+v", name, a, b)
		}
	}
	sub, err := Bench(BenchConfig{Ell: 32, N: 50, Frac: 12, Gates: []string{"trunc"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sub.Gates) != 1 || sub.Gates["trunc"].Mismatches != 0 {
		t.Errorf("--gates trunc: %+v", sub.Gates)
	}
	for _, bad := range []BenchConfig{{Ell: 1, N: 1, Frac: 1}, {Ell: 32, N: 0, Frac: 12}, {Ell: 32, N: 1, Frac: 13}, {Ell: 32, N: 1, Frac: 12, Gates: []string{"relu", "sigmoid"}}} {
		if _, err := Bench(bad); err == nil {
			t.Errorf("Bench(%+v) accepted", bad)
		}
	}
}

// checkGateExact returns rep's row for gate name, failing the test if it
// is missing or any output differs from the plaintext function (what
// names the OT source in the message).
func checkGateExact(t *testing.T, rep *BenchReport, ell int, name, what string) GateCost {
	t.Helper()
	g, ok := rep.Gates[name]
	if !ok {
		t.Fatalf("ℓ=%d: no %s", ell, name)
	}
	if g.Mismatches != 0 {
		t.Errorf("ℓ=%d %s%s: %d outputs differ from the plaintext function", ell, name, what, g.Mismatches)
	}
	return g
}
