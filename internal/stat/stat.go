// Package stat holds small statistics the packages share.
package stat

import "slices"

// Median returns the median of xs (the mean of the middle two for an even
// count, 0 for none); it reorders xs.
func Median[T float32 | float64](xs []T) T {
	n := len(xs)
	if n == 0 {
		return 0
	}
	slices.Sort(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
