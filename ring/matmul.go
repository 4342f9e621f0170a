package ring

import (
	"fmt"
	"os"
	"runtime"
	"sync"
)

// Blocking of the uint64 GEMM (GotoBLAS style): C is computed in mr×nr
// micro-tiles from packed panels of A (mr rows × kc depth) and B (kc depth ×
// nr columns). The packed B panel (kc·nr·8 = 32 KiB) stays in L1 while the
// micro-kernel walks the packed A block (mc·kc·8 = 120 KiB, L2). mc is a
// multiple of mr. The 3×16 tile is the largest that fits the 16 vector
// registers Go's register allocator uses (see kernel_simd.go).
const (
	mr = 3
	nr = 16
	kc = 256
	mc = 60
)

// parallelMin is the number of multiply-adds below which a product runs on
// one goroutine (the start-up cost of workers would dominate).
const parallelMin = 1 << 18

// microKernel computes the mr×nr tile Σ_p pa[p·mr+r]·pb[p·nr+j] over p < kb
// and stores it to c[r·ldc+j] (add: adds it to c).
type microKernel func(kb int, pa, pb, c []uint64, ldc int, add bool)

// kernelName names the micro-kernel in use; see Kernel.
var kernelName = "scalar"

// useSIMD selects the SIMD micro-kernel when it is available (tests switch
// it off to compare the paths). AUTOREP_RING_KERNEL=scalar in the
// environment switches it off for the whole process.
var useSIMD = simdAvailable && os.Getenv("AUTOREP_RING_KERNEL") != "scalar"

// Kernel reports which uint64 GEMM micro-kernel MatMul and Conv2d use:
// "avx512" (GOEXPERIMENT=simd build on an AVX-512 CPU, unless the
// environment sets AUTOREP_RING_KERNEL=scalar) or "scalar".
func Kernel() string {
	if useSIMD {
		return kernelName
	}
	return "scalar"
}

func currentKernel() microKernel {
	if useSIMD {
		return simdKernel
	}
	return scalarKernel
}

// Workers returns the number of goroutines the kernels use: GOMAXPROCS.
func Workers() int { return runtime.GOMAXPROCS(0) }

// MatMul sets C = A·B (mod 2^64) for row-major A (m×k), B (k×n) and C
// (m×n), using all cores.
func MatMul(m, n, k int, a, b, c []uint64) error {
	return Gemm(false, false, false, m, n, k, a, b, c)
}

// MatMulAdd sets C = C + A·B (mod 2^64); shapes as in MatMul.
func MatMulAdd(m, n, k int, a, b, c []uint64) error {
	return Gemm(false, false, true, m, n, k, a, b, c)
}

// MatMulTransB sets C = A·Bᵀ for A (m×k) and B stored as n×k (the layout of
// a linear layer's weight [out, in]).
func MatMulTransB(m, n, k int, a, b, c []uint64) error {
	return Gemm(false, true, false, m, n, k, a, b, c)
}

// Gemm sets C = op(A)·op(B) (acc: C = C + op(A)·op(B)) mod 2^64, where op(A)
// is m×k and op(B) is k×n. A is stored row-major as m×k, or as k×m when
// transA (op(A) = Aᵀ); B as k×n, or as n×k when transB. C is m×n row-major
// and must not overlap A or B. The slices must hold at least the elements
// the shapes need.
func Gemm(transA, transB, acc bool, m, n, k int, a, b, c []uint64) error {
	if err := checkGemm(m, n, k, a, b, c); err != nil {
		return err
	}
	gemm(gemmArgs{transA: transA, transB: transB, acc: acc, m: m, n: n, k: k, a: a, b: b, c: c}, Workers())
	return nil
}

func checkGemm(m, n, k int, a, b, c []uint64) error {
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("ring: matmul: negative size m=%d n=%d k=%d", m, n, k)
	}
	if checkShape([]int{m, n}) != nil || checkShape([]int{m, k}) != nil || checkShape([]int{k, n}) != nil {
		return fmt.Errorf("ring: matmul: size m=%d n=%d k=%d too large", m, n, k)
	}
	if len(a) < m*k || len(b) < k*n || len(c) < m*n {
		return fmt.Errorf("ring: matmul m=%d n=%d k=%d: have %d, %d, %d elements, need %d, %d, %d",
			m, n, k, len(a), len(b), len(c), m*k, k*n, m*n)
	}
	return nil
}

type gemmArgs struct {
	transA, transB, acc bool
	m, n, k             int
	a, b, c             []uint64
}

func roundUp(a, b int) int { return (a + b - 1) / b * b }

