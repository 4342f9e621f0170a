package bufpool

import (
	"testing"
	"unsafe"
)

func TestBufferPool(t *testing.T) {
	base := Pooled()
	b := GetBuffer(2 * MinPooled)
	if len(b) != 2*MinPooled {
		t.Fatalf("GetBuffer: %d bytes", len(b))
	}
	b[0] = 7
	PutBuffer(b)
	if Pooled() != base+2*MinPooled {
		t.Fatalf("pool holds %d bytes after a put, want %d", Pooled(), base+2*MinPooled)
	}
	// A request of a much smaller size does not take the large buffer.
	if s := GetBuffer(MinPooled); unsafe.SliceData(s) == unsafe.SliceData(b) {
		t.Fatal("a 1 MiB request took the 2 MiB buffer")
	}
	// A fitting word request reuses it, aligned.
	w := GetWords(2 * MinPooled / 8)
	if unsafe.Pointer(unsafe.SliceData(w)) != unsafe.Pointer(unsafe.SliceData(b)) || len(w) != 2*MinPooled/8 {
		t.Fatal("GetWords did not reuse the pooled buffer")
	}
	if Pooled() != base {
		t.Fatalf("pool holds %d bytes after the get, want %d", Pooled(), base)
	}
	PutWords(w)
	PutBuffer(make([]byte, 100)) // too small: not kept
	if Pooled() != base+2*MinPooled {
		t.Fatalf("pool holds %d bytes, want %d", Pooled(), base+2*MinPooled)
	}
	_ = GetBuffer(2 * MinPooled)
	// The bound: a buffer that would exceed MaxPooled is dropped.
	before := Pooled()
	PutBuffer(make([]byte, 0, MaxPooled-before+1))
	if Pooled() != before {
		t.Fatal("the pool exceeded MaxPooled")
	}
}
