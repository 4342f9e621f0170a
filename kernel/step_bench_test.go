package kernel

import (
	"fmt"
	"math/rand"
	"sync"
	"testing"

	"github.com/autorep/autorep/internal/benchutil"
)

// parallel runs f over [0,n) split in runtime.NumCPU-sized chunks.
func parallel(n int, f func(lo, hi int)) {
	const parts = 2
	var wg sync.WaitGroup
	for i := 0; i < parts; i++ {
		lo, hi := n*i/parts, n*(i+1)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

func reluFwd(x, y []float32) {
	parallel(len(x), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y[i] = max(x[i], 0)
		}
	})
}

func reluBwd(x, dy, dx []float32) {
	parallel(len(x), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if x[i] > 0 {
				dx[i] = dy[i]
			} else {
				dx[i] = 0
			}
		}
	})
}

func addTo(a, b []float32) {
	parallel(len(a), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			a[i] += b[i]
		}
	})
}

// convBN is conv → batch norm with the buffers of one training step.
type convBN struct {
	c                   *Conv
	bn                  *BatchNorm
	w, dw, g, b, dg, db []float32
	m, v                []float32
	x, y, z             []float32 // input (not owned), conv output, bn output
	dy, dz              []float32
}

func newConvBN(rng *rand.Rand, p ConvParams, l Layout) *convBN {
	p = p.Norm()
	k := p.K
	hw := p.OutH() * p.OutW()
	return &convBN{
		c: NewConvOpts(p, ConvOpts{Layout: l}), bn: NewBatchNorm(p.N, k, hw, 1e-5, l),
		w: randSlice(rng, p.WLen()), dw: make([]float32, p.WLen()),
		g: randSlice(rng, k), b: randSlice(rng, k), dg: make([]float32, k), db: make([]float32, k),
		m: make([]float32, k), v: make([]float32, k),
		y: make([]float32, p.YLen()), z: make([]float32, p.YLen()),
		dy: make([]float32, p.YLen()), dz: make([]float32, p.YLen()),
	}
}

func (u *convBN) forward(x []float32) []float32 {
	u.x = x
	u.c.Forward(x, u.w, nil, u.y)
	u.bn.TrainForward(u.y, u.g, u.b, u.z, u.m, u.v)
	return u.z
}

// backward takes dz (∂L/∂z) and writes ∂L/∂x into dx if dx is not nil.
func (u *convBN) backward(dz, dx []float32) {
	u.bn.Backward(u.y, dz, u.g, u.m, u.v, u.dy, u.dg, u.db)
	u.c.Backward(u.x, u.dy, u.w, dx, u.dw, nil)
}

// block is a ResNet basic block with an optional 1×1 projection shortcut.
type block struct {
	a, b, proj   *convBN
	h, out       []float32 // relu(a), relu(b + shortcut)
	sum          []float32
	dh, dsum, dx []float32
	dxp          []float32
	x            []float32
}

func newBlock(rng *rand.Rand, n, cin, cout, hw, stride int, l Layout) *block {
	p1 := ConvParams{N: n, C: cin, H: hw, W: hw, K: cout, R: 3, S: 3, StrideH: stride, StrideW: stride, PadH: 1, PadW: 1}
	oh := p1.OutH()
	p2 := ConvParams{N: n, C: cout, H: oh, W: oh, K: cout, R: 3, S: 3, PadH: 1, PadW: 1}
	bl := &block{a: newConvBN(rng, p1, l), b: newConvBN(rng, p2, l)}
	if stride != 1 || cin != cout {
		bl.proj = newConvBN(rng, ConvParams{N: n, C: cin, H: hw, W: hw, K: cout, R: 1, S: 1, StrideH: stride, StrideW: stride}, l)
		bl.dxp = make([]float32, n*cin*hw*hw)
	}
	ny := n * cout * oh * oh
	bl.h, bl.out, bl.sum = make([]float32, ny), make([]float32, ny), make([]float32, ny)
	bl.dh, bl.dsum, bl.dx = make([]float32, ny), make([]float32, ny), make([]float32, n*cin*hw*hw)
	return bl
}

func (bl *block) forward(x []float32) []float32 {
	bl.x = x
	reluFwd(bl.a.forward(x), bl.h)
	copy(bl.sum, bl.b.forward(bl.h))
	if bl.proj != nil {
		addTo(bl.sum, bl.proj.forward(x))
	} else {
		addTo(bl.sum, x)
	}
	reluFwd(bl.sum, bl.out)
	return bl.out
}

func (bl *block) backward(dout []float32) []float32 {
	reluBwd(bl.sum, dout, bl.dsum)
	bl.b.backward(bl.dsum, bl.dh)
	reluBwd(bl.a.z, bl.dh, bl.dh)
	bl.a.backward(bl.dh, bl.dx)
	if bl.proj != nil {
		bl.proj.backward(bl.dsum, bl.dxp)
		addTo(bl.dx, bl.dxp)
	} else {
		addTo(bl.dx, bl.dsum)
	}
	return bl.dx
}

// resnet20Blocks calls f for each of ResNet-20's nine basic blocks on
// 32×32 images, in order: input and output channels, input size, stride.
func resnet20Blocks(f func(cin, cout, hw, stride int)) {
	cin, hw := 16, 32
	for _, cout := range []int{16, 32, 64} {
		for i := range 3 {
			stride := 1
			if i == 0 && cout != 16 {
				stride = 2
			}
			f(cin, cout, hw, stride)
			cin, hw = cout, hw/stride
		}
	}
}

