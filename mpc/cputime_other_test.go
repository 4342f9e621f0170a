//go:build !unix

package mpc_test

// cpuSeconds is unavailable here; per-CPU-second metrics read 0.
func cpuSeconds() float64 { return 0 }
