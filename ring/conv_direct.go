package ring

import "sync"

// Direct convolution without im2col. For stride 1 the input of one image
// and channel group is zero-padded into xp [cg, Hp, Wp] (Hp = H+2·PadH,
// Wp = W+2·PadW); output position (oy, ox) gets the flat index
// j = oy·Wp + ox, and then
//
//	y[k, oy, ox] = Σ_{c,r,s} w[k,c,r,s] · xp[j + offs[(c·R+r)·S+s]],
//	offs[(c·R+r)·S+s] = c·Hp·Wp + r·Wp + s,
//
// so nr consecutive outputs read nr consecutive inputs for every weight:
// the micro-kernel loads its B vectors straight from xp at the offsets. The
// Wp − ow positions per row that fall on padding columns are computed and
// dropped (waste (S−1)/Wp).
//
// A stride (sh, sw) > 1 becomes stride 1 by splitting the padded input into
// phases: phase (a, b) is xq_ab[c, i, j] = xpad[c, i·sh+a, j·sw+b], of size
// Hq×Wq = ⌈Hp/sh⌉×⌈Wp/sw⌉, and tap (r, s) reads phase (r mod sh, s mod sw)
// at (oy + ⌊r/sh⌋, ox + ⌊s/sw⌋). Only the phases some tap reads are built.
// convKernel computes the mr×nr tile Σ_p pa[p·mr+r]·x[offs[p]+j] over
// p < len(offs), j < nr, and stores it to c[r·ldc+j] (add: adds it).
type convKernel func(pa, x []uint64, offs []int, c []uint64, ldc int, add bool)

// scalarConvKernel is the portable convKernel: 3×2 register blocks.
func scalarConvKernel(pa, x []uint64, offs []int, c []uint64, ldc int, add bool) {
	kb := len(offs)
	pa = pa[:kb*mr]
	r0 := c[0*ldc : 0*ldc+nr]
	r1 := c[1*ldc : 1*ldc+nr]
	r2 := c[2*ldc : 2*ldc+nr]
	for q := 0; q < nr; q += 2 {
		var c00, c01, c10, c11, c20, c21 uint64
		for p, o := range offs {
			a := pa[p*mr : p*mr+mr : p*mr+mr]
			b := x[o+q : o+q+2 : o+q+2]
			b0, b1 := b[0], b[1]
			c00 += a[0] * b0
			c01 += a[0] * b1
			c10 += a[1] * b0
			c11 += a[1] * b1
			c20 += a[2] * b0
			c21 += a[2] * b1
		}
		if add {
			r0[q] += c00
			r0[q+1] += c01
			r1[q] += c10
			r1[q+1] += c11
			r2[q] += c20
			r2[q+1] += c21
		} else {
			r0[q], r0[q+1] = c00, c01
			r1[q], r1[q+1] = c10, c11
			r2[q], r2[q+1] = c20, c21
		}
	}
}

// convRowKernel is convKernel for a single row: the 1×nr tile
// Σ_p pa[p·mr]·x[offs[p]+j], stored to (add: added to) c[0:nr]. It serves
// the last row tile when the number of output channels is not a multiple
// of mr, so no multiplies are spent on padding rows.
type convRowKernel func(pa, x []uint64, offs []int, c []uint64, add bool)

// scalarConvRowKernel is the portable convRowKernel.
func scalarConvRowKernel(pa, x []uint64, offs []int, c []uint64, add bool) {
	kb := len(offs)
	pa = pa[:(kb-1)*mr+1]
	r := c[:nr]
	for q := 0; q < nr; q += 4 {
		var c0, c1, c2, c3 uint64
		for p, o := range offs {
			a := pa[p*mr]
			b := x[o+q : o+q+4 : o+q+4]
			c0 += a * b[0]
			c1 += a * b[1]
			c2 += a * b[2]
			c3 += a * b[3]
		}
		if add {
			r[q] += c0
			r[q+1] += c1
			r[q+2] += c2
			r[q+3] += c3
		} else {
			r[q], r[q+1], r[q+2], r[q+3] = c0, c1, c2, c3
		}
	}
}

func currentConvKernels() (convKernel, convRowKernel) {
	if useSIMD {
		return simdConvKernel, simdConvRowKernel
	}
	return scalarConvKernel, scalarConvRowKernel
}

// directBufs are one task's buffers.
type directBufs struct{ xp, yf, pa []uint64 }

var directPool sync.Pool

func grow(s []uint64, n int) []uint64 {
	if cap(s) < n {
		return make([]uint64, n)
	}
	return s[:n]
}

