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

// workersFor is the number of chunks parallelImages uses at most.
func workersFor(n int) int { return max(1, min(runtime.GOMAXPROCS(0), n)) }

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
// order: the mask (as a select pattern for binary masks, as values
// otherwise) and the polynomial coefficients.
type polyTables struct {
	// binary is true when every mask value is 0 or 1 and the degree is at
	// most 2: the fast kernels apply (sel, cf[0..2]).
	binary bool
	sel    []uint32    // all ones where the mask is 1 (binary only)
	mask   []float32   // mask values (general path only)
	cf     [][]float32 // cf[k][j]: coefficient k of stored element j
	ch     []int32     // channel of stored element j
	d      int         // coefficients per channel (degree + 1)
	order  []int32     // storage order (nil = C·H·W)
	numel  int         // elements per image
	chans  int         // channels
}

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
	nk := d
	if t.binary {
		nk = 3 // padded with zeros: p = c0 + v·(c1 + v·c2) with c2 = 0
	}
	t.cf = make([][]float32, nk)
	for k := range t.cf {
		t.cf[k] = make([]float32, numel)
		if k >= d {
			continue
		}
		for j, ch := range t.ch {
			t.cf[k][j] = coef[int(ch)*d+k]
		}
	}
	if t.binary {
		t.sel = make([]uint32, numel)
		for j := range t.sel {
			i := j
			if order != nil {
				i = int(order[j])
			}
			if mask[i] == 1 {
				t.sel[j] = ^uint32(0)
			}
		}
	} else {
		t.mask = stored(mask, order)
	}
	return t
}

// forward computes y = m ⊙ relu(x) + (1 − m) ⊙ p_c(x) for x and y in
// storage order (whole images).
func (t *polyTables) forward(x, y []float32) {
	numel := t.numel
	parallelImages(len(x)/numel, numel, func(_, lo, hi int) {
		for off := lo * numel; off < hi*numel; off += numel {
			if t.binary {
				polyForwardBinary(x[off:off+numel], y[off:off+numel], t.sel, t.cf[0], t.cf[1], t.cf[2])
			} else {
				t.forwardGeneral(x[off:off+numel], y[off:off+numel])
			}
		}
	})
}

// polyForwardBinary is the forward pass of one image with a binary mask
// and a polynomial of degree ≤ 2.
func polyForwardBinary(xs, ys []float32, sel_ []uint32, c0, c1, c2 []float32) {
	ys = ys[:len(xs)]
	sel_ = sel_[:len(xs)]
	c0, c1, c2 = c0[:len(xs)], c1[:len(xs)], c2[:len(xs)]
	for i, v := range xs {
		r := math.Float32frombits(math.Float32bits(v) & posBits(v))
		p := (c2[i]*v+c1[i])*v + c0[i]
		ys[i] = sel(sel_[i], r, p)
	}
}

// forwardGeneral is the forward pass of one image for real-valued masks
// or higher degrees.
func (t *polyTables) forwardGeneral(xs, ys []float32) {
	co := make([]float32, len(t.cf))
	for i, v := range xs {
		mv := t.mask[i]
		var r float32
		if v > 0 {
			r = v
		}
		if mv == 1 {
			ys[i] = r
			continue
		}
		for k := range co {
			co[k] = t.cf[k][i]
		}
		p, _ := horner(co, v)
		ys[i] = mv*r + (1-mv)*p
	}
}

// backward returns the gradients with respect to x (storage order, into
// dx when not nil), the mask (C·H·W order, summed over the batch; when
// wantM) and the coefficients ([C, d]; when wantC).
func (t *polyTables) backward(x, g, dx []float32, wantM, wantC bool) (dm, dc []float32) {
	numel := t.numel
	n := len(x) / numel
	w := workersFor(n)
	var pms [][]float32
	var pcs [][][]float32
	if wantM {
		pms = make([][]float32, w)
	}
	if wantC {
		pcs = make([][][]float32, w)
	}
	chunks := parallelImages(n, numel, func(k, lo, hi int) {
		var pm []float32
		var pc [][]float32
		if wantM {
			pm = make([]float32, numel)
			pms[k] = pm
		}
		if wantC {
			pc = make([][]float32, len(t.cf))
			for i := range pc {
				pc[i] = make([]float32, numel)
			}
			pcs[k] = pc
		}
		for off := lo * numel; off < hi*numel; off += numel {
			var dxs []float32
			if dx != nil {
				dxs = dx[off : off+numel]
			}
			if t.binary {
				polyBackwardBinary(x[off:off+numel], g[off:off+numel], dxs, t.sel, t.cf[0], t.cf[1], t.cf[2], pm, pc)
			} else {
				t.backwardGeneral(x[off:off+numel], g[off:off+numel], dxs, pm, pc)
			}
		}
	})
	if wantM {
		dm = make([]float32, numel)
		for k := 0; k < chunks; k++ {
			unstore(dm, pms[k], t.order)
		}
	}
	if wantC {
		dc = make([]float32, t.chans*t.d)
		for k := 0; k < chunks; k++ {
			for i := 0; i < t.d; i++ {
				for j, v := range pcs[k][i] {
					dc[int(t.ch[j])*t.d+i] += v
				}
			}
		}
	}
	return dm, dc
}

