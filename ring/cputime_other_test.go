//go:build !unix

package ring

// cpuSeconds is unavailable on this platform; the per-CPU-second metric is
// then omitted.
func cpuSeconds() float64 { return 0 }
