package ring

import (
	"fmt"
	"github.com/autorep/autorep/internal/cputime"
	"slices"
	"testing"
)

var convCases = []ConvParams{
	{N: 1, C: 1, H: 1, W: 1, K: 1, R: 1, S: 1},
	{N: 2, C: 3, H: 7, W: 6, K: 4, R: 3, S: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{N: 2, C: 4, H: 5, W: 5, K: 6, R: 3, S: 2, StrideH: 1, StrideW: 2, PadH: 0, PadW: 1, Groups: 2},
	{N: 1, C: 4, H: 4, W: 4, K: 4, R: 3, S: 3, PadH: 1, PadW: 1, Groups: 4},
	{N: 3, C: 2, H: 6, W: 5, K: 3, R: 1, S: 1, StrideH: 2, StrideW: 2},
	{N: 3, C: 5, H: 6, W: 5, K: 7, R: 1, S: 1},
	{N: 2, C: 16, H: 8, W: 8, K: 32, R: 3, S: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	{N: 1, C: 3, H: 9, W: 11, K: 5, R: 5, S: 3, StrideH: 3, StrideW: 1, PadH: 2, PadW: 3},
	{N: 1, C: 16, H: 32, W: 32, K: 16, R: 3, S: 3, PadH: 1, PadW: 1},
	{N: 4, C: 32, H: 6, W: 6, K: 32, R: 3, S: 3, PadH: 1, PadW: 1, Groups: 2},
	{N: 1, C: 2, H: 3, W: 3, K: 2, R: 3, S: 3, PadH: 2, PadW: 2, StrideH: 4, StrideW: 4},
	{N: 1, C: 32, H: 5, W: 7, K: 5, R: 3, S: 3, PadH: 1, PadW: 1},                          // depth 288 > kc
	{N: 2, C: 60, H: 9, W: 9, K: 7, R: 3, S: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},  // depth 540
	{N: 1, C: 3, H: 20, W: 37, K: 4, R: 7, S: 7, StrideH: 2, StrideW: 3, PadH: 3, PadW: 3}, // wide rows
	{N: 1, C: 64, H: 4, W: 4, K: 64, R: 3, S: 3, PadH: 1, PadW: 1},                         // split over rows
	{N: 1, C: 16, H: 32, W: 32, K: 32, R: 1, S: 1},                                         // plain GEMM
}

// withDirectMin runs f with the direct-path thresholds set so that every
// convolution but unpadded 1×1 stride-1 takes the direct path (min 0) or
// im2col + GEMM (min huge).
func withDirectMin(v int, f func()) {
	oldMin, oldMax := directMinOutputs, directMaxWeights
	directMinOutputs, directMaxWeights = v, -1
	defer func() { directMinOutputs, directMaxWeights = oldMin, oldMax }()
	f()
}

// convPaths are the thresholds for withDirectMin.
var convPaths = []int{0, 1 << 30}

func TestConv2dAgainstReference(t *testing.T) {
	for _, dmin := range convPaths {
		withDirectMin(dmin, func() { testConv2dAgainstReference(t, dmin) })
	}
}

func testConv2dAgainstReference(t *testing.T, dmin int) {
	prg := NewPRG(seedOf(31))
	for _, simd := range kernels() {
		for _, p := range convCases {
			x := prg.Rand(p.XLen()).Data
			w := prg.Rand(p.WLen()).Data
			want := make([]uint64, p.YLen())
			convScalar(p, x, w, want)
			for _, workers := range []int{1, 2, 3} {
				got := prg.Rand(p.YLen()).Data // garbage that must be overwritten
				withKernel(simd, func() { conv2d(p.Norm(), x, w, got, workers) })
				if !slices.Equal(got, want) {
					t.Fatalf("simd=%v directMin=%d workers=%d %+v: differs from reference", simd, dmin, workers, p)
				}
			}
			got := make([]uint64, p.YLen())
			withKernel(simd, func() {
				if err := Conv2d(p, x, w, got); err != nil {
					t.Fatal(err)
				}
			})
			if !slices.Equal(got, want) {
				t.Fatalf("simd=%v directMin=%d Conv2d %+v: differs from reference", simd, dmin, p)
			}
		}
	}
}

// TestConv2dKnown checks a hand-computed case with negative (wrapped) values.
func TestConv2dKnown(t *testing.T) {
	// x 1×1×3×3 = 1..9, w 1×1×2×2 = [1 0; 0 -1], no padding: y = x[i,j] − x[i+1,j+1] = −4.
	x := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	w := []uint64{1, 0, 0, neg(1)}
	y := make([]uint64, 4)
	p := ConvParams{N: 1, C: 1, H: 3, W: 3, K: 1, R: 2, S: 2}
	if err := Conv2d(p, x, w, y); err != nil {
		t.Fatal(err)
	}
	for _, v := range y {
		if v != neg(4) {
			t.Fatalf("y = %v, want all -4", y)
		}
	}
	xt, _ := FromData(x, 1, 1, 3, 3)
	wt, _ := FromData(w, 1, 1, 2, 2)
	yt, err := Conv2dTensor(xt, wt, ConvParams{})
	if err != nil || !slices.Equal(yt.Shape, []int{1, 1, 2, 2}) || !slices.Equal(yt.Data, y) {
		t.Errorf("Conv2dTensor = %v, %v", yt, err)
	}
}

func TestConv2dErrors(t *testing.T) {
	ok := ConvParams{N: 1, C: 2, H: 4, W: 4, K: 2, R: 3, S: 3}
	bad := []ConvParams{
		{},
		{N: 1, C: 3, H: 4, W: 4, K: 2, R: 3, S: 3, Groups: 2},
		{N: 1, C: 2, H: 2, W: 2, K: 2, R: 3, S: 3},
		{N: 1, C: 2, H: 4, W: 4, K: 2, R: 3, S: 3, StrideH: -1},
		{N: 1 << 20, C: 1 << 20, H: 1 << 20, W: 4, K: 2, R: 3, S: 3},
	}
	for _, p := range bad {
		if err := Conv2d(p, nil, nil, nil); err == nil {
			t.Errorf("Conv2d(%+v): no error", p)
		}
	}
	if err := Conv2d(ok, make([]uint64, ok.XLen()-1), make([]uint64, ok.WLen()), make([]uint64, ok.YLen())); err == nil {
		t.Error("short x: no error")
	}
	if err := Conv2d(ok, make([]uint64, ok.XLen()), make([]uint64, ok.WLen()), make([]uint64, ok.YLen()+1)); err == nil {
		t.Error("long y: no error")
	}
	if _, err := Conv2dTensor(New(1, 2, 4, 4), New(2, 3, 3, 3), ConvParams{}); err == nil {
		t.Error("Conv2dTensor with wrong weight channels: no error")
	}
	if _, err := Conv2dTensor(New(2, 4, 4), New(2, 2, 3, 3), ConvParams{}); err == nil {
		t.Error("Conv2dTensor with 3-D input: no error")
	}
}

// resnet20Convs are the 3×3 convolution shapes of ResNet-20 on CIFAR (one
// image, as in private inference), and the four stages of ResNet-18.
var resnet20Convs = []struct {
	name string
	p    ConvParams
}{
	{"stem3to16", ConvParams{N: 1, C: 3, H: 32, W: 32, K: 16, R: 3, S: 3, PadH: 1, PadW: 1}},
	{"16to16", ConvParams{N: 1, C: 16, H: 32, W: 32, K: 16, R: 3, S: 3, PadH: 1, PadW: 1}},
	{"16to32s2", ConvParams{N: 1, C: 16, H: 32, W: 32, K: 32, R: 3, S: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	{"32to32", ConvParams{N: 1, C: 32, H: 16, W: 16, K: 32, R: 3, S: 3, PadH: 1, PadW: 1}},
	{"64to64", ConvParams{N: 1, C: 64, H: 8, W: 8, K: 64, R: 3, S: 3, PadH: 1, PadW: 1}},
	{"16to16_batch8", ConvParams{N: 8, C: 16, H: 32, W: 32, K: 16, R: 3, S: 3, PadH: 1, PadW: 1}},
	// ResNet-18 (CIFAR) stages.
	{"r18_64to64", ConvParams{N: 1, C: 64, H: 32, W: 32, K: 64, R: 3, S: 3, PadH: 1, PadW: 1}},
	{"r18_128to128", ConvParams{N: 1, C: 128, H: 16, W: 16, K: 128, R: 3, S: 3, PadH: 1, PadW: 1}},
	{"r18_256to256", ConvParams{N: 1, C: 256, H: 8, W: 8, K: 256, R: 3, S: 3, PadH: 1, PadW: 1}},
	{"r18_512to512", ConvParams{N: 1, C: 512, H: 4, W: 4, K: 512, R: 3, S: 3, PadH: 1, PadW: 1}},
}

func BenchmarkConv2dResNet20(b *testing.B) {
	prg := NewPRG(seedOf(3))
	for _, c := range resnet20Convs {
		for _, simd := range kernels() {
			name := "scalar"
			if simd {
				name = "avx512"
			}
			b.Run(fmt.Sprintf("%s/%s", c.name, name), func(b *testing.B) {
				x, w, y := prg.Rand(c.p.XLen()).Data, prg.Rand(c.p.WLen()).Data, make([]uint64, c.p.YLen())
				withKernel(simd, func() {
					c0 := cputime.Seconds()
					for b.Loop() {
						if err := Conv2d(c.p, x, w, y); err != nil {
							b.Fatal(err)
						}
					}
					reportRate(b, c.p.MulAdds(), c0)
				})
			})
		}
	}
}

// FuzzConv2d checks random small geometries: Conv2d either rejects the
// parameters or agrees with the reference, on both kernels; it never panics.
func FuzzConv2d(f *testing.F) {
	f.Add([]byte{1, 3, 7, 6, 4, 3, 3, 2, 2, 1, 1, 1, 0})
	f.Add([]byte{2, 4, 5, 5, 6, 3, 2, 1, 2, 0, 1, 2, 1})
	f.Add([]byte{1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 2})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 13 {
			return
		}
		v := func(i, mod int) int { return int(b[i]) % mod }
		p := ConvParams{
			N: v(0, 3), C: v(1, 9), H: v(2, 12), W: v(3, 12), K: v(4, 9), R: v(5, 6), S: v(6, 6),
			StrideH: v(7, 4), StrideW: v(8, 4), PadH: v(9, 4), PadW: v(10, 4), Groups: v(11, 4),
		}
		if err := p.Validate(); err != nil {
			if Conv2d(p, nil, nil, nil) == nil {
				t.Fatalf("%+v: Validate fails but Conv2d accepts", p)
			}
			return
		}
		prg := NewPRG(seedOf(b[12]))
		x, w := prg.Rand(p.XLen()).Data, prg.Rand(p.WLen()).Data
		want := make([]uint64, p.YLen())
		convScalar(p, x, w, want)
		for _, simd := range kernels() {
			for _, dmin := range convPaths {
				got := make([]uint64, p.YLen())
				withKernel(simd, func() {
					withDirectMin(dmin, func() {
						if err := Conv2d(p, x, w, got); err != nil {
							t.Fatalf("%+v: %v", p, err)
						}
					})
				})
				if !slices.Equal(got, want) {
					t.Fatalf("simd=%v directMin=%d %+v: differs from reference", simd, dmin, p)
				}
			}
		}
	})
}
