package data

import (
	"fmt"

	"github.com/autorep/autorep/tensor"
)

// NormalizedRange returns the images [lo, hi) as one [hi-lo, C, H, W]
// batch normalised like Normalized (lo == hi: an empty batch). It panics
// if the range is not within [0, N], like a slice index.
func (s *Set) NormalizedRange(lo, hi int) *tensor.Tensor {
	if lo < 0 || hi > s.N || lo > hi {
		panic(fmt.Sprintf("data: image range [%d,%d) outside [0,%d)", lo, hi, s.N))
	}
	x := tensor.New(hi-lo, s.C, s.H, s.W)
	per := s.ImageSize()
	for i := lo; i < hi; i++ {
		s.normalizeInto(x.Data[(i-lo)*per:(i-lo+1)*per], s.Image(i))
	}
	return x
}
