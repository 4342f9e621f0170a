package mpc

import (
	"runtime"
	"sync"
)

// conv computes y = w ⊛ x over Z_2^64 for the geometry p: x [N,C,H,W],
// w [K, C/G, R, S], y [N, K, OH, OW] (cross-correlation, zero padding, as
// PyTorch). Sizes must match p (checked by callers).
func conv(p LinearSpec, w, x []uint64) []uint64 {
	oh, ow := p.OutH(), p.OutW()
	y := make([]uint64, p.OutLen())
	cg, kg := p.C/p.Groups, p.K/p.Groups
	if p.R == 1 && p.S == 1 && p.H == 1 && p.W == 1 && p.Groups == 1 {
		// Dense: y[n,k] = Σ_c w[k,c] x[n,c].
		for n := 0; n < p.N; n++ {
			xr := x[n*p.C : (n+1)*p.C]
			for k := 0; k < p.K; k++ {
				wr := w[k*p.C : (k+1)*p.C]
				var acc uint64
				for c, v := range wr {
					acc += v * xr[c]
				}
				y[n*p.K+k] = acc
			}
		}
		return y
	}
	parallelFor(p.N*p.K, func(lo, hi int) {
		for nk := lo; nk < hi; nk++ {
			n, k := nk/p.K, nk%p.K
			g := k / kg
			out := y[nk*oh*ow : (nk+1)*oh*ow]
			for c := 0; c < cg; c++ {
				xc := x[(n*p.C+g*cg+c)*p.H*p.W:]
				for r := 0; r < p.R; r++ {
					for s := 0; s < p.S; s++ {
						wv := w[((k*cg+c)*p.R+r)*p.S+s]
						if wv == 0 {
							continue
						}
						for i := 0; i < oh; i++ {
							ih := i*p.StrideH - p.PadH + r
							if ih < 0 || ih >= p.H {
								continue
							}
							row := xc[ih*p.W : (ih+1)*p.W]
							o := out[i*ow : (i+1)*ow]
							for j := range o {
								iw := j*p.StrideW - p.PadW + s
								if iw >= 0 && iw < p.W {
									o[j] += wv * row[iw]
								}
							}
						}
					}
				}
			}
		}
	})
	return y
}

// parallelFor calls fn on disjoint ranges [lo, hi) covering [0, m), using up
// to GOMAXPROCS goroutines.
func parallelFor(m int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), m)
	if workers <= 1 {
		fn(0, m)
		return
	}
	chunk := (m + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < m; lo += chunk {
		hi := min(lo+chunk, m)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
