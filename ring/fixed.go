package ring

import (
	"fmt"
	"math"

	"github.com/autorep/autorep/tensor"
)

// DefaultFrac is the default number of fractional bits (as in CrypTen).
const DefaultFrac = 16

// MaxFrac is the largest supported number of fractional bits.
const MaxFrac = 62

// two63 is 2^63 as a float64 (exact).
const two63 = 9223372036854775808.0

// Encode returns the fixed-point encoding of x with frac fractional bits:
// round(x·2^frac) (half away from zero) as a two's-complement int64
// reinterpreted in Z_2^64. Values outside the representable range saturate
// to the nearest representable value, NaN encodes as 0; use EncodeChecked to
// get an error instead. frac above MaxFrac is treated as MaxFrac.
func Encode(x float64, frac uint) uint64 {
	if frac > MaxFrac {
		frac = MaxFrac
	}
	y := math.Round(math.Ldexp(x, int(frac)))
	switch {
	case y != y: // NaN
		return 0
	case y >= two63:
		return uint64(math.MaxInt64)
	case y < -two63:
		return 1 << 63 // MinInt64
	}
	return uint64(int64(y))
}

// EncodeChecked is Encode but returns an error when x is NaN or infinite,
// when round(x·2^frac) does not fit in a signed 64-bit value, or when frac
// exceeds MaxFrac.
func EncodeChecked(x float64, frac uint) (uint64, error) {
	if frac > MaxFrac {
		return 0, fmt.Errorf("ring: %d fractional bits exceeds the maximum %d", frac, MaxFrac)
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("ring: cannot encode %v", x)
	}
	y := math.Round(math.Ldexp(x, int(frac)))
	if y >= two63 || y < -two63 {
		return 0, fmt.Errorf("ring: %g does not fit in 64-bit fixed point with %d fractional bits (|x| < %g)",
			x, frac, math.Ldexp(1, 63-int(frac)))
	}
	return uint64(int64(y)), nil
}

// Decode returns the real value of the fixed-point v with frac fractional
// bits, reading v as a two's-complement signed integer.
func Decode(v uint64, frac uint) float64 {
	return math.Ldexp(float64(int64(v)), -int(frac))
}

// EncodeTensor encodes a float32 tensor (saturating like Encode).
func EncodeTensor(t *tensor.Tensor, frac uint) *Tensor {
	r := New(t.Shape...)
	for i, v := range t.Data {
		r.Data[i] = Encode(float64(v), frac)
	}
	return r
}

// EncodeTensorChecked encodes a float32 tensor and returns an error naming
// the first element that EncodeChecked rejects.
func EncodeTensorChecked(t *tensor.Tensor, frac uint) (*Tensor, error) {
	if len(t.Data) != tensor.Numel(t.Shape) {
		return nil, fmt.Errorf("ring: tensor has %d values for shape %v", len(t.Data), t.Shape)
	}
	r := New(t.Shape...)
	for i, v := range t.Data {
		e, err := EncodeChecked(float64(v), frac)
		if err != nil {
			return nil, fmt.Errorf("ring: element %d: %w", i, err)
		}
		r.Data[i] = e
	}
	return r, nil
}

// DecodeTensor decodes to a float32 tensor of the same shape.
func DecodeTensor(r *Tensor, frac uint) *tensor.Tensor {
	t := tensor.New(r.Shape...)
	for i, v := range r.Data {
		t.Data[i] = float32(Decode(v, frac))
	}
	return t
}

// EncodeVec encodes src into dst (equal lengths), saturating like Encode.
func EncodeVec(dst []uint64, src []float32, frac uint) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("ring.EncodeVec: length %d, want %d", len(src), len(dst)))
	}
	for i, v := range src {
		dst[i] = Encode(float64(v), frac)
	}
}

// DecodeVec decodes src into dst (equal lengths).
func DecodeVec(dst []float32, src []uint64, frac uint) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("ring.DecodeVec: length %d, want %d", len(src), len(dst)))
	}
	for i, v := range src {
		dst[i] = float32(Decode(v, frac))
	}
}