// polyBackwardBinary is the backward pass of one image with a binary mask
// and a polynomial of degree ≤ 2: dx (when not nil) = g·(m ? [x>0] : p'(x));
// pm (when not nil) += g·(relu(x) − p(x)); pc[k] (when not nil) +=
// g·(1−m)·x^k.
func polyBackwardBinary(xs, gs, dx []float32, sel_ []uint32, c0, c1, c2, pm []float32, pc [][]float32) {
	n := len(xs)
	gs, sel_ = gs[:n], sel_[:n]
	c0, c1, c2 = c0[:n], c1[:n], c2[:n]
	if dx != nil && pm != nil && pc != nil {
		// The search step wants all three: one pass.
		dx, pm = dx[:n], pm[:n]
		p0, p1, p2 := pc[0][:n], pc[1][:n], pc[2][:n]
		for i, v := range xs {
			g, k, pos := gs[i], sel_[i], posBits(v)
			dr := math.Float32frombits(pos & one)
			dp := c2[i]*v + (c2[i]*v + c1[i])
			dx[i] = sel(k, g*dr, g*dp)
			r := math.Float32frombits(math.Float32bits(v) & pos)
			p := (c2[i]*v+c1[i])*v + c0[i]
			pm[i] += g * (r - p)
			w := math.Float32frombits(math.Float32bits(g) &^ k)
			p0[i] += w
			w *= v
			p1[i] += w
			w *= v
			p2[i] += w
		}
		return
	}
	if dx != nil {
		dx = dx[:n]
		for i, v := range xs {
			dr := math.Float32frombits(posBits(v) & one)
			dp := c2[i]*v + (c2[i]*v + c1[i])
			dx[i] = sel(sel_[i], gs[i]*dr, gs[i]*dp)
		}
	}
	if pm != nil {
		pm = pm[:n]
		for i, v := range xs {
			r := math.Float32frombits(math.Float32bits(v) & posBits(v))
			p := (c2[i]*v+c1[i])*v + c0[i]
			pm[i] += gs[i] * (r - p)
		}
	}
	if pc != nil {
		p0, p1, p2 := pc[0][:n], pc[1][:n], pc[2][:n]
		for i, v := range xs {
			w := math.Float32frombits(math.Float32bits(gs[i]) &^ sel_[i])
			p0[i] += w
			w *= v
			p1[i] += w
			w *= v
			p2[i] += w
		}
	}
}

// backwardGeneral is the backward pass of one image for real-valued masks
// or higher degrees.
func (t *polyTables) backwardGeneral(xs, gs, dx, pm []float32, pc [][]float32) {
	co := make([]float32, len(t.cf))
	for i, v := range xs {
		mv, gv := t.mask[i], gs[i]
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
			co[k] = t.cf[k][i]
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
	parallelImages(len(x)/numel, numel, func(_, lo, hi int) {
		for off := lo * numel; off < hi*numel; off += numel {
			xs, ys := x[off:off+numel], y[off:off+numel]
			ys = ys[:len(xs)]
			al := al[:len(xs)]
			for i, v := range xs {
				// relu(x) − x = −x for x ≤ 0: y = x for x > 0, (1 − α)·x else.
				k := posBits(v)
				ys[i] = sel(k, v, (1-al[i])*v)
			}
		}
	})
}

// snlBackward returns dx (into dx when not nil) and, when wantA, dα in
// C·H·W order summed over the batch.
func snlBackward(x, g, dx, al []float32, order []int32, wantA bool) (da []float32) {
	numel := len(al)
	n := len(x) / numel
	var pas [][]float32
	if wantA {
		pas = make([][]float32, workersFor(n))
	}
	chunks := parallelImages(n, numel, func(k, lo, hi int) {
		var pa []float32
		if wantA {
			pa = make([]float32, numel)
			pas[k] = pa
		}
		for off := lo * numel; off < hi*numel; off += numel {
			xs, gs := x[off:off+numel], g[off:off+numel]
			gs = gs[:len(xs)]
			al := al[:len(xs)]
			if dx != nil {
				d := dx[off : off+numel]
				d = d[:len(xs)]
				for i, v := range xs {
					d[i] = sel(posBits(v), gs[i], gs[i]*(1-al[i]))
				}
			}
			if pa != nil {
				pa = pa[:len(xs)]
				for i, v := range xs {
					// ∂y/∂α = relu(x) − x = −x for x ≤ 0, 0 otherwise.
					pa[i] -= gs[i] * math.Float32frombits(math.Float32bits(v)&^posBits(v))
				}
			}
		}
	})
	if wantA {
		da = make([]float32, numel)
		for k := 0; k < chunks; k++ {
			unstore(da, pas[k], order)
		}
	}
	return da
}
