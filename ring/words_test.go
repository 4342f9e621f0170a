package ring

import (
	"encoding/binary"
	"slices"
	"testing"
	"unsafe"
)

func TestAppendDecodeWords(t *testing.T) {
	w := []uint64{0, 1, 0x0102030405060708, ^uint64(0), 1 << 63}
	b := AppendWords([]byte{0xaa}, w)
	if len(b) != 1+8*len(w) || b[0] != 0xaa {
		t.Fatalf("AppendWords: %d bytes", len(b))
	}
	for i, v := range w {
		if got := binary.LittleEndian.Uint64(b[1+8*i:]); got != v {
			t.Fatalf("word %d encoded as %#x, want %#x", i, got, v)
		}
	}
	// Copying decode at an odd offset, aliasing decode at an aligned one.
	if got := DecodeWords(b[1:], true); !slices.Equal(got, w) {
		t.Fatalf("DecodeWords = %v, want %v", got, w)
	}
	al := make([]byte, 8*len(w))
	copy(al, b[1:])
	got := DecodeWords(al, true)
	if !slices.Equal(got, w) {
		t.Fatalf("DecodeWords (aligned) = %v, want %v", got, w)
	}
	if nativeLE && unsafe.SliceData(got) != (*uint64)(unsafe.Pointer(unsafe.SliceData(al))) {
		t.Fatal("aligned DecodeWords with alias copied the words")
	}
	cp := DecodeWords(al, false)
	al[0] ^= 1
	if cp[0] != w[0] {
		t.Fatal("DecodeWords without alias shares the buffer")
	}
	if len(DecodeWords(nil, true)) != 0 || len(AppendWords(nil, nil)) != 0 {
		t.Fatal("empty input")
	}
}
