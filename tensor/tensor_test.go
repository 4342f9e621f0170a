package tensor

import (
	"math"
	"strings"
	"testing"
)

var (
	inf = float32(math.Inf(1))
	nan = float32(math.NaN())
)

func TestNewFullNumel(t *testing.T) {
	x := New(2, 3, 4)
	if x.Len() != 24 || len(x.Shape) != 3 || x.Dim(0) != 2 || x.Dim(1) != 3 || x.Dim(-1) != 4 || x.Dim(-3) != 2 {
		t.Fatalf("New(2,3,4): shape %v, %d values", x.Shape, x.Len())
	}
	for i, v := range x.Data {
		if v != 0 {
			t.Fatalf("New: value %d is %v, want 0", i, v)
		}
	}
	shape := []int{5, 2}
	y := New(shape...)
	shape[0] = 9 // New must copy the shape
	if y.Shape[0] != 5 {
		t.Errorf("New aliases its shape argument: %v", y.Shape)
	}
	f := Full(-1.5, 3)
	if f.Len() != 3 || f.Data[0] != -1.5 || f.Data[2] != -1.5 {
		t.Errorf("Full(-1.5, 3) = %v", f.Data)
	}
	for _, c := range []struct {
		shape []int
		n     int
	}{{nil, 1}, {[]int{}, 1}, {[]int{7}, 7}, {[]int{2, 0, 3}, 0}, {[]int{2, 3, 4}, 24}} {
		if got := Numel(c.shape); got != c.n {
			t.Errorf("Numel(%v) = %d, want %d", c.shape, got, c.n)
		}
	}
	if s := x.String(); s != "Tensor[2 3 4]" {
		t.Errorf("String() = %q", s)
	}
}

func TestFromData(t *testing.T) {
	d := []float32{1, 2, 3, 4, 5, 6}
	x := FromData(d, 2, 3)
	d[4] = 50 // FromData wraps, it does not copy
	if x.Data[4] != 50 || x.Dim(1) != 3 {
		t.Errorf("FromData: data %v shape %v", x.Data, x.Shape)
	}
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "6 values for shape [4 2]") {
			t.Errorf("FromData with 6 values for [4 2]: recovered %v, want a size panic", r)
		}
	}()
	FromData(d, 4, 2)
}

