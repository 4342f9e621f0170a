package convdt

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/autorep/autorep/internal/cputime"
	"github.com/autorep/autorep/kernel"
)

// TestRun runs every pass of a small convolution in both precisions and
// checks the refusals: an invalid shape, a reorder pass of an f32 Conv.
func TestRun(t *testing.T) {
	s := Shape{N: 2, C: 16, H: 8, W: 8, K: 16, R: 3, Stride: 1, Pad: 1}
	for _, bf16 := range []bool{false, true} {
		c, err := New(s, bf16)
		if err != nil {
			t.Fatal(err)
		}
		last := BackwardWeights
		if bf16 {
			last = ReorderDY
		}
		for p := Forward; p <= last; p++ {
			if cpu, wall, err := c.Run(p, 1); err != nil || cpu < 0 || wall <= 0 {
				t.Fatalf("bf16=%v pass %d: cpu %g wall %g err %v", bf16, p, cpu, wall, err)
			}
		}
		if !bf16 {
			if _, _, err := c.Run(ReorderX, 1); err == nil {
				t.Error("f32 Conv ran the bf16 reorder")
			}
		}
		t.Logf("bf16=%v: %q %q %q", bf16, c.Impl(Forward), c.Impl(BackwardData), c.Impl(BackwardWeights))
		c.Close()
	}
	if _, err := New(Shape{N: 1, C: 1, H: 2, W: 2, K: 1, R: 5, Stride: 1}, false); err == nil {
		t.Error("a 5×5 kernel on a 2×2 image without padding was accepted")
	}
}

// The 3×3 stride-1 convolutions of ResNet-20 and ResNet-18 (resnet18_in),
// batch 128: they are almost all of a training step's convolution time.
var shapes = []struct {
	name string
	s    Shape
}{
	{"r20_16x32x32", Shape{N: 128, C: 16, H: 32, W: 32, K: 16, R: 3, Stride: 1, Pad: 1}},
	{"r20_32x16x16", Shape{N: 128, C: 32, H: 16, W: 16, K: 32, R: 3, Stride: 1, Pad: 1}},
	{"r20_64x8x8", Shape{N: 128, C: 64, H: 8, W: 8, K: 64, R: 3, Stride: 1, Pad: 1}},
	{"r18_64x32x32", Shape{N: 128, C: 64, H: 32, W: 32, K: 64, R: 3, Stride: 1, Pad: 1}},
	{"r18_128x16x16", Shape{N: 128, C: 128, H: 16, W: 16, K: 128, R: 3, Stride: 1, Pad: 1}},
	{"r18_256x8x8", Shape{N: 128, C: 256, H: 8, W: 8, K: 256, R: 3, Stride: 1, Pad: 1}},
	{"r18_512x4x4", Shape{N: 128, C: 512, H: 4, W: 4, K: 512, R: 3, Stride: 1, Pad: 1}},
}

// BenchmarkConvDType runs, per shape and thread count, the three passes of
// package kernel's f32 convolution (Blocked layout, AlgoAuto: what training
// runs, Winograd where kernel picks it) and of oneDNN's bf16 direct
// convolution, interleaved (one of each per iteration, so load changes hit
// both alike), and reports milliseconds of process CPU time per iteration
// and the ratios:
//
//	f32_ms, bf16_ms       CPU ms of fwd + bwd-data + bwd-weights
//	bf16_conv_ms          bf16_ms plus the f32 → bf16 reorders of x and dy
//	                      that a bf16 step adds (weights are too small to
//	                      matter)
//	speedup, speedup_conv f32_ms / bf16_ms, f32_ms / bf16_conv_ms
//	speedup_wall          speedup on wall time
//	{fwd,bwd_data,bwd_weights}_speedup  per pass
//
// Run it as
//
//	go test ./kernel/internal/convdt -run '^$' -bench ConvDType -benchtime 5x
func BenchmarkConvDType(b *testing.B) {
	for _, th := range []int{1, 2} {
		for _, sh := range shapes {
			b.Run(fmt.Sprintf("t%d/%s", th, sh.name), func(b *testing.B) { benchDType(b, sh.s, th) })
		}
	}
}

func benchDType(b *testing.B, s Shape, threads int) {
	kernel.SetThreads(threads)
	defer kernel.SetThreads(0)
	p := kernel.ConvParams{N: s.N, C: s.C, H: s.H, W: s.W, K: s.K, R: s.R, S: s.R,
		StrideH: s.Stride, StrideW: s.Stride, PadH: s.Pad, PadW: s.Pad}
	f32 := kernel.NewConvOpts(p, kernel.ConvOpts{Layout: kernel.Blocked})
	rng := rand.New(rand.NewPCG(1, 2))
	rnd := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}
	x, w, bias, dy := rnd(p.XLen()), rnd(p.WLen()), rnd(p.K), rnd(p.YLen())
	y, dx, dw, db := make([]float32, p.YLen()), make([]float32, p.XLen()), make([]float32, p.WLen()), make([]float32, p.K)
	f32Pass := [3]func(){
		func() { f32.Forward(x, w, bias, y) },
		func() { f32.BackwardData(dy, w, dx) },
		func() { f32.BackwardWeights(x, dy, dw, db) },
	}
	bf, err := New(s, true)
	if err != nil {
		b.Fatal(err)
	}
	defer bf.Close()
	timed := func(f func()) (cpu, wall float64) {
		c0, w0 := cputime.Used(), time.Now()
		f()
		return (cputime.Used() - c0).Seconds(), time.Since(w0).Seconds()
	}
	bfPass := func(ps Pass) func() {
		return func() {
			if _, _, err := bf.Run(ps, threads); err != nil {
				b.Fatal(err)
			}
		}
	}
	// warm-up: primitives created, memory touched
	for ps := Forward; ps <= ReorderDY; ps++ {
		if ps <= BackwardWeights {
			f32Pass[ps]()
		}
		bfPass(ps)()
	}
	b.Logf("f32 %q, bf16 %q", f32.Impl(), [3]string{bf.Impl(Forward), bf.Impl(BackwardData), bf.Impl(BackwardWeights)})
	var f32cpu, bfcpu, f32wall, bfwall [3]float64
	var reoCPU float64
	b.ResetTimer()
	for range b.N {
		for ps := Forward; ps <= BackwardWeights; ps++ {
			c, wl := timed(f32Pass[ps])
			f32cpu[ps] += c
			f32wall[ps] += wl
			c, wl = timed(bfPass(ps))
			bfcpu[ps] += c
			bfwall[ps] += wl
		}
		for _, ps := range []Pass{ReorderX, ReorderDY} {
			c, _ := timed(bfPass(ps))
			reoCPU += c
		}
	}
	n := float64(b.N)
	sum := func(a [3]float64) float64 { return a[0] + a[1] + a[2] }
	b.ReportMetric(sum(f32cpu)/n*1e3, "f32_ms")
	b.ReportMetric(sum(bfcpu)/n*1e3, "bf16_ms")
	b.ReportMetric((sum(bfcpu)+reoCPU)/n*1e3, "bf16_conv_ms")
	b.ReportMetric(sum(f32cpu)/sum(bfcpu), "speedup")
	b.ReportMetric(sum(f32cpu)/(sum(bfcpu)+reoCPU), "speedup_conv")
	b.ReportMetric(sum(f32wall)/sum(bfwall), "speedup_wall")
	for ps, name := range []string{"fwd", "bwd_data", "bwd_weights"} {
		b.ReportMetric(f32cpu[ps]/bfcpu[ps], name+"_speedup")
	}
}
