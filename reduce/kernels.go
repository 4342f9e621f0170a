package reduce

import (
	"math"
	"runtime"
	"sync"

	"github.com/autorep/autorep/kernel"
	"github.com/autorep/autorep/tensor"
)

// Element-wise kernels of the trainable activations.
//
// A site's per-element tables (mask, polynomial coefficients, SNL's α) are
// laid out once per call in the storage order of the input, given by an
// order table (order[j] is the C·H·W position of stored element j; nil
// means the plain C,H,W order). The kernels then run over every image as
// flat loops over equal-length slices, whatever the layout, split over
// the CPUs by images; the batch-reduced gradients are summed per element
// and worker and folded back to C·H·W (mask, α) or per channel
// (coefficients) at the end.

// one is the bit pattern of float32(1).
const one = 0x3f800000

// posBits returns all ones when v > 0 and zero otherwise (also for NaN).
func posBits(v float32) uint32 {
	if v > 0 {
		return ^uint32(0)
	}
	return 0
}

// sel returns a where k is all ones and b where k is zero.
func sel(k uint32, a, b float32) float32 {
	return math.Float32frombits(math.Float32bits(a)&k | math.Float32bits(b)&^k)
}

// parallelImages runs f over image ranges [lo, hi) of n images on up to
// GOMAXPROCS goroutines (one chunk each), serially when the work is small.
// f receives its chunk index; it returns the number of chunks.
func parallelImages(n, perImage int, f func(chunk, lo, hi int)) int {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 || n*perImage < 1<<15 {
		f(0, 0, n)
		return 1
	}
	size := (n + workers - 1) / workers
	chunks := (n + size - 1) / size
	var wg sync.WaitGroup
	for k := 1; k < chunks; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			f(k, k*size, min((k+1)*size, n))
		}(k)
	}
	f(0, 0, min(size, n))
	wg.Wait()
	return chunks
}

// storageOrder returns the order table of a site of per-image shape
// shape stored in layout l: nil for NCHW (and for channel counts the
// blocked layout leaves in NCHW order), else the C·H·W position of every
// stored element of kernel.Blocked's nChw16c order (element (c, p) of an
// image at ((c/16)·S + p)·16 + c%16), cached in *cache.
func storageOrder(shape []int, l kernel.Layout, cache *[]int32) []int32 {
	if l != kernel.Blocked || len(shape) == 0 || shape[0]%16 != 0 {
		return nil
	}
	c := shape[0]
	s := tensor.Numel(shape) / c
	if len(*cache) == c*s {
		return *cache
	}
	order := make([]int32, c*s)
	for ch := 0; ch < c; ch++ {
		for p := 0; p < s; p++ {
			order[((ch/16)*s+p)*16+ch%16] = int32(ch*s + p)
		}
	}
	*cache = order
	return order
}

// channelAbsMax returns the per-channel maximum of |x| over n images of c
// channels × s positions stored in order (nil or storageOrder's nChw16c),
// NaN for a channel holding a NaN. The absolute values are compared as
// bits (sign cleared), which orders non-negative floats as their values and
// puts every NaN above +Inf; the loops follow the layout's channel runs
// (s positions of one channel, or 16 channels per position), so no element
// needs an order lookup or a division.
func channelAbsMax(xs []float32, n, c, s int, order []int32) []float32 {
	if order != nil && (c%16 != 0 || len(order) != c*s) {
		panic("reduce: channelAbsMax: order is not the nChw16c order of the site")
	}
	numel := c * s
	var mu sync.Mutex
	bits := make([]uint32, c)
	parallelImages(n, numel, func(_, lo, hi int) {
		loc := make([]uint32, c)
		for b := lo; b < hi; b++ {
			img := xs[b*numel : (b+1)*numel]
			if order == nil {
				for ch := range c {
					m := loc[ch]
					for _, v := range img[ch*s : (ch+1)*s] {
						m = max(m, math.Float32bits(v)&^(1<<31))
					}
					loc[ch] = m
				}
				continue
			}
			for cb := 0; cb < c; cb += 16 {
				absMax16((*[16]uint32)(loc[cb:cb+16]), img[cb*s:(cb+16)*s])
			}
		}
		mu.Lock()
		for ch, v := range loc {
			bits[ch] = max(bits[ch], v)
		}
		mu.Unlock()
	})
	out := make([]float32, c)
	for ch, v := range bits {
		out[ch] = math.Float32frombits(v)
	}
	return out
}