func TestCloneReshape(t *testing.T) {
	x := FromData([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	c := x.Clone()
	c.Data[0], c.Shape[0] = 9, 7
	if x.Data[0] != 1 || x.Shape[0] != 2 {
		t.Errorf("Clone shares storage: x = %v %v", x.Shape, x.Data)
	}
	r := x.Reshape(3, -1)
	if !SameShape(r, New(3, 2)) {
		t.Errorf("Reshape(3,-1) of [2 3] = %v, want [3 2]", r.Shape)
	}
	r.Data[5] = 60 // Reshape shares data
	if x.Data[5] != 60 {
		t.Errorf("Reshape copied the data")
	}
	if r := x.Reshape(-1); !SameShape(r, New(6)) {
		t.Errorf("Reshape(-1) = %v", r.Shape)
	}
	if r := x.Reshape(1, 6, 1); !SameShape(r, New(1, 6, 1)) {
		t.Errorf("Reshape(1,6,1) = %v", r.Shape)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Reshape(4, -1) of 6 values did not panic")
		}
	}()
	x.Reshape(4, -1)
}

func TestSameShape(t *testing.T) {
	a := New(2, 3)
	for _, c := range []struct {
		b    *Tensor
		same bool
	}{{New(2, 3), true}, {New(3, 2), false}, {New(6), false}, {New(2, 3, 1), false}, {New(2), false}} {
		if got := SameShape(a, c.b); got != c.same {
			t.Errorf("SameShape(%v, %v) = %v", a.Shape, c.b.Shape, got)
		}
	}
	if !SameShape(New(), &Tensor{Data: []float32{1}}) {
		t.Errorf("two scalars (nil and empty shape) differ")
	}
}

func TestFillZeroScaleSumAdd(t *testing.T) {
	x := New(4)
	x.Fill(2.5)
	if x.Sum() != 10 {
		t.Errorf("Fill(2.5) sum %v", x.Sum())
	}
	x.Scale(-2)
	if x.Data[3] != -5 || x.Sum() != -20 {
		t.Errorf("Scale(-2): %v", x.Data)
	}
	x.AddInPlace(FromData([]float32{1, 2, 3, 4}, 4))
	want := []float32{-4, -3, -2, -1}
	for i := range want {
		if x.Data[i] != want[i] {
			t.Fatalf("AddInPlace: %v, want %v", x.Data, want)
		}
	}
	x.Zero()
	if x.Sum() != 0 || x.Len() != 4 {
		t.Errorf("Zero: %v", x.Data)
	}
	// Sum accumulates in float64: 1e8 + 1 + ... is not lost to float32 rounding.
	big := FromData([]float32{1e8, 1, 1, 1, 1}, 5)
	if big.Sum() != 1e8+4 {
		t.Errorf("Sum = %v, want %v", big.Sum(), 1e8+4)
	}
	if New(0).Sum() != 0 {
		t.Errorf("Sum of an empty tensor is not 0")
	}
}

func TestMaxAbsDiff(t *testing.T) {
	v := func(xs ...float32) *Tensor { return FromData(xs, len(xs)) }
	for _, c := range []struct {
		name string
		a, b *Tensor
		want float64
	}{
		{"equal", v(1, -2, 3), v(1, -2, 3), 0},
		{"max of the element differences", v(1, -2, 3), v(1.5, -4, 3), 2},
		{"symmetric", v(1.5, -4, 3), v(1, -2, 3), 2},
		{"exact in float64", v(1e-8), v(0), float64(float32(1e-8))},
		{"no float32 overflow", v(3e38), v(-3e38), float64(float32(3e38)) * 2},
		{"NaN vs number", v(0, nan), v(0, 2), math.Inf(1)},
		{"number vs NaN", v(2), v(nan), math.Inf(1)},
		{"NaN vs NaN", v(nan), v(nan), math.Inf(1)},
		{"Inf vs number", v(inf, 0), v(1, 0), math.Inf(1)},
		{"Inf vs -Inf", v(inf), v(-inf), math.Inf(1)},
		{"equal infinities", v(inf, -inf, 1), v(inf, -inf, 1.25), 0.25},
		{"lengths differ", v(1, 2), v(1, 2, 3), math.Inf(1)},
		{"prefix equal, longer first", v(1, 2, 3), v(1, 2), math.Inf(1)},
		{"same length, other shape", FromData([]float32{1, 2, 3, 4}, 2, 2), v(1, 2, 3, 4), math.Inf(1)},
		{"shape disagrees with data", &Tensor{Shape: []int{3}, Data: []float32{1, 2}}, &Tensor{Shape: []int{3}, Data: []float32{1, 2}}, math.Inf(1)},
		{"empty", New(0), New(0), 0},
		{"nil vs tensor", nil, v(1), math.Inf(1)},
		{"tensor vs nil", v(1), nil, math.Inf(1)},
		{"nil vs nil", nil, nil, 0},
	} {
		if got := MaxAbsDiff(c.a, c.b); got != c.want {
			t.Errorf("%s: MaxAbsDiff = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestClose(t *testing.T) {
	v := func(xs ...float32) *Tensor { return FromData(xs, len(xs)) }
	for _, c := range []struct {
		name       string
		got, want  *Tensor
		atol, rtol float64
		err        string // "" = close
	}{
		{"equal", v(1, 2), v(1, 2), 0, 0, ""},
		{"within atol", v(1, 2.001), v(1, 2), 1e-3, 0, ""},
		{"beyond atol", v(1, 2.01), v(1, 2), 1e-3, 0, "1 of 2 values differ beyond atol 0.001 + rtol 0; worst at 1: 2.01 vs 2"},
		{"rtol scales with want", v(1000.5), v(1000), 0, 1e-3, ""},
		{"rtol uses want, not got", v(2), v(1), 0, 0.6, "worst at 0: 2 vs 1"},
		{"worst element reported", v(1.1, 5, 3.2), v(1, 2, 3), 0.05, 0, "3 of 3 values differ"},
		{"worst is the largest excess", v(1.1, 5, 3.2), v(1, 2, 3), 0.05, 0, "worst at 1: 5 vs 2 (diff 3)"},
		{"NaN never close", v(0, nan), v(0, 0), 1e30, 1e30, "worst at 1: NaN vs 0"},
		{"NaN vs NaN", v(nan), v(nan), 1, 1, "NaN vs NaN"},
		{"Inf vs large", v(inf), v(3e38), 1e30, 1, "+Inf vs 3e+38"},
		{"equal infinities", v(inf, -inf), v(inf, -inf), 0, 0, ""},
		{"shape", FromData([]float32{1, 2}, 1, 2), v(1, 2), 1, 1, "shape [1 2] (2 values) vs [2] (2 values)"},
		{"length", v(1, 2, 3), v(1, 2), 1, 1, "shape [3] (3 values) vs [2] (2 values)"},
		{"nil", nil, v(1), 1, 1, "comparing <nil> with Tensor[1]"},
		{"nil vs nil", nil, nil, 0, 0, ""},
	} {
		err := Close(c.got, c.want, c.atol, c.rtol)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.err)
		}
	}
}

func TestArgMaxRows(t *testing.T) {
	x := FromData([]float32{
		1, 3, 2,
		-1, -5, -0.5,
		7, 7, 1, // tie: the first wins
		nan, 1, 2, // NaN in column 0: nothing is greater
		0, nan, 2, // a NaN elsewhere is skipped
	}, 5, 3)
	got := x.ArgMaxRows()
	want := []int{1, 2, 0, 0, 2}
	if len(got) != len(want) {
		t.Fatalf("ArgMaxRows = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ArgMaxRows = %v, want %v", got, want)
		}
	}
	if got := New(0, 10).ArgMaxRows(); len(got) != 0 {
		t.Errorf("ArgMaxRows of [0 10] = %v", got)
	}
	if got := FromData([]float32{4, 9}, 2, 1).ArgMaxRows(); got[0] != 0 || got[1] != 0 {
		t.Errorf("ArgMaxRows of one column = %v", got)
	}
}
