package fss

import (
	"runtime"
	"sync"
)

// minChunk is the smallest number of elements worth a goroutine.
const minChunk = 64

// parallel calls fn on disjoint ranges [lo, hi) covering [0, m), using up to
// GOMAXPROCS goroutines.
func parallel(m int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), (m+minChunk-1)/minChunk)
	if workers <= 1 {
		fn(0, m)
		return
	}
	chunk := (m + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < m; lo += chunk {
		hi := min(lo+chunk, m)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