// absMax16Scalar folds the absolute-value bits of blk (groups of 16
// channels) into acc lane by lane: channelAbsMax's blocked kernel.
func absMax16Scalar(acc *[16]uint32, blk []float32) {
	for p := 0; p+16 <= len(blk); p += 16 {
		v := (*[16]float32)(blk[p : p+16])
		for k := range 16 {
			acc[k] = max(acc[k], math.Float32bits(v[k])&^(1<<31))
		}
	}
}

// outTensor returns the output tensor of an activation of x: over y (x's
// length; a buffer the graph pools, overwritten by the kernels) or, for a
// nil y, a new one.
func outTensor(x *tensor.Tensor, y []float32) *tensor.Tensor {
	if y == nil {
		return tensor.New(x.Shape...)
	}
	return tensor.FromData(y, x.Shape...)
}

// stored returns v (C·H·W order) permuted to storage order.
func stored(v []float32, order []int32) []float32 {
	if order == nil {
		return v
	}
	out := make([]float32, len(v))
	for j, i := range order {
		out[j] = v[i]
	}
	return out
}

// unstore adds src (storage order) into dst (C·H·W order).
func unstore(dst, src []float32, order []int32) {
	if order == nil {
		for i, v := range src {
			dst[i] += v
		}
		return
	}
	for j, i := range order {
		dst[i] += src[j]
	}
}

// polyTables are a masked activation's per-element tables in storage
// order. Binary masks with degree ≤ 2 (the fast path) use quad: four
// float32 per element, c0, c1, c2 (zero-padded) and the select pattern
// (all ones where the mask is 1) as float bits, grouped by 16 elements
// (see quadAt) so that a kernel reads one table, 16 lanes at a time.
// Other masks and degrees use mask and cf.
type polyTables struct {
	binary bool
	quad   []float32   // fast path: c0, c1, c2, select bits per element
	mask   []float32   // general path: mask values
	cf     [][]float32 // general path: cf[k][j], coefficient k of element j
	ch     []int32     // channel of stored element j
	d      int         // coefficients per channel (degree + 1)
	order  []int32     // storage order (nil = C·H·W)
	numel  int         // elements per image
	chans  int         // channels
}

// quadAt is the index in a quad table of slot k (0-2: c0-c2, 3: select
// bits) of element j: groups of 16 elements hold 16 c0, 16 c1, 16 c2 and
// 16 select patterns. The tables are padded to whole groups.
func quadAt(j, k int) int { return (j&^15)*4 + k*16 + j&15 }

// quadLen is the length of a quad table for n elements.
func quadLen(n int) int { return (n + 15) &^ 15 * 4 }

// newPolyTables lays out mask (C·H·W) and coef ([C, d]) for s spatial
// elements per channel in the given storage order.
func newPolyTables(mask, coef []float32, c, s int, order []int32) *polyTables {
	numel := c * s
	d := len(coef) / c
	t := &polyTables{d: d, order: order, numel: numel, chans: c, ch: make([]int32, numel)}
	t.binary = d <= 3
	for _, v := range mask {
		if v != 0 && v != 1 {
			t.binary = false
			break
		}
	}
	for j := range t.ch {
		i := j
		if order != nil {
			i = int(order[j])
		}
		t.ch[j] = int32(i / s)
	}
	if t.binary {
		t.quad = make([]float32, quadLen(numel))
		for j, ch := range t.ch {
			// p = c0 + v·(c1 + v·c2), missing terms 0.
			for k := 0; k < d; k++ {
				t.quad[quadAt(j, k)] = coef[int(ch)*d+k]
			}
			i := j
			if order != nil {
				i = int(order[j])
			}
			if mask[i] == 1 {
				t.quad[quadAt(j, 3)] = math.Float32frombits(^uint32(0))
			}
		}
		return t
	}
	t.cf = make([][]float32, d)
	for k := range t.cf {
		t.cf[k] = make([]float32, numel)
		for j, ch := range t.ch {
			t.cf[k][j] = coef[int(ch)*d+k]
		}
	}
	t.mask = stored(mask, order)
	return t
}

