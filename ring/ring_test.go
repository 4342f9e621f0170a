package ring

import (
	"math"
	"slices"
	"testing"

	"github.com/autorep/autorep/tensor"
)

func TestArithmeticWraps(t *testing.T) {
	a, err := FromData([]uint64{1, math.MaxUint64, 1 << 63, 7}, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := FromData([]uint64{2, 3, 1 << 63, 9}, 2, 2)
	sum, err := Add(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{3, 2, 0, 16}; !slices.Equal(sum.Data, want) {
		t.Errorf("Add = %v, want %v", sum.Data, want)
	}
	diff, _ := Sub(a, b)
	if want := []uint64{math.MaxUint64, math.MaxUint64 - 3, 0, math.MaxUint64 - 1}; !slices.Equal(diff.Data, want) {
		t.Errorf("Sub = %v, want %v", diff.Data, want)
	}
	if n := Neg(a); !slices.Equal(n.Data, []uint64{math.MaxUint64, 1, 1 << 63, neg(7)}) {
		t.Errorf("Neg = %v", n.Data)
	}
	if m := MulScalar(a, 3); !slices.Equal(m.Data, []uint64{3, math.MaxUint64 - 2, 1 << 63, 21}) {
		t.Errorf("MulScalar = %v", m.Data)
	}
	c := a.Clone()
	c.Data[0] = 99
	if a.Data[0] != 1 {
		t.Error("Clone shares data")
	}
	if err := c.AddInPlace(b); err != nil || c.Data[0] != 101 {
		t.Errorf("AddInPlace: %v %v", err, c.Data)
	}
	if err := c.SubInPlace(b); err != nil || c.Data[0] != 99 {
		t.Errorf("SubInPlace: %v %v", err, c.Data)
	}
}

func TestShapeErrors(t *testing.T) {
	if _, err := FromData(make([]uint64, 5), 2, 2); err == nil {
		t.Error("FromData with wrong length: no error")
	}
	if _, err := FromData(nil, -1, 0); err == nil {
		t.Error("FromData with negative dim: no error")
	}
	if _, err := FromData(nil, math.MaxInt/2, math.MaxInt/2); err == nil {
		t.Error("FromData with overflowing shape: no error")
	}
	a, b := New(2, 3), New(3, 2)
	if _, err := Add(a, b); err == nil {
		t.Error("Add with mismatched shapes: no error")
	}
	if _, err := Sub(a, b); err == nil {
		t.Error("Sub with mismatched shapes: no error")
	}
	if err := a.AddInPlace(b); err == nil {
		t.Error("AddInPlace with mismatched shapes: no error")
	}
	if _, err := Reconstruct(a, b); err == nil {
		t.Error("Reconstruct with mismatched shapes: no error")
	}
	r, err := a.Reshape(3, -1)
	if err != nil || !slices.Equal(r.Shape, []int{3, 2}) {
		t.Errorf("Reshape(3,-1) = %v, %v", r, err)
	}
	for _, bad := range [][]int{{4, -1}, {5}, {-1, -1}, {-2, 3}} {
		if _, err := a.Reshape(bad...); err == nil {
			t.Errorf("Reshape%v: no error", bad)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	cases := []struct {
		x    float64
		frac uint
		want uint64
	}{
		{0, 16, 0},
		{1, 16, 1 << 16},
		{-1, 16, neg(1 << 16)},
		{0.5, 1, 1},
		{-0.5, 1, neg(1)},
		{1.25, 2, 5},
		{-1.25, 2, neg(5)},
		{0.3, 0, 0},
		{0.5, 0, 1}, // half away from zero
		{-0.5, 0, neg(1)},
		{2.6, 0, 3},
		{-2.6, 0, neg(3)},
		{1.0 / 3, 16, 21845},
		{-1.0 / 3, 16, neg(21845)},
	}
	for _, c := range cases {
		if got := Encode(c.x, c.frac); got != c.want {
			t.Errorf("Encode(%v, %d) = %#x, want %#x", c.x, c.frac, got, c.want)
		}
		got, err := EncodeChecked(c.x, c.frac)
		if err != nil || got != c.want {
			t.Errorf("EncodeChecked(%v, %d) = %#x, %v", c.x, c.frac, got, err)
		}
	}
	// Round trip: error at most half a unit in the last place.
	for _, frac := range []uint{0, 8, 16, 24, 40} {
		ulp := math.Ldexp(1, -int(frac))
		for _, x := range []float64{0, 1e-6, -1e-6, 0.1, -0.1, 3.14159, -2.71828, 1000.5, -1000.5, 12345.678, -98765.4321} {
			d := Decode(Encode(x, frac), frac)
			if math.Abs(d-x) > ulp/2+1e-12 {
				t.Errorf("frac %d: Decode(Encode(%v)) = %v", frac, x, d)
			}
			if x != 0 && math.Abs(x) >= ulp && math.Signbit(d) != math.Signbit(x) {
				t.Errorf("frac %d: sign of %v lost: %v", frac, x, d)
			}
		}
	}
	// Negative values are the two's complement: top bit set.
	if v := Encode(-3.5, 16); v>>63 != 1 || Decode(v, 16) != -3.5 {
		t.Errorf("Encode(-3.5) = %#x decodes to %v", v, Decode(v, 16))
	}
	// Arithmetic on encodings is arithmetic on values.
	s := Encode(1.5, 16) + Encode(-4.25, 16)
	if Decode(s, 16) != -2.75 {
		t.Errorf("1.5 + -4.25 = %v", Decode(s, 16))
	}
}

func TestEncodeOverflow(t *testing.T) {
	bad := []struct {
		x    float64
		frac uint
	}{
		{math.NaN(), 16},
		{math.Inf(1), 16},
		{math.Inf(-1), 16},
		{math.Ldexp(1, 47), 16},  // exactly 2^63 after scaling
		{-math.Ldexp(1, 48), 16}, // -2^64
		{1e30, 0},
		{1, 63},
		{1, 200},
	}
	for _, c := range bad {
		if v, err := EncodeChecked(c.x, c.frac); err == nil {
			t.Errorf("EncodeChecked(%v, %d) = %#x, want error", c.x, c.frac, v)
		}
	}
	// The extremes that do fit.
	if v, err := EncodeChecked(-math.Ldexp(1, 47), 16); err != nil || v != 1<<63 {
		t.Errorf("EncodeChecked(-2^47, 16) = %#x, %v", v, err)
	}
	// The largest float64 below 2^47 is 2^47 − 2^-6, i.e. 2^63 − 2^10 scaled.
	if v, err := EncodeChecked(math.Nextafter(math.Ldexp(1, 47), 0), 16); err != nil || v != math.MaxInt64-1023 {
		t.Errorf("EncodeChecked(2^47-2^-6, 16) = %#x, %v", v, err)
	}
	// Encode saturates.
	if v := Encode(1e30, 16); v != math.MaxInt64 {
		t.Errorf("Encode(1e30) = %#x", v)
	}
	if v := Encode(-1e30, 16); v != 1<<63 {
		t.Errorf("Encode(-1e30) = %#x", v)
	}
	if v := Encode(math.NaN(), 16); v != 0 {
		t.Errorf("Encode(NaN) = %#x", v)
	}
	tt := tensor.FromData([]float32{1, 2, 3e30}, 3)
	if _, err := EncodeTensorChecked(tt, 16); err == nil {
		t.Error("EncodeTensorChecked: no error for 3e30")
	}
}

func TestEncodeTensor(t *testing.T) {
	x := tensor.FromData([]float32{-1.5, 0, 0.25, 100.125, -7e-5, 3}, 2, 3)
	r := EncodeTensor(x, 16)
	if !slices.Equal(r.Shape, x.Shape) {
		t.Fatalf("shape %v", r.Shape)
	}
	rc, err := EncodeTensorChecked(x, 16)
	if err != nil || !slices.Equal(rc.Data, r.Data) {
		t.Fatalf("EncodeTensorChecked: %v", err)
	}
	y := DecodeTensor(r, 16)
	if d := tensor.MaxAbsDiff(x, y); d > 1.0/(1<<17) {
		t.Errorf("round trip error %g", d)
	}
	v := make([]uint64, 6)
	EncodeVec(v, x.Data, 16)
	if !slices.Equal(v, r.Data) {
		t.Error("EncodeVec differs from EncodeTensor")
	}
	f := make([]float32, 6)
	DecodeVec(f, v, 16)
	if !slices.Equal(f, y.Data) {
		t.Error("DecodeVec differs from DecodeTensor")
	}
}

// neg returns −v mod 2^64 (constant expressions cannot wrap).
func neg(v uint64) uint64 { return -v }
