package ring

import (
	"fmt"
	"github.com/autorep/autorep/internal/cputime"
	"math"
	"slices"
	"testing"
)

// withKernel runs f with the SIMD kernel switched on or off (when the build
// and CPU have it) and restores the selection.
func withKernel(simd bool, f func()) {
	old := useSIMD
	useSIMD = simd && simdAvailable
	defer func() { useSIMD = old }()
	f()
}

func kernels() []bool {
	if simdAvailable {
		return []bool{false, true}
	}
	return []bool{false}
}

func TestMatMulAgainstReference(t *testing.T) {
	t.Logf("SIMD kernel available: %v (Kernel() = %s)", simdAvailable, Kernel())
	p := NewPRG(seedOf(21))
	sizes := [][3]int{
		{1, 1, 1}, {1, 17, 3}, {5, 1, 9}, {4, 16, 1}, {3, 5, 7}, {7, 33, 19},
		{16, 16, 16}, {17, 15, 300}, {65, 47, 257}, {130, 70, 520}, {2, 1000, 27},
		{64, 64, 64}, {0, 5, 3}, {5, 0, 3}, {5, 3, 0},
	}
	for _, simd := range kernels() {
		for _, s := range sizes {
			m, n, k := s[0], s[1], s[2]
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				for _, acc := range []bool{false, true} {
					a := p.Rand(m * k).Data
					b := p.Rand(k * n).Data
					c0 := p.Rand(m * n).Data
					want := slices.Clone(c0)
					matMulScalar(tr[0], tr[1], acc, m, n, k, a, b, want)
					for _, workers := range []int{1, 2, 3} {
						got := slices.Clone(c0)
						withKernel(simd, func() {
							gemm(gemmArgs{transA: tr[0], transB: tr[1], acc: acc, m: m, n: n, k: k, a: a, b: b, c: got}, workers)
						})
						if !slices.Equal(got, want) {
							t.Fatalf("simd=%v m=%d n=%d k=%d trans=%v acc=%v workers=%d: differs from reference",
								simd, m, n, k, tr, acc, workers)
						}
					}
				}
			}
		}
	}
}

// TestMatMulSmallValues checks the product against hand-computed values,
// including wrap-around.
func TestMatMulSmallValues(t *testing.T) {
	a := []uint64{1, 2, 3, 4, 5, 6}    // 2×3
	b := []uint64{7, 8, 9, 10, 11, 12} // 3×2
	want := []uint64{58, 64, 139, 154} // 2×2
	for _, simd := range kernels() {
		withKernel(simd, func() {
			c := make([]uint64, 4)
			if err := MatMul(2, 2, 3, a, b, c); err != nil || !slices.Equal(c, want) {
				t.Errorf("simd=%v: MatMul = %v, %v", simd, c, err)
			}
			if err := MatMulAdd(2, 2, 3, a, b, c); err != nil || c[0] != 116 {
				t.Errorf("simd=%v: MatMulAdd = %v, %v", simd, c, err)
			}
			bt := []uint64{7, 9, 11, 8, 10, 12} // b transposed, 2×3
			if err := MatMulTransB(2, 2, 3, a, bt, c); err != nil || !slices.Equal(c, want) {
				t.Errorf("simd=%v: MatMulTransB = %v, %v", simd, c, err)
			}
			neg1 := ^uint64(0)
			if err := MatMul(1, 1, 2, []uint64{neg1, 2}, []uint64{3, neg1}, c[:1]); err != nil || c[0] != neg(5) {
				t.Errorf("simd=%v: (-1)(3) + 2(-1) = %#x", simd, c[0])
			}
		})
	}
}

func TestMatMulErrors(t *testing.T) {
	if err := MatMul(2, 2, 2, make([]uint64, 3), make([]uint64, 4), make([]uint64, 4)); err == nil {
		t.Error("short A: no error")
	}
	if err := MatMul(2, 2, 2, make([]uint64, 4), make([]uint64, 4), make([]uint64, 3)); err == nil {
		t.Error("short C: no error")
	}
	if err := MatMul(-1, 2, 2, nil, nil, nil); err == nil {
		t.Error("negative m: no error")
	}
	if err := MatMul(math.MaxInt/2, math.MaxInt/2, 1, nil, nil, nil); err == nil {
		t.Error("overflowing size: no error")
	}
	if _, err := MatMulTensor(New(2, 3), New(2, 3)); err == nil {
		t.Error("MatMulTensor [2,3]x[2,3]: no error")
	}
	c, err := MatMulTensor(New(2, 3), New(3, 4))
	if err != nil || !slices.Equal(c.Shape, []int{2, 4}) {
		t.Errorf("MatMulTensor: %v %v", c, err)
	}
}

func benchMatMul(b *testing.B, m, n, k int) {
	p := NewPRG(seedOf(1))
	a, bb, c := p.Rand(m*k).Data, p.Rand(k*n).Data, make([]uint64, m*n)
	c0 := cputime.Seconds()
	for b.Loop() {
		if err := MatMul(m, n, k, a, bb, c); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, float64(m)*float64(n)*float64(k), c0)
}

func BenchmarkMatMul512(b *testing.B) {
	for _, simd := range kernels() {
		name := "scalar"
		if simd {
			name = "avx512"
		}
		b.Run(name, func(b *testing.B) { withKernel(simd, func() { benchMatMul(b, 512, 512, 512) }) })
	}
}

func BenchmarkMatMulShapes(b *testing.B) {
	for _, s := range [][3]int{{64, 64, 64}, {16, 1024, 27}, {10, 128, 64}, {128, 128, 4096}} {
		b.Run(fmt.Sprintf("%dx%dx%d/%s", s[0], s[1], s[2], Kernel()), func(b *testing.B) { benchMatMul(b, s[0], s[1], s[2]) })
	}
}

// FuzzGemm checks random small shapes and transpositions against the
// reference on every kernel and worker count.
func FuzzGemm(f *testing.F) {
	f.Add(uint8(5), uint8(17), uint8(3), uint8(0), uint8(1))
	f.Add(uint8(40), uint8(33), uint8(70), uint8(7), uint8(2))
	f.Fuzz(func(t *testing.T, m8, n8, k8, flags, seed uint8) {
		m, n, k := int(m8%50), int(n8%50), int(k8)
		tA, tB, acc := flags&1 != 0, flags&2 != 0, flags&4 != 0
		workers := int(flags>>3)%3 + 1
		p := NewPRG(seedOf(seed))
		a, b, c0 := p.Rand(m*k).Data, p.Rand(k*n).Data, p.Rand(m*n).Data
		want := slices.Clone(c0)
		matMulScalar(tA, tB, acc, m, n, k, a, b, want)
		for _, simd := range kernels() {
			got := slices.Clone(c0)
			withKernel(simd, func() {
				gemm(gemmArgs{transA: tA, transB: tB, acc: acc, m: m, n: n, k: k, a: a, b: b, c: got}, workers)
			})
			if !slices.Equal(got, want) {
				t.Fatalf("simd=%v m=%d n=%d k=%d tA=%v tB=%v acc=%v workers=%d: differs", simd, m, n, k, tA, tB, acc, workers)
			}
		}
	})
}

func TestKernelName(t *testing.T) {
	withKernel(false, func() {
		if k := Kernel(); k != "scalar" {
			t.Errorf("SIMD off: Kernel() = %q", k)
		}
	})
	withKernel(true, func() {
		want := "scalar"
		if simdAvailable {
			want = "avx512"
		}
		if k := Kernel(); k != want {
			t.Errorf("SIMD on: Kernel() = %q, want %q", k, want)
		}
	})
}
