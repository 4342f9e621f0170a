package ref

import (
	"runtime"
	"sync/atomic"
)

var threads atomic.Int64

// SetThreads sets the number of threads the kernels may use; n < 1 means
// runtime.NumCPU(). The reference kernels are single-threaded and only
// record the value.
func SetThreads(n int) {
	if n < 1 {
		n = runtime.NumCPU()
	}
	threads.Store(int64(n))
}

// Threads returns the thread count set by SetThreads (default
// runtime.NumCPU()).
func Threads() int {
	if n := threads.Load(); n > 0 {
		return int(n)
	}
	return runtime.NumCPU()
}
