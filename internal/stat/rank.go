package stat

import (
	"math"
	"slices"
)

// Argmax returns the index of the first largest element of v (0 for an
// empty v): the label of a row of logits.
func Argmax[T float32 | float64](v []T) int {
	b := 0
	for i, x := range v {
		if x > v[b] {
			b = i
		}
	}
	return b
}

// Percentile returns the q-quantile of v by nearest rank (the smallest
// element with at least a fraction q of v at or below it; 0 for none). v
// is not modified.
func Percentile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
