// Package tensor provides dense float32 tensors in row-major (NCHW) order.
//
// A Tensor is a shape and a flat slice; it carries no device, dtype or
// stride machinery. Kernels that want another memory layout (oneDNN's
// blocked formats) convert at their boundary.
package tensor

import (
	"fmt"
	"math"
)

// Tensor is a dense row-major float32 array.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero tensor of the given shape.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, Numel(shape))}
}

// FromData wraps data (not copied) as a tensor of the given shape.
// It panics if the sizes disagree: that is a programming error.
func FromData(data []float32, shape ...int) *Tensor {
	if n := Numel(shape); n != len(data) {
		panic(fmt.Sprintf("tensor: %d values for shape %v (%d)", len(data), shape, n))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Full returns a tensor of the given shape filled with v.
func Full(v float32, shape ...int) *Tensor {
	t := New(shape...)
	t.Fill(v)
	return t
}

// Numel is the number of elements of a shape.
func Numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// Len is the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Reshape returns a tensor sharing t's data with a new shape. One dimension
// may be -1 and is inferred.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = append([]int(nil), shape...)
	infer, n := -1, 1
	for i, s := range shape {
		if s == -1 {
			infer = i
		} else {
			n *= s
		}
	}
	if infer >= 0 && n > 0 {
		shape[infer] = len(t.Data) / n
	}
	return FromData(t.Data, shape...)
}

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b *Tensor) bool {
	if len(a.Shape) != len(b.Shape) {
		return false
	}
	for i := range a.Shape {
		if a.Shape[i] != b.Shape[i] {
			return false
		}
	}
	return true
}

// Fill sets every element to v.
func (t *Tensor) Fill(v float32) {
	for i := range t.Data {
		t.Data[i] = v
	}
}

// Zero sets every element to 0.
func (t *Tensor) Zero() { clear(t.Data) }

// AddInPlace adds o (same shape) into t.
func (t *Tensor) AddInPlace(o *Tensor) {
	d := t.Data[:len(o.Data)]
	for i, v := range o.Data {
		d[i] += v
	}
}

// Scale multiplies every element by s in place.
func (t *Tensor) Scale(s float32) {
	for i := range t.Data {
		t.Data[i] *= s
	}
}

// Sum returns the sum of all elements in float64.
func (t *Tensor) Sum() float64 {
	var s float64
	for _, v := range t.Data {
		s += float64(v)
	}
	return s
}

// MaxAbsDiff returns max |a_i − b_i|, the distance tests and benchmarks
// compare against a tolerance. It never understates a mismatch: it is +Inf
// when the shapes differ (see SameShape) and when a pair differs through a
// NaN or an infinity (a NaN equals nothing, not even a NaN; equal
// infinities are equal), so both "d > tol" and "d != 0" fail. Use Close
// for an error that says which element or shape disagrees.
func MaxAbsDiff(a, b *Tensor) float64 {
	if a == nil || b == nil {
		if a == b {
			return 0
		}
		return math.Inf(1)
	}
	if !sameLayout(a, b) {
		return math.Inf(1)
	}
	var m float64
	for i, x := range a.Data {
		y := b.Data[i]
		if x == y { // also equal infinities, whose difference is NaN
			continue
		}
		// float64 keeps the difference of two finite float32s exact and
		// finite; it is NaN or infinite only through a NaN or an infinity.
		d := math.Abs(float64(x) - float64(y))
		if d != d || math.IsInf(d, 0) {
			return math.Inf(1)
		}
		m = max(m, d)
	}
	return m
}

// sameLayout reports whether a and b have the same shape and each holds as
// many values as its shape says.
func sameLayout(a, b *Tensor) bool {
	return SameShape(a, b) && len(a.Data) == len(b.Data) && len(a.Data) == Numel(a.Shape)
}

// Close reports whether got matches want element by element within
// |got_i − want_i| ≤ atol + rtol·|want_i| (numpy's isclose, want being the
// reference), or else returns an error naming the differing shapes or the
// worst element and how far it is off. NaN is close to nothing; an
// infinity only to the same infinity.
func Close(got, want *Tensor, atol, rtol float64) error {
	if got == nil || want == nil {
		if got == want {
			return nil
		}
		return fmt.Errorf("tensor: comparing %v with %v", got, want)
	}
	if !sameLayout(got, want) {
		return fmt.Errorf("tensor: shape %v (%d values) vs %v (%d values)", got.Shape, len(got.Data), want.Shape, len(want.Data))
	}
	worst, excess, bad := -1, 0.0, 0
	for i, g := range got.Data {
		w := want.Data[i]
		if g == w { // covers equal infinities
			continue
		}
		d := math.Abs(float64(g) - float64(w))
		e := d - (atol + rtol*math.Abs(float64(w)))
		if d != d || math.IsInf(d, 0) {
			e = math.Inf(1)
		}
		if !(e <= 0) {
			bad++
			if worst < 0 || e > excess {
				worst, excess = i, e
			}
		}
	}
	if worst >= 0 {
		g, w := got.Data[worst], want.Data[worst]
		return fmt.Errorf("tensor: %d of %d values differ beyond atol %g + rtol %g; worst at %d: %v vs %v (diff %g)",
			bad, len(got.Data), atol, rtol, worst, g, w, math.Abs(float64(g)-float64(w)))
	}
	return nil
}

// ArgMaxRows returns, for a [N, K] tensor, the index of each row's maximum
// (the first on ties; a NaN wins only in column 0, as nothing compares
// greater than it).
func (t *Tensor) ArgMaxRows() []int {
	n := t.Shape[0]
	if n == 0 {
		return []int{}
	}
	k := len(t.Data) / n
	out := make([]int, n)
	for i := 0; i < n; i++ {
		row := t.Data[i*k : (i+1)*k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

// String prints the shape (not the values).
func (t *Tensor) String() string { return fmt.Sprintf("Tensor%v", t.Shape) }