// tileSize is the number of element positions the kernels process for
// every image before moving on, so that a tile's tables and gradient sums
// stay in cache while the images stream through.
const tileSize = 1024

// overTiles runs f over the position tiles [t0, t1) of [0, numel) for n
// images, the tiles split over the CPUs in contiguous ranges. Every
// position is handled by one goroutine, which sums over the images in
// order, so the results do not depend on the number of CPUs.
func overTiles(numel, n int, f func(t0, t1 int)) {
	tiles := (numel + tileSize - 1) / tileSize
	parallelImages(tiles, n*tileSize, func(_, lo, hi int) {
		for k := lo; k < hi; k++ {
			f(k*tileSize, min((k+1)*tileSize, numel))
		}
	})
}

// general returns the general-path tables of positions [t0, t1).
func (t *polyTables) general(t0, t1 int) (mask []float32, cf [][]float32) {
	cf = make([][]float32, len(t.cf))
	for k := range cf {
		cf[k] = t.cf[k][t0:t1]
	}
	return t.mask[t0:t1], cf
}

// forward computes y = m ⊙ relu(x) + (1 − m) ⊙ p_c(x) for x and y in
// storage order (whole images).
func (t *polyTables) forward(x, y []float32) {
	numel := t.numel
	n := len(x) / numel
	overTiles(numel, n, func(t0, t1 int) {
		if t.binary {
			q := t.quad[4*t0:] // t0 is a multiple of 16
			for off := 0; off < n*numel; off += numel {
				polyForwardBinary(x[off+t0:off+t1], y[off+t0:off+t1], q)
			}
			return
		}
		mask, cf := t.general(t0, t1)
		for off := 0; off < n*numel; off += numel {
			polyForwardGeneral(x[off+t0:off+t1], y[off+t0:off+t1], mask, cf)
		}
	})
}

// polyForwardScalar is the forward pass over a run of elements with a
// binary mask and a polynomial of degree ≤ 2 (quad tables q, starting at
// a group boundary).
func polyForwardScalar(xs, ys, q []float32) {
	ys = ys[:len(xs)]
	q = q[:quadLen(len(xs))]
	for i, v := range xs {
		b := quadAt(i, 0)
		c := q[b : b+49 : b+49]
		r := math.Float32frombits(math.Float32bits(v) & posBits(v))
		p := (c[32]*v+c[16])*v + c[0]
		ys[i] = sel(math.Float32bits(c[48]), r, p)
	}
}

// polyForwardGeneral is the forward pass over a run of elements for
// real-valued masks or higher degrees.
func polyForwardGeneral(xs, ys, mask []float32, cf [][]float32) {
	co := make([]float32, len(cf))
	for i, v := range xs {
		mv := mask[i]
		var r float32
		if v > 0 {
			r = v
		}
		if mv == 1 {
			ys[i] = r
			continue
		}
		for k := range co {
			co[k] = cf[k][i]
		}
		p, _ := horner(co, v)
		ys[i] = mv*r + (1-mv)*p
	}
}

