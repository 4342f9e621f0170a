//go:build unix

package mpc_test

import "syscall"

// cpuSeconds returns the process's user+system CPU time, so benchmarks can
// report throughput per CPU-second, which is stable on a shared machine.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