// benchLayouts runs f as a sub-benchmark "layout/threadsT" for each layout
// (NCHW, Blocked) and kernel thread count T (1, 2), restoring the thread
// count afterwards.
func benchLayouts(b *testing.B, f func(b *testing.B, l Layout)) {
	old := Threads()
	defer SetThreads(old)
	for _, th := range []int{1, 2} {
		for _, l := range []Layout{NCHW, Blocked} {
			b.Run(fmt.Sprintf("%v/threads%d", l, th), func(b *testing.B) {
				SetThreads(th)
				f(b, l)
			})
		}
	}
}

// BenchmarkResNet20Step times the kernel work of one ResNet-20 training
// step at batch 128 (all convolutions, batch norms, ReLUs and residual adds
// forward and backward, global pooling; no optimiser, no final linear
// layer) with activations kept in the layout under test, and reports
// images/s. It bounds what package nn can reach with these kernels.
func BenchmarkResNet20Step(b *testing.B) {
	benchLayouts(b, func(b *testing.B, l Layout) {
		const n = 128
		rng := rand.New(rand.NewSource(1))
		stem := newConvBN(rng, ConvParams{N: n, C: 3, H: 32, W: 32, K: 16, R: 3, S: 3, PadH: 1, PadW: 1}, l)
		stemOut, dstem := make([]float32, n*16*1024), make([]float32, n*16*1024)
		var blocks []*block
		resnet20Blocks(func(cin, cout, hw, stride int) {
			blocks = append(blocks, newBlock(rng, n, cin, cout, hw, stride, l))
		})
		gap := NewGlobalAvgPool(n, 64, 64, l)
		pooled, dpooled := make([]float32, n*64), randSlice(rng, n*64)
		dlast := make([]float32, n*64*64)
		x := randSlice(rng, n*3*1024)
		step := func() {
			reluFwd(stem.forward(x), stemOut)
			h := stemOut
			for _, bl := range blocks {
				h = bl.forward(h)
			}
			gap.Forward(h, pooled)
			gap.Backward(dpooled, dlast)
			d := dlast
			for i := len(blocks) - 1; i >= 0; i-- {
				d = blocks[i].backward(d)
			}
			reluBwd(stem.z, d, dstem)
			stem.backward(dstem, nil)
		}
		benchutil.Images(b, n, step)
	})
}

// BenchmarkResNet20Infer times a ResNet-20 inference forward pass at batch
// 128 with batch norm folded into the convolutions and the residual
// addition and ReLU fused into them (ConvOpts Sum and ReLU), activations
// kept in the layout under test, and reports images/s.
func BenchmarkResNet20Infer(b *testing.B) {
	benchLayouts(b, func(b *testing.B, l Layout) {
		const n = 128
		rng := rand.New(rand.NewSource(1))
		type conv struct {
			c    *Conv
			w, b []float32
		}
		mk := func(p ConvParams, o ConvOpts) conv {
			o.Layout = l
			return conv{NewConvOpts(p, o), randSlice(rng, p.Norm().WLen()), randSlice(rng, p.K)}
		}
		type blk struct {
			a, b, proj conv
			h, out     []float32
		}
		stem := mk(ConvParams{N: n, C: 3, H: 32, W: 32, K: 16, R: 3, S: 3, PadH: 1, PadW: 1}, ConvOpts{ReLU: true})
		stemOut := make([]float32, n*16*1024)
		var blocks []blk
		resnet20Blocks(func(cin, cout, hw, s int) {
			oh := hw / s
			bl := blk{
				a: mk(ConvParams{N: n, C: cin, H: hw, W: hw, K: cout, R: 3, S: 3, StrideH: s, StrideW: s, PadH: 1, PadW: 1}, ConvOpts{ReLU: true}),
				b: mk(ConvParams{N: n, C: cout, H: oh, W: oh, K: cout, R: 3, S: 3, PadH: 1, PadW: 1}, ConvOpts{Sum: true, ReLU: true}),
				h: make([]float32, n*cout*oh*oh), out: make([]float32, n*cout*oh*oh),
			}
			if s != 1 || cin != cout {
				bl.proj = mk(ConvParams{N: n, C: cin, H: hw, W: hw, K: cout, R: 1, S: 1, StrideH: s, StrideW: s}, ConvOpts{})
			}
			blocks = append(blocks, bl)
		})
		gap := NewGlobalAvgPool(n, 64, 64, l)
		pooled := make([]float32, n*64)
		x := randSlice(rng, n*3*1024)
		fwd := func() {
			stem.c.Forward(x, stem.w, stem.b, stemOut)
			h := stemOut
			for _, bl := range blocks {
				bl.a.c.Forward(h, bl.a.w, bl.a.b, bl.h)
				if bl.proj.c != nil {
					bl.proj.c.Forward(h, bl.proj.w, bl.proj.b, bl.out)
				} else {
					copy(bl.out, h)
				}
				bl.b.c.Forward(bl.h, bl.b.w, bl.b.b, bl.out)
				h = bl.out
			}
			gap.Forward(h, pooled)
		}
		benchutil.Images(b, n, fwd)
	})
}
