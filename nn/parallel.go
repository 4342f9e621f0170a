package nn

import (
	"runtime"
	"sync"
)

// minParallelWork is the amount of element work below which loops run on
// one goroutine: spawning costs more than it saves.
const minParallelWork = 1 << 15

// parallelFor runs f over [0, n) split into contiguous chunks, one per
// available CPU, when the total work (n × perItem elements) is large enough.
func parallelFor(n, perItem int, f func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 || n*perItem < minParallelWork {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			f(lo, hi)
		}(lo, hi)
	}
	f(0, min(chunk, n))
	wg.Wait()
}
