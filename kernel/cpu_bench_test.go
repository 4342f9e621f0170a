package kernel

import (
	"syscall"
	"time"
)

// cpuTime returns the user + system CPU time of the process so far (all
// threads, including oneDNN's OpenMP and OpenBLAS's workers).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
