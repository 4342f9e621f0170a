package fss

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/autorep/autorep/internal/bufpool"
	"github.com/autorep/autorep/ring"
)

// getWords returns n words of arbitrary content (the caller overwrites
// every one) for a generation under ctx: a recycled buffer of the pool at
// once; else a new one, allocated by a helper goroutine so that a
// generation whose context ends meanwhile returns at once with its cause.
// The runtime clears reused heap memory before handing it out, which for
// the gigabytes of a large key batch takes seconds on a loaded machine and
// cannot be interrupted; the abandoned helper hands its buffer to the pool
// for the next generation (above the pool's bound, to the garbage
// collector), and until then its bytes count in AbandonedBytes. Nothing is
// allocated once ctx has ended.
// allocWords is getWords's allocation (a variable for the tests).
var allocWords = bufpool.GetWords

// abandoned is AbandonedBytes.
var abandoned atomic.Int64

// AbandonedBytes returns the bytes of key buffers still being allocated
// for generations that ended before their allocation did: memory (and the
// CPU time of the runtime clearing it) that the process spends for no one
// until the allocation completes. A network dealer counts them against its
// memory bound, so that parties that ask for large batches and leave
// cannot pile such allocations up beyond it.
func AbandonedBytes() int64 { return abandoned.Load() }

func getWords(ctx context.Context, n int) ([]uint64, error) {
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	if ctx.Done() == nil || 8*n < bufpool.MinPooled {
		return bufpool.GetWords(n), nil
	}
	ch := make(chan []uint64, 1)
	go func() { ch <- allocWords(n) }()
	select {
	case w := <-ch:
		return w, nil
	case <-ctx.Done():
		abandoned.Add(int64(8 * n))
		go func() {
			bufpool.PutWords(<-ch)
			abandoned.Add(-int64(8 * n))
		}()
		return nil, context.Cause(ctx)
	}
}

// prgBlock is how many words randomWords draws between two looks at its
// context (1 MiB: about a millisecond of AES-CTR).
const prgBlock = 1 << 17

// randomWords fills dst from prg, stopping with ctx's cause once ctx ends:
// the serial draw of a large batch's randomness takes seconds on a loaded
// machine. The words do not depend on the blocks (ring.PRG.Uint64s).
func randomWords(ctx context.Context, prg *ring.PRG, dst []uint64) error {
	for len(dst) > 0 {
		if err := context.Cause(ctx); err != nil {
			return err
		}
		n := min(len(dst), prgBlock)
		prg.Uint64s(dst[:n])
		dst = dst[n:]
	}
	return nil
}

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
