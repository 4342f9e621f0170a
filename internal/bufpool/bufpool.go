// Package bufpool recycles large byte and word buffers (dealer material,
// FSS key batches, the frames they travel in) for the secure-side packages
// and the transport, which must not import any arithmetic package to get it.
package bufpool

import (
	"sync"
	"unsafe"
)

// Large buffers (dealer material: FSS key batches of tens of MB, and the
// frames they travel in) are recycled through a process-wide pool instead
// of being left to the garbage collector: a fresh allocation of that size
// is mapped in by the kernel page by page (about 0.4 CPU-s per GB here),
// which dominated the CPU time of the serving processes. Only buffers of
// at least MinPooled bytes are kept, at most MaxPooled bytes in all.
const (
	// MinPooled is the smallest buffer PutBuffer keeps.
	MinPooled = 1 << 20
	// MaxPooled bounds the bytes held by the pool.
	MaxPooled = 1 << 30
)

var pool struct {
	sync.Mutex
	bufs  [][]byte
	bytes int
}

// GetBuffer returns a byte slice of length n with arbitrary contents (a
// recycled buffer of capacity n to 5n/4 if the pool has one, else a new
// one). The caller must overwrite what it reads.
func GetBuffer(n int) []byte {
	if n >= MinPooled {
		if b := take(n, 1); b != nil {
			return b[:n]
		}
	}
	return make([]byte, n)
}

// GetWords is GetBuffer for n uint64 words (8-byte aligned memory).
func GetWords(n int) []uint64 {
	if 8*n >= MinPooled {
		if b := take(8*n, 8); b != nil {
			return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), n)
		}
	}
	return make([]uint64, n)
}

// take removes and returns a pooled buffer of capacity n to 5n/4 whose
// address is a multiple of align, or nil.
func take(n, align int) []byte {
	pool.Lock()
	defer pool.Unlock()
	for i, b := range pool.bufs {
		if c := cap(b); c >= n && c <= n+n/4 && uintptr(unsafe.Pointer(unsafe.SliceData(b)))%uintptr(align) == 0 {
			last := len(pool.bufs) - 1
			pool.bufs[i] = pool.bufs[last]
			pool.bufs[last] = nil
			pool.bufs = pool.bufs[:last]
			pool.bytes -= c
			return b[:c]
		}
	}
	return nil
}

// PutBuffer hands b (its whole capacity) back for reuse by GetBuffer and
// GetWords. The caller and everything sharing b's memory must not use it
// afterwards. Small buffers, and any beyond MaxPooled bytes in the pool,
// are left to the garbage collector.
func PutBuffer(b []byte) {
	c := cap(b)
	if c < MinPooled {
		return
	}
	pool.Lock()
	defer pool.Unlock()
	if pool.bytes+c > MaxPooled {
		return
	}
	pool.bufs = append(pool.bufs, b[:c])
	pool.bytes += c
}

// PutWords is PutBuffer for a word slice.
func PutWords(w []uint64) {
	if cap(w) > 0 {
		PutBuffer(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(w))), 8*cap(w)))
	}
}

// Pooled returns the bytes held by the buffer pool.
func Pooled() int {
	pool.Lock()
	defer pool.Unlock()
	return pool.bytes
}
