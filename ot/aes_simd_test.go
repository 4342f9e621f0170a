//go:build goexperiment.simd && amd64

package ot

import (
	"math/rand/v2"
	"simd/archsimd"
	"testing"
)

// TestPermPaths checks each batched permutation the CPU supports (VAES,
// AES-NI) against crypto/aes, whichever one permBatch picked, in place
// and out of place.
func TestPermPaths(t *testing.T) {
	paths := map[string]func(dst, src []Block){}
	if archsimd.X86.AVXAES() {
		paths["aes-ni"] = permSIMD
	}
	if archsimd.X86.AVX512VAES() {
		paths["vaes"] = permVAES
	}
	if len(paths) == 0 {
		t.Skip("no AES instructions on this CPU")
	}
	rng := rand.New(rand.NewPCG(37, 38))
	for name, f := range paths {
		for _, n := range []int{0, 1, 4, 31, 32, 33, 64, 77, 200} {
			x := make([]Block, n)
			for i := range x {
				x[i] = Block{rng.Uint64(), rng.Uint64()}
			}
			got := make([]Block, n)
			f(got, x)
			in := append([]Block(nil), x...)
			f(in, in)
			for i := range x {
				want := perm(x[i])
				if got[i] != want || in[i] != want {
					t.Fatalf("%s n=%d block %d: %x (in place %x), crypto/aes %x", name, n, i, got[i], in[i], want)
				}
			}
		}
	}
}

// BenchmarkPerm: the fixed-key permutation per path, 4,096 blocks a call.
func BenchmarkPerm(b *testing.B) {
	x := make([]Block, 4096)
	for i := range x {
		x[i] = Block{uint64(i), 1}
	}
	for _, p := range []struct {
		name string
		ok   bool
		f    func(dst, src []Block)
	}{{"aes-ni", archsimd.X86.AVXAES(), permSIMD}, {"vaes", archsimd.X86.AVX512VAES(), permVAES}} {
		b.Run(p.name, func(b *testing.B) {
			if !p.ok {
				b.Skip("not on this CPU")
			}
			for b.Loop() {
				p.f(x, x)
			}
			b.ReportMetric(float64(len(x)*b.N)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}
