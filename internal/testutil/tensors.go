// Package testutil holds helpers the packages' tests share (imported by
// _test.go files only).
package testutil

import (
	"fmt"
	"math"
	"sort"

	"github.com/autorep/autorep/tensor"
)

// SameTensors compares two named tensor sets bit for bit (a NaN matches
// only the same NaN, +0 differs from −0; resumed runs and file round trips
// must reproduce every bit) and returns nil, or an error naming the first
// difference in name order: the count, a missing or nil tensor, a shape,
// or an element as "name[i] = got, want w".
func SameTensors(want, got map[string]*tensor.Tensor) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d tensors, want %d", len(got), len(want))
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w, g := want[n], got[n]
		if g == nil || w == nil {
			if g == w {
				continue
			}
			return fmt.Errorf("tensor %q missing", n)
		}
		if !tensor.SameShape(w, g) || len(w.Data) != len(g.Data) {
			return fmt.Errorf("%q: shape %v (%d elements), want %v (%d)", n, g.Shape, len(g.Data), w.Shape, len(w.Data))
		}
		for i := range w.Data {
			if math.Float32bits(w.Data[i]) != math.Float32bits(g.Data[i]) {
				return fmt.Errorf("%s[%d] = %v, want %v", n, i, g.Data[i], w.Data[i])
			}
		}
	}
	return nil
}
