//go:build unix

package fss

import (
	"syscall"
	"time"
)

// processCPU returns the user+system CPU time of the process so far, so
// benchmarks on a shared machine can report CPU time per element next to
// wall time.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