// backward returns the gradients with respect to x (storage order, into
// dx when not nil; dx may be g), the mask (C·H·W order, summed over the
// batch; when wantM) and the coefficients ([C, d]; when wantC).
func (t *polyTables) backward(x, g, dx []float32, wantM, wantC bool) (dm, dc []float32) {
	numel := t.numel
	n := len(x) / numel
	// Per stored element j, summed over the images (fast path, quad
	// layout): slot 0 Σ g·(relu(x) − p(x)) (mask), slot 1+k Σ g·(1−m)·x^k
	// (coefficients). The general path keeps pm and pc[k] apart.
	var acc, pm []float32
	var pc [][]float32
	if t.binary && (wantM || wantC) {
		acc = make([]float32, quadLen(numel))
	}
	if !t.binary && wantM {
		pm = make([]float32, numel)
	}
	if !t.binary && wantC {
		pc = make([][]float32, t.d)
		for k := range pc {
			pc[k] = make([]float32, numel)
		}
	}
	overTiles(numel, n, func(t0, t1 int) {
		if t.binary {
			q := t.quad[4*t0:] // t0 is a multiple of 16
			var a []float32
			if acc != nil {
				a = acc[4*t0:]
			}
			for off := 0; off < n*numel; off += numel {
				var dxs []float32
				if dx != nil {
					dxs = dx[off+t0 : off+t1]
				}
				polyBackwardBinary(x[off+t0:off+t1], g[off+t0:off+t1], dxs, q, a, wantM, wantC)
			}
			return
		}
		mask, cf := t.general(t0, t1)
		var pmt []float32
		var pct [][]float32
		if pm != nil {
			pmt = pm[t0:t1]
		}
		if pc != nil {
			pct = make([][]float32, len(pc))
			for k := range pct {
				pct[k] = pc[k][t0:t1]
			}
		}
		for off := 0; off < n*numel; off += numel {
			var dxs []float32
			if dx != nil {
				dxs = dx[off+t0 : off+t1]
			}
			polyBackwardGeneral(x[off+t0:off+t1], g[off+t0:off+t1], dxs, mask, cf, pmt, pct)
		}
	})
	if wantM {
		if acc != nil {
			pm = make([]float32, numel)
			for j := range pm {
				pm[j] = acc[quadAt(j, 0)]
			}
		}
		dm = make([]float32, numel)
		unstore(dm, pm, t.order)
	}
	if wantC {
		dc = make([]float32, t.chans*t.d)
		for j, ch := range t.ch {
			for k := 0; k < t.d; k++ {
				if acc != nil {
					dc[int(ch)*t.d+k] += acc[quadAt(j, 1+k)]
				} else {
					dc[int(ch)*t.d+k] += pc[k][j]
				}
			}
		}
	}
	return dm, dc
}

// polyBackwardScalar is the backward pass over a run of elements with a
// binary mask and a polynomial of degree ≤ 2 (quad tables q and sums acc,
// starting at a group boundary): dx (when not nil; may alias gs) =
// g·(m ? [x>0] : p'(x)); when wantM, slot 0 of acc += g·(relu(x) − p(x));
// when wantC, slot 1+k += g·(1−m)·x^k.
func polyBackwardScalar(xs, gs, dx, q, acc []float32, wantM, wantC bool) {
	n := len(xs)
	gs, q = gs[:n], q[:quadLen(n)]
	if dx != nil {
		dx = dx[:n]
	}
	if wantM || wantC {
		acc = acc[:quadLen(n)]
	}
	for i, v := range xs {
		b := quadAt(i, 0)
		c := q[b : b+49 : b+49]
		g, k, pos := gs[i], math.Float32bits(c[48]), posBits(v)
		if wantM || wantC {
			a := acc[b : b+49 : b+49]
			if wantM {
				r := math.Float32frombits(math.Float32bits(v) & pos)
				p := (c[32]*v+c[16])*v + c[0]
				a[0] += g * (r - p)
			}
			if wantC {
				w := math.Float32frombits(math.Float32bits(g) &^ k)
				a[16] += w
				w *= v
				a[32] += w
				w *= v
				a[48] += w
			}
		}
		if dx != nil {
			dr := math.Float32frombits(pos & one)
			dp := c[32]*v + (c[32]*v + c[16])
			dx[i] = sel(k, g*dr, g*dp)
		}
	}
}