// atA returns op(A)[i,p].
func (g *gemmArgs) atA(i, p int) uint64 {
	if g.transA {
		return g.a[p*g.m+i]
	}
	return g.a[i*g.k+p]
}

// gemm runs the blocked product on up to workers goroutines, splitting C
// into row or column bands along the dimension with more micro-tiles.
func gemm(g gemmArgs, workers int) {
	if g.m == 0 || g.n == 0 {
		return
	}
	if g.k == 0 {
		if !g.acc {
			for i := range g.m {
				clear(g.c[i*g.n : (i+1)*g.n])
			}
		}
		return
	}
	rowTiles := (g.m + mr - 1) / mr
	colTiles := (g.n + nr - 1) / nr
	if float64(g.m)*float64(g.n)*float64(g.k) < parallelMin {
		workers = 1
	}
	splitTiles(rowTiles, colTiles, workers, func(c0, c1, r0, r1 int) {
		gemmBlock(&g, r0*mr, min(r1*mr, g.m), c0*nr, min(c1*nr, g.n))
	})
}

// splitTiles runs work(c0, c1, r0, r1) over the micro-tiles [r0, r1) ×
// [c0, c1) of a rowTiles×colTiles grid, on up to workers goroutines that
// split the dimension with more tiles into contiguous bands (balance
// matters: 5 column tiles on 2 cores would leave one idle 1/5 of the
// time). With one worker it runs work on the calling goroutine.
func splitTiles(rowTiles, colTiles, workers int, work func(c0, c1, r0, r1 int)) {
	byCols := colTiles >= rowTiles
	tiles := rowTiles
	if byCols {
		tiles = colTiles
	}
	workers = min(workers, tiles)
	if workers <= 1 {
		work(0, colTiles, 0, rowTiles)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		t0, t1 := tiles*w/workers, tiles*(w+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			if byCols {
				work(t0, t1, 0, rowTiles)
			} else {
				work(0, colTiles, t0, t1)
			}
		}()
	}
	wg.Wait()
}

// panelOffs[p] = p·nr: the offsets of a packed B panel's rows, so the
// direct-convolution kernels can serve as GEMM kernels (scalarKernel, and
// the one-row kernel for short row tiles).
var panelOffs = func() (o [kc]int) {
	for p := range o {
		o[p] = p * nr
	}
	return o
}()

// packBufs are reusable packing buffers (one set per goroutine at a time).
type packBufs struct{ a, b []uint64 }

var packPool sync.Pool

func getPackBufs(na, nb int) *packBufs {
	pb, _ := packPool.Get().(*packBufs)
	if pb == nil {
		pb = &packBufs{}
	}
	if cap(pb.a) < na {
		pb.a = make([]uint64, na)
	}
	if cap(pb.b) < nb {
		pb.b = make([]uint64, nb)
	}
	pb.a, pb.b = pb.a[:na], pb.b[:nb]
	return pb
}

// gemmBlock computes C[i0:i1, j0:j1] on the calling goroutine. Each B panel
// is packed just before its first use (while computing the first row
// block), so it is still in L1 for the micro-kernel, and reused by the
// later row blocks.
func gemmBlock(g *gemmArgs, i0, i1, j0, j1 int) {
	kern := currentKernel()
	_, kern1 := currentConvKernels()
	ncols := j1 - j0
	panels := (ncols + nr - 1) / nr
	kbMax := min(kc, g.k)
	bufs := getPackBufs(mc*kbMax, panels*kbMax*nr)
	defer packPool.Put(bufs)
	pa, pb := bufs.a, bufs.b
	var tile [mr * nr]uint64
	for pc := 0; pc < g.k; pc += kc {
		kb := min(kc, g.k-pc)
		add := g.acc || pc > 0
		for ic := i0; ic < i1; ic += mc {
			mb := min(mc, i1-ic)
			packA(g, pa, ic, mb, pc, kb)
			for jp := range panels {
				j := j0 + jp*nr
				cols := min(nr, j1-j)
				bp := pb[jp*kb*nr : (jp+1)*kb*nr]
				if ic == i0 {
					packB(g, bp, pc, kb, j, j+cols)
				}
				for ir := 0; ir < mb; ir += mr {
					rows := min(mr, mb-ir)
					ap := pa[ir*kb : (ir+mr)*kb]
					i := ic + ir
					if rows == mr && cols == nr {
						kern(kb, ap, bp, g.c[i*g.n+j:], g.n, add)
						continue
					}
					if rows < mr {
						// Short last row tile: one-row kernel per row (the
						// packed B panel read at offsets p·nr), no
						// multiplies spent on padding rows.
						for r := range rows {
							if cols == nr {
								kern1(ap[r:], bp, panelOffs[:kb], g.c[(i+r)*g.n+j:], add)
								continue
							}
							kern1(ap[r:], bp, panelOffs[:kb], tile[:nr], false)
							crow := g.c[(i+r)*g.n+j : (i+r)*g.n+j+cols]
							if add {
								AddVec(crow, crow, tile[:cols])
							} else {
								copy(crow, tile[:cols])
							}
						}
						continue
					}
					kern(kb, ap, bp, tile[:], nr, false)
					for r := range rows {
						crow := g.c[(i+r)*g.n+j : (i+r)*g.n+j+cols]
						trow := tile[r*nr : r*nr+cols]
						if add {
							AddVec(crow, crow, trow)
						} else {
							copy(crow, trow)
						}
					}
				}
			}
		}
	}
}