// convDirect computes image n, group g with up to workers goroutines
// (split over output tiles).
func convDirect(p ConvParams, x, w, y []uint64, n, g, workers int) {
	kern, kern1 := currentConvKernels()
	cg, kg := p.C/p.Groups, p.K/p.Groups
	sh, sw := p.StrideH, p.StrideW
	hp, wp := p.H+2*p.PadH, p.W+2*p.PadW
	hq, wq := (hp+sh-1)/sh, (wp+sw-1)/sw   // phase image size
	pha, phb := min(sh, p.R), min(sw, p.S) // phases in use
	plane := hq * wq
	oh, ow := p.OutH(), p.OutW()
	kdim := cg * p.R * p.S
	lflat := oh * wq // flat output positions
	lpad := roundUp(lflat, nr)
	rowTiles := (kg + mr - 1) / mr

	bufs, _ := directPool.Get().(*directBufs)
	if bufs == nil {
		bufs = &directBufs{}
	}
	defer directPool.Put(bufs)
	// Slack so the last tile's loads at the largest offset stay in range
	// (j + offs + nr ≤ cg·pha·phb·plane + wq + 2·nr).
	bufs.xp = grow(bufs.xp, cg*pha*phb*plane+wq+2*nr)
	bufs.yf = grow(bufs.yf, rowTiles*mr*lpad)
	bufs.pa = grow(bufs.pa, rowTiles*mr*kdim)
	xp, yf, pa := bufs.xp, bufs.yf, bufs.pa

	// Pad (and for strides, split into phases) the input.
	clear(xp)
	xg := x[(n*p.C+g*cg)*p.H*p.W:][:cg*p.H*p.W]
	for c := range cg {
		xc := xg[c*p.H*p.W : (c+1)*p.H*p.W]
		if sh == 1 && sw == 1 {
			for iy := range p.H {
				copy(xp[(c*hp+iy+p.PadH)*wp+p.PadW:], xc[iy*p.W:(iy+1)*p.W])
			}
			continue
		}
		for a := range pha {
			for b := range phb {
				d := xp[((c*pha+a)*phb+b)*plane:][:plane]
				// Phase columns j with 0 ≤ j·sw+b−PadW < W.
				jlo := max(0, ceilDiv(p.PadW-b, sw))
				jhi := max(jlo, min(wq, ceilDiv(p.W+p.PadW-b, sw)))
				for i := range hq {
					iy := i*sh + a - p.PadH
					if iy < 0 || iy >= p.H {
						continue
					}
					xr := xc[iy*p.W : (iy+1)*p.W]
					ix := jlo*sw + b - p.PadW
					dr := d[i*wq : (i+1)*wq]
					for j := jlo; j < jhi; j++ {
						dr[j] = xr[ix]
						ix += sw
					}
				}
			}
		}
	}
	// Pack the weights [kg, kdim] as row panels of mr rows, depth-major
	// (zero rows pad the last panel).
	wg := w[g*kg*kdim:][:kg*kdim]
	for t := range rowTiles {
		d := pa[t*mr*kdim : (t+1)*mr*kdim]
		for r := range mr {
			k := t*mr + r
			if k >= kg {
				for q := range kdim {
					d[q*mr+r] = 0
				}
				continue
			}
			for q, v := range wg[k*kdim : (k+1)*kdim] {
				d[q*mr+r] = v
			}
		}
	}
	offs := make([]int, kdim)
	for c := range cg {
		for r := range p.R {
			for s := range p.S {
				offs[(c*p.R+r)*p.S+s] = ((c*pha+r%sh)*phb+s%sw)*plane + (r/sh)*wq + s/sw
			}
		}
	}

	colTiles := lpad / nr
	// work computes column tiles [c0, c1) of row tiles [r0, r1).
	work := func(c0, c1, r0, r1 int) {
		for pc := 0; pc < kdim; pc += kc {
			kb := min(kc, kdim-pc)
			of := offs[pc : pc+kb]
			for jt := c0; jt < c1; jt++ {
				j := jt * nr
				for rt := r0; rt < r1; rt++ {
					ap := pa[rt*mr*kdim+pc*mr:]
					if rows := kg - rt*mr; rows < mr {
						for r := range rows {
							kern1(ap[r:], xp[j:], of, yf[(rt*mr+r)*lpad+j:], pc > 0)
						}
						continue
					}
					kern(ap, xp[j:], of, yf[rt*mr*lpad+j:], lpad, pc > 0)
				}
			}
		}
	}
	if float64(kg)*float64(lpad)*float64(kdim) < parallelMin {
		workers = 1
	}
	splitTiles(rowTiles, colTiles, workers, work)
	// Drop the padding columns.
	yg := y[(n*p.K+g*kg)*oh*ow:][:kg*oh*ow]
	for k := range kg {
		for oy := range oh {
			copy(yg[(k*oh+oy)*ow:(k*oh+oy+1)*ow], yf[k*lpad+oy*wq:])
		}
	}
}
