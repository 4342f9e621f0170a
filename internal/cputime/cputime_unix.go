//go:build unix

package cputime

import (
	"syscall"
	"time"
)

// Process returns the user + system CPU time of the process so far, all
// threads included (oneDNN's OpenMP and OpenBLAS's workers too); false when
// the platform cannot tell.
func Process() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// PeakRSS returns the process's peak resident set size in bytes (0 when
// unknown).
func PeakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss << 10 // Linux reports KiB
}
