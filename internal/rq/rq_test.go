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

func TestModInv(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 5))
	for _, q := range []uint64{65537, 1073479681, 1152921504606830593} {
		for range 100 {
			a := rng.Uint64()%(q-1) + 1
			if got := MulMod(ModInv(a, q), a, q); got != 1 {
				t.Fatalf("q %d: a·a^−1 = %d for a = %d", q, got, a)
			}
		}
	}
}
