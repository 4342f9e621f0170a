// Package cputime reads the CPU time the process has used. Benchmarks on a
// shared machine report throughput per CPU-second next to wall time: it
// measures the code, not the share of the CPU the scheduler granted.
package cputime

import "time"

// Seconds returns Process in seconds, 0 where it is unavailable.
func Seconds() float64 {
	d, _ := Process()
	return d.Seconds()
}

// Used returns Process's duration, 0 where it is unavailable.
func Used() time.Duration {
	d, _ := Process()
	return d
}
