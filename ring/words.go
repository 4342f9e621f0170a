package ring

import (
	"encoding/binary"
	"unsafe"
)

// nativeLE reports whether this machine stores uint64 little endian, the
// wire order of ring elements and FSS key words: then encoding and
// decoding are memory copies (or no copy at all) instead of a loop over
// words.
var nativeLE = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// NativeLE reports whether this machine stores uint64 little endian, so
// that WordBytes is also the little-endian wire encoding.
var NativeLE = nativeLE

// WordBytes views w as its 8·len(w) bytes in memory order (no copy).
func WordBytes(w []uint64) []byte {
	if len(w) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(w))), 8*len(w))
}

// AppendWords appends w as little-endian words (one memory copy on
// little-endian machines).
func AppendWords(b []byte, w []uint64) []byte {
	if nativeLE {
		return append(b, WordBytes(w)...)
	}
	for _, v := range w {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// DecodeWords returns the little-endian words of body (len(body) a
// multiple of 8). With alias set and body 8-byte aligned on a
// little-endian machine, the result shares body's memory (the caller
// gives up body); otherwise the words are copied.
func DecodeWords(body []byte, alias bool) []uint64 {
	n := len(body) / 8
	if n == 0 {
		return []uint64{}
	}
	if nativeLE && alias && uintptr(unsafe.Pointer(unsafe.SliceData(body)))%8 == 0 {
		return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(body))), n)
	}
	w := make([]uint64, n)
	if nativeLE {
		copy(WordBytes(w), body)
		return w
	}
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(body[8*i:])
	}
	return w
}