// polyBackwardGeneral is the backward pass over a run of elements for
// real-valued masks or higher degrees.
func polyBackwardGeneral(xs, gs, dx, mask []float32, cf [][]float32, pm []float32, pc [][]float32) {
	co := make([]float32, len(cf))
	for i, v := range xs {
		mv, gv := mask[i], gs[i]
		var r, dr float32
		if v > 0 {
			r, dr = v, 1
		}
		if mv == 1 && pm == nil {
			if dx != nil {
				dx[i] = gv * dr
			}
			continue
		}
		for k := range co {
			co[k] = cf[k][i]
		}
		p, dp := horner(co, v)
		if dx != nil {
			dx[i] = gv * (mv*dr + (1-mv)*dp)
		}
		if pm != nil {
			pm[i] += gv * (r - p)
		}
		if pc != nil && mv != 1 {
			w := gv * (1 - mv)
			for k := range pc {
				pc[k][i] += w
				w *= v
			}
		}
	}
}

// horner evaluates Σ_k co[k]·v^k and its derivative.
func horner(co []float32, v float32) (p, dp float32) {
	for k := len(co) - 1; k >= 0; k-- {
		dp = dp*v + p
		p = p*v + co[k]
	}
	return p, dp
}

// snlForward computes y = α ⊙ relu(x) + (1 − α) ⊙ x with al in storage
// order.
func snlForward(x, y, al []float32) {
	numel := len(al)
	n := len(x) / numel
	overTiles(numel, n, func(t0, t1 int) {
		al := al[t0:t1]
		for off := 0; off < n*numel; off += numel {
			snlForwardRun(x[off+t0:off+t1], y[off+t0:off+t1], al)
		}
	})
}

// snlBackward returns dx (into dx when not nil; dx may be g) and, when wantA, dα in
// C·H·W order summed over the batch.
func snlBackward(x, g, dx, al []float32, order []int32, wantA bool) (da []float32) {
	numel := len(al)
	n := len(x) / numel
	var pa []float32
	if wantA {
		pa = make([]float32, numel)
	}
	overTiles(numel, n, func(t0, t1 int) {
		al := al[t0:t1]
		var pat []float32
		if pa != nil {
			pat = pa[t0:t1]
		}
		for off := 0; off < n*numel; off += numel {
			var d []float32
			if dx != nil {
				d = dx[off+t0 : off+t1]
			}
			snlBackwardRun(x[off+t0:off+t1], g[off+t0:off+t1], d, al, pat)
		}
	})
	if wantA {
		da = make([]float32, numel)
		unstore(da, pa, order)
	}
	return da
}

// snlForwardScalar is y = x for x > 0, (1 − α)·x otherwise over a run.
func snlForwardScalar(xs, ys, al []float32) {
	ys, al = ys[:len(xs)], al[:len(xs)]
	for i, v := range xs {
		ys[i] = sel(posBits(v), v, (1-al[i])*v)
	}
}

// snlBackwardScalar is SNL's backward pass over a run: pa (when not nil)
// −= g·min(x, 0)·[x ≤ 0] (∂y/∂α = relu(x) − x), then dx (when not nil; may
// alias gs) = g for x > 0, g·(1 − α) otherwise.
func snlBackwardScalar(xs, gs, dx, al, pa []float32) {
	gs, al = gs[:len(xs)], al[:len(xs)]
	if pa != nil {
		pa = pa[:len(xs)]
	}
	if dx != nil {
		dx = dx[:len(xs)]
	}
	for i, v := range xs {
		g, pos := gs[i], posBits(v)
		if pa != nil {
			pa[i] -= g * math.Float32frombits(math.Float32bits(v)&^pos)
		}
		if dx != nil {
			dx[i] = sel(pos, g, g*(1-al[i]))
		}
	}
}
