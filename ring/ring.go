// Package ring provides tensors over the ring Z_2^64, the arithmetic that
// additive secret sharing is built on.
//
// All arithmetic wraps modulo 2^64 (Go's native uint64 overflow). Real
// numbers are stored in two's-complement fixed point with a configurable
// number of fractional bits (see Encode, Decode). The package also holds the
// cryptographic PRG (AES-128-CTR) used to sample shares and masks, additive
// sharing with optional seed compression, and fast uint64 matrix product and
// convolution kernels (MatMul, Conv2d) with an AVX-512 path under
// GOEXPERIMENT=simd and a bit-identical scalar fallback.
package ring

import (
	"fmt"
	"slices"
)

// Tensor is a dense row-major array over Z_2^64.
type Tensor struct {
	Shape []int
	Data  []uint64
}

// Numel is the number of elements of a shape (1 for the empty shape).
func Numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// checkShape reports an error for negative dimensions or an element count
// that overflows int.
func checkShape(shape []int) error {
	n := 1
	for _, s := range shape {
		if s < 0 {
			return fmt.Errorf("ring: negative dimension in shape %v", shape)
		}
		if s != 0 && n > int(^uint(0)>>1)/s {
			return fmt.Errorf("ring: shape %v too large", shape)
		}
		n *= s
	}
	return nil
}

// New returns a zero tensor of the given shape. It panics on a negative
// dimension (a programming error; shapes from untrusted input go through
// FromData, which returns an error).
func New(shape ...int) *Tensor {
	if err := checkShape(shape); err != nil {
		panic(err)
	}
	return &Tensor{Shape: slices.Clone(shape), Data: make([]uint64, Numel(shape))}
}

// FromData wraps data (not copied) as a tensor of the given shape. It returns
// an error if the shape is invalid or does not match len(data).
func FromData(data []uint64, shape ...int) (*Tensor, error) {
	if err := checkShape(shape); err != nil {
		return nil, err
	}
	if n := Numel(shape); n != len(data) {
		return nil, fmt.Errorf("ring: %d values for shape %v (%d)", len(data), shape, n)
	}
	return &Tensor{Shape: slices.Clone(shape), Data: data}, nil
}

// Len is the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: slices.Clone(t.Shape), Data: slices.Clone(t.Data)}
}

// Reshape returns a tensor sharing t's data with a new shape of the same
// size. One dimension may be -1 and is inferred.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	shape = slices.Clone(shape)
	infer, n := -1, 1
	for i, s := range shape {
		switch {
		case s == -1 && infer < 0:
			infer = i
		case s < 0:
			return nil, fmt.Errorf("ring: bad reshape %v of %v", shape, t.Shape)
		default:
			n *= s
		}
	}
	if infer >= 0 {
		if n == 0 || len(t.Data)%n != 0 {
			return nil, fmt.Errorf("ring: cannot reshape %v to %v", t.Shape, shape)
		}
		shape[infer] = len(t.Data) / n
	}
	r, err := FromData(t.Data, shape...)
	if err != nil {
		return nil, fmt.Errorf("ring: reshape %v: %w", t.Shape, err)
	}
	return r, nil
}

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b *Tensor) bool { return slices.Equal(a.Shape, b.Shape) }

// String prints the shape (not the values).
func (t *Tensor) String() string { return fmt.Sprintf("ring.Tensor%v", t.Shape) }

func checkSame(op string, a, b *Tensor) error {
	if !SameShape(a, b) || len(a.Data) != len(b.Data) {
		return fmt.Errorf("ring: %s: shapes %v and %v differ", op, a.Shape, b.Shape)
	}
	return nil
}

// Add returns a + b (mod 2^64); the shapes must be equal.
func Add(a, b *Tensor) (*Tensor, error) {
	if err := checkSame("add", a, b); err != nil {
		return nil, err
	}
	r := New(a.Shape...)
	AddVec(r.Data, a.Data, b.Data)
	return r, nil
}

// Sub returns a − b (mod 2^64); the shapes must be equal.
func Sub(a, b *Tensor) (*Tensor, error) {
	if err := checkSame("sub", a, b); err != nil {
		return nil, err
	}
	r := New(a.Shape...)
	SubVec(r.Data, a.Data, b.Data)
	return r, nil
}

// Neg returns −a (mod 2^64).
func Neg(a *Tensor) *Tensor {
	r := New(a.Shape...)
	NegVec(r.Data, a.Data)
	return r
}

// MulScalar returns s·a (mod 2^64).
func MulScalar(a *Tensor, s uint64) *Tensor {
	r := New(a.Shape...)
	MulScalarVec(r.Data, a.Data, s)
	return r
}

// AddInPlace sets t ← t + o; the shapes must be equal.
func (t *Tensor) AddInPlace(o *Tensor) error {
	if err := checkSame("add", t, o); err != nil {
		return err
	}
	AddVec(t.Data, t.Data, o.Data)
	return nil
}

// SubInPlace sets t ← t − o; the shapes must be equal.
func (t *Tensor) SubInPlace(o *Tensor) error {
	if err := checkSame("sub", t, o); err != nil {
		return err
	}
	SubVec(t.Data, t.Data, o.Data)
	return nil
}

// The *Vec functions are the slice-level kernels behind the tensor
// operations. dst may alias an input. Mismatched lengths are a programming
// error and panic (like an out-of-range index).

func mustLen(op string, dst []uint64, srcs ...[]uint64) {
	for _, s := range srcs {
		if len(s) != len(dst) {
			panic(fmt.Sprintf("ring.%s: length %d, want %d", op, len(s), len(dst)))
		}
	}
}

// AddVec sets dst[i] = a[i] + b[i] (mod 2^64); all lengths must be equal.
func AddVec(dst, a, b []uint64) {
	mustLen("AddVec", dst, a, b)
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// SubVec sets dst[i] = a[i] − b[i] (mod 2^64); all lengths must be equal.
func SubVec(dst, a, b []uint64) {
	mustLen("SubVec", dst, a, b)
	for i := range dst {
		dst[i] = a[i] - b[i]
	}
}

// NegVec sets dst[i] = −a[i] (mod 2^64); the lengths must be equal.
func NegVec(dst, a []uint64) {
	mustLen("NegVec", dst, a)
	for i := range dst {
		dst[i] = -a[i]
	}
}

// MulScalarVec sets dst[i] = s·a[i] (mod 2^64); the lengths must be equal.
func MulScalarVec(dst, a []uint64, s uint64) {
	mustLen("MulScalarVec", dst, a)
	for i := range dst {
		dst[i] = s * a[i]
	}
}

// MulVec sets dst[i] = a[i]·b[i] (mod 2^64); all lengths must be equal.
func MulVec(dst, a, b []uint64) {
	mustLen("MulVec", dst, a, b)
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}
