package data

import (
	"slices"
	"testing"
)

// TestNormalizedRange: a batch holds Normalized's images in order, an
// empty range is an empty batch, and a range outside the set panics.
func TestNormalizedRange(t *testing.T) {
	s := synthSet(5, 3, 4, 2)
	x := s.NormalizedRange(1, 4)
	if !slices.Equal(x.Shape, []int{3, 3, 4, 2}) {
		t.Fatalf("shape %v", x.Shape)
	}
	per := s.ImageSize()
	for i := 1; i < 4; i++ {
		if !slices.Equal(x.Data[(i-1)*per:i*per], s.Normalized(i).Data) {
			t.Errorf("image %d differs from Normalized", i)
		}
	}
	if e := s.NormalizedRange(2, 2); e.Shape[0] != 0 || len(e.Data) != 0 {
		t.Errorf("empty range: shape %v, %d values", e.Shape, len(e.Data))
	}
	for _, r := range [][2]int{{-1, 2}, {3, 6}, {3, 2}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("range %v: no panic", r)
				}
			}()
			s.NormalizedRange(r[0], r[1])
		}()
	}
}
