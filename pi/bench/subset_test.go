package bench

import (
	"slices"
	"testing"

	"github.com/autorep/autorep/data"
)

// TestPISubsetSkip: bench pi's images K..K+n−1 (--skip K --n n) are those
// of a run of K+n images at the same places, for a sampled subset and for
// the whole set; a skip past the set or negative is an error.
func TestPISubsetSkip(t *testing.T) {
	const size = 50
	set := &data.Set{Name: "synthetic", C: 1, H: 1, W: 2, N: size, Classes: size,
		Pixels: make([]uint8, 2*size), Labels: make([]int32, size)}
	for i := range size {
		set.Pixels[2*i], set.Pixels[2*i+1], set.Labels[i] = uint8(i), uint8(100+i), int32(i)
	}
	for _, c := range []struct{ skip, n int }{{0, 7}, {3, 4}, {6, 1}, {40, 10}, {45, 20}} {
		whole, err := Subset(set, 0, c.skip+c.n)
		if err != nil {
			t.Fatal(err)
		}
		part, err := Subset(set, c.skip, c.n)
		if err != nil {
			t.Fatal(err)
		}
		want := whole.Labels[c.skip:]
		if !slices.Equal(part.Labels, want) || !slices.Equal(part.Pixels, whole.Pixels[2*c.skip:]) {
			t.Errorf("skip %d, n %d: labels %v, want %v", c.skip, c.n, part.Labels, want)
		}
		if c.skip+c.n < size && slices.IsSorted(whole.Labels) {
			t.Errorf("skip %d, n %d: the subset %v is not a random sample", c.skip, c.n, whole.Labels)
		}
	}
	for _, skip := range []int{-1, size} {
		if _, err := Subset(set, skip, 1); err == nil {
			t.Errorf("skip %d accepted for %d images", skip, size)
		}
	}
}