// packA copies op(A)[ic:ic+mb, pc:pc+kb] into dst as row panels of mr rows:
// dst[panel·kb·mr + p·mr + r], zero-padding the last panel.
func packA(g *gemmArgs, dst []uint64, ic, mb, pc, kb int) {
	for ir := 0; ir < mb; ir += mr {
		d := dst[ir*kb : (ir+mr)*kb]
		rows := min(mr, mb-ir)
		if !g.transA && rows == mr {
			a0 := g.a[(ic+ir)*g.k+pc:][:kb]
			a1 := g.a[(ic+ir+1)*g.k+pc:][:kb]
			a2 := g.a[(ic+ir+2)*g.k+pc:][:kb]
			for p := range kb {
				d[p*mr], d[p*mr+1], d[p*mr+2] = a0[p], a1[p], a2[p]
			}
			continue
		}
		for p := range kb {
			for r := range mr {
				if r < rows {
					d[p*mr+r] = g.atA(ic+ir+r, pc+p)
				} else {
					d[p*mr+r] = 0
				}
			}
		}
	}
}

// packB copies op(B)[pc:pc+kb, j0:j1] into dst as column panels of nr
// columns: dst[panel·kb·nr + p·nr + j], zero-padding the last panel.
func packB(g *gemmArgs, dst []uint64, pc, kb, j0, j1 int) {
	for j := j0; j < j1; j += nr {
		d := dst[(j-j0)/nr*kb*nr:][:kb*nr]
		cols := min(nr, j1-j)
		if !g.transB {
			for p := range kb {
				row := g.b[(pc+p)*g.n+j : (pc+p)*g.n+j+cols]
				dp := d[p*nr : p*nr+nr]
				copy(dp, row)
				clear(dp[cols:])
			}
			continue
		}
		for jj := range nr {
			if jj >= cols {
				for p := range kb {
					d[p*nr+jj] = 0
				}
				continue
			}
			col := g.b[(j+jj)*g.k+pc : (j+jj)*g.k+pc+kb]
			for p, v := range col {
				d[p*nr+jj] = v
			}
		}
	}
}

// scalarKernel is the portable micro-kernel (kb ≤ kc): the portable
// direct-convolution kernel (3×2 register blocks) reading the packed B
// panel at the offsets p·nr of its rows.
func scalarKernel(kb int, pa, pb, c []uint64, ldc int, add bool) {
	scalarConvKernel(pa, pb[:kb*nr], panelOffs[:kb], c, ldc, add)
}

// matMulScalar is the reference product C = op(A)·op(B) (+C if acc) by the
// textbook triple loop; the tests compare the fast kernels against it.
func matMulScalar(transA, transB, acc bool, m, n, k int, a, b, c []uint64) {
	g := gemmArgs{transA: transA, transB: transB, acc: acc, m: m, n: n, k: k, a: a, b: b, c: c}
	for i := range m {
		crow := c[i*n : (i+1)*n]
		if !acc {
			clear(crow)
		}
		for p := range k {
			av := g.atA(i, p)
			if transB {
				for j := range n {
					crow[j] += av * b[j*k+p]
				}
			} else {
				brow := b[p*n : (p+1)*n]
				for j, bv := range brow {
					crow[j] += av * bv
				}
			}
		}
	}
}

// MatMulTensor returns a·b for 2-D tensors a [m,k] and b [k,n].
func MatMulTensor(a, b *Tensor) (*Tensor, error) {
	if len(a.Shape) != 2 || len(b.Shape) != 2 || a.Shape[1] != b.Shape[0] {
		return nil, fmt.Errorf("ring: matmul of shapes %v and %v", a.Shape, b.Shape)
	}
	c := New(a.Shape[0], b.Shape[1])
	if err := MatMul(a.Shape[0], b.Shape[1], a.Shape[1], a.Data, b.Data, c.Data); err != nil {
		return nil, err
	}
	return c, nil
}
