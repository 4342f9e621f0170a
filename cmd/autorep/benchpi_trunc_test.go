package main

import "testing"

// TestBenchPITruncFlag: --trunc takes exact or faithful, and faithful only
// with the twoparty suite (checked before any model or data is loaded).
func TestBenchPITruncFlag(t *testing.T) {
	wantFail(t, runCLI(t, short, "bench", "pi", "--model", "lenet", "--suite", "twoparty", "--trunc", "round"), 1, `--trunc: pi: truncation mode "round"`)
	wantFail(t, runCLI(t, short, "bench", "pi", "--model", "lenet", "--trunc", "faithful"), 1, "twoparty suite only")
}
