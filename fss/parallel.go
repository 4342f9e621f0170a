package fss

import (
	"context"
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

// ctxBlock is the number of elements a worker of parallelCtx handles
// between two looks at its context (about a millisecond of key
// generation).
const ctxBlock = 256

// parallelCtx is parallel, with each worker checking ctx between blocks of
// ctxBlock elements and stopping once it ends; it returns ctx's error if
// the work did not complete. All workers have returned when it returns.
func parallelCtx(ctx context.Context, m int, fn func(lo, hi int)) error {
	if ctx.Done() == nil { // never cancelled: no checks
		parallel(m, fn)
		return nil
	}
	parallel(m, func(lo, hi int) {
		for b := lo; b < hi && ctx.Err() == nil; b += ctxBlock {
			fn(b, min(b+ctxBlock, hi))
		}
	})
	return context.Cause(ctx)
}
