package rq

import (
	"math/rand/v2"
	"testing"
)

func TestPackRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 3))
	for _, width := range []uint{1, 7, 8, 30, 41, 55, 57, 61, 64} {
		for _, n := range []int{0, 1, 3, 8, 37, 1000} {
			w := make([]uint64, n)
			for i := range w {
				w[i] = rng.Uint64() >> (64 - width)
			}
			b := PackSeg(nil, w, width)
			if len(b) != SegBytes(n, width) {
				t.Fatalf("width %d, n %d: %d bytes, want %d", width, n, len(b), SegBytes(n, width))
			}
			got := make([]uint64, n)
			UnpackSeg(b, got, width)
			for i := range w {
				if got[i] != w[i] {
					t.Fatalf("width %d, n %d: word %d = %#x, want %#x", width, n, i, got[i], w[i])
				}
			}
		}
	}
}
