package onnxmodel

import (
	"fmt"
	"slices"

	"github.com/autorep/autorep/onnx"
)

// Largest kernel and padding a rewritten window may have (the limits of a
// models.GraphSpec).
const (
	maxKernel = 64
	maxPad    = 64
)

// window is the 2-D sliding window of a Conv or pooling node with auto_pad
// resolved: kernel kh×kw, one stride, dilations dh, dw and zero padding
// per side.
type window struct {
	kh, kw, s                int
	dh, dw                   int
	top, left, bottom, right int
}

// extent returns the dilated kernel size on each axis.
func (w window) extent() (int, int) { return (w.kh-1)*w.dh + 1, (w.kw-1)*w.dw + 1 }

// symmetric reports whether w is a square, undilated window with the same
// padding on all four sides: what nn.Conv2d, the pooling layers and the
// secure executor compute directly.
func (w window) symmetric() bool {
	return w.kh == w.kw && w.dh == 1 && w.dw == 1 && w.top == w.left && w.top == w.bottom && w.top == w.right
}

// out returns the output height and width for an inH×inW input.
func (w window) out(inH, inW int) (int, int) {
	eh, ew := w.extent()
	return (inH+w.top+w.bottom-eh)/w.s + 1, (inW+w.left+w.right-ew)/w.s + 1
}

// readWindow reads kernel_shape, strides, dilations, pads, auto_pad and
// (for pooling) ceil_mode of n for an inH×inW input. kh, kw come from the
// weight for a Conv (0 for pooling: kernel_shape is required). It accepts
// what the converter can compute exactly and returns an error naming the
// attribute otherwise.
func readWindow(n *onnx.Node, kh, kw int64, inH, inW int) (window, error) {
	var w window
	ks, err := ints(n, "kernel_shape", nil)
	if err != nil {
		return w, err
	}
	if ks == nil && kh > 0 {
		ks = []int64{kh, kw}
	}
	if len(ks) != 2 || ks[0] <= 0 || ks[1] <= 0 || ks[0] > maxKernel || ks[1] > maxKernel || (kh > 0 && (ks[0] != kh || ks[1] != kw)) {
		return w, nodeError(n, "kernel_shape %v is not supported (supported: 2-D kernels of 1 to %d matching the weight)", ks, maxKernel)
	}
	st, err := ints(n, "strides", []int64{1, 1})
	if err != nil {
		return w, err
	}
	if len(st) != 2 || st[0] != st[1] || st[0] <= 0 || st[0] > maxKernel {
		return w, nodeError(n, "strides %v are not supported (supported: the same positive stride on both axes)", st)
	}
	dl, err := ints(n, "dilations", []int64{1, 1})
	if err != nil {
		return w, err
	}
	if len(dl) != 2 || dl[0] <= 0 || dl[1] <= 0 || dl[0] > maxKernel || dl[1] > maxKernel {
		return w, nodeError(n, "dilations %v are not supported (supported: two positive values)", dl)
	}
	if n.OpType != "Conv" && (dl[0] != 1 || dl[1] != 1) {
		return w, nodeError(n, "dilations %v are not supported (supported: 1; dilated windows only for Conv)", dl)
	}
	w = window{kh: int(ks[0]), kw: int(ks[1]), s: int(st[0]), dh: int(dl[0]), dw: int(dl[1])}
	eh, ew := w.extent()
	pd, err := ints(n, "pads", nil)
	if err != nil {
		return w, err
	}
	mode := "NOTSET"
	if a := n.Attr("auto_pad"); a != nil && len(a.S) > 0 {
		mode = string(a.S)
	}
	switch mode {
	case "NOTSET":
		if pd == nil {
			pd = []int64{0, 0, 0, 0}
		}
		if len(pd) != 4 || slices.ContainsFunc(pd, func(p int64) bool { return p < 0 || p > maxPad }) {
			return w, nodeError(n, "pads %v are not supported (supported: four values [top, left, bottom, right] from 0 to %d)", pd, maxPad)
		}
		w.top, w.left, w.bottom, w.right = int(pd[0]), int(pd[1]), int(pd[2]), int(pd[3])
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		// Output ceil(L/s); the total padding split evenly, the odd one at
		// the end (UPPER) or the beginning (LOWER).
		split := func(l, e int) (int, int) {
			total := max(((l+w.s-1)/w.s-1)*w.s+e-l, 0)
			if mode == "SAME_UPPER" {
				return total / 2, total - total/2
			}
			return total - total/2, total / 2
		}
		w.top, w.bottom = split(inH, eh)
		w.left, w.right = split(inW, ew)
		if max(w.top, w.left, w.bottom, w.right) > maxPad {
			return w, nodeError(n, "auto_pad %s needs pads above %d", mode, maxPad)
		}
	default:
		return w, nodeError(n, "auto_pad %q is not supported (supported: NOTSET, VALID, SAME_UPPER, SAME_LOWER)", mode)
	}
	if inH+w.top+w.bottom < eh || inW+w.left+w.right < ew {
		return w, nodeError(n, "window %d×%d is larger than the padded %d×%d input", eh, ew, inH+w.top+w.bottom, inW+w.left+w.right)
	}
	if cm, err := intAttr(n, "ceil_mode", 0); err != nil {
		return w, err
	} else if cm != 0 {
		// ceil_mode only adds a last, partial window; where the division
		// is exact there is none and floor and ceil agree.
		if (inH+w.top+w.bottom-eh)%w.s != 0 || (inW+w.left+w.right-ew)%w.s != 0 {
			oh, ow := w.out(inH, inW)
			return w, nodeError(n, "ceil_mode 1 on a %d×%d input would add a partial window (%d×%d outputs with floor); supported: ceil_mode 0, or 1 where it does not change the output size",
				inH, inW, oh, ow)
		}
	}
	return w, nil
}

// squareEmbedding finds an equivalent square convolution for w over an
// inH×inW input: a k×k kernel with stride w.s and padding p on all sides
// whose taps (oh + r·dh, ow + c·dw) hold the original kh×kw weights, the
// other taps zero. Its windows start where the original's do (offset p−top
// and p−left inside the bigger kernel) and it has the same number of
// outputs, so it computes the same function, zero padding included. It
// returns the smallest such k; ok is false when none exists (e.g. 2 rows
// but no columns of padding on a square kernel: the two axes would need
// different kernel sizes).
func squareEmbedding(w window, inH, inW int) (k, p, oh, ow int, ok bool) {
	eh, ew := w.extent()
	// With d = 2p − k, the output count on an axis of length L is
	// ⌊(L+d)/s⌋+1, which must equal the original's m+1.
	lo, hi := -1<<30, 1<<30
	for _, ax := range [][4]int{{inH, w.top, w.bottom, eh}, {inW, w.left, w.right, ew}} {
		l, b, e, ext := ax[0], ax[1], ax[2], ax[3]
		m := (l + b + e - ext) / w.s
		lo, hi = max(lo, m*w.s-l), min(hi, m*w.s-l+w.s-1)
	}
	best := -1
	for d := lo; d <= hi; d++ {
		// p ≥ top, left (taps start inside the kernel) and k = 2p−d ≥
		// offset + extent on both axes.
		pp := max(w.top, w.left, d+eh-w.top, d+ew-w.left, (d+2)/2)
		kk := 2*pp - d
		if kk >= 1 && (best < 0 || kk < best) {
			best, k, p = kk, kk, pp
		}
	}
	if best < 0 || k > maxKernel || p > maxPad {
		return 0, 0, 0, 0, false
	}
	return k, p, p - w.top, p - w.left, true
}

// embedKernel writes the kh×kw kernels of src ([O·I][kh·kw]) into k×k
// kernels at row oh, column ow with the window's dilations.
func embedKernel(src []float32, w window, k, oh, ow int) []float32 {
	per := w.kh * w.kw
	dst := make([]float32, len(src)/per*k*k)
	for q := 0; q < len(src)/per; q++ {
		for r := 0; r < w.kh; r++ {
			for c := 0; c < w.kw; c++ {
				dst[q*k*k+(oh+r*w.dh)*k+ow+c*w.dw] = src[q*per+r*w.kw+c]
			}
		}
	}
	return dst
}

// describe formats a window's pads and dilations for error messages.
func (w window) describe() string {
	return fmt.Sprintf("kernel %d×%d, stride %d, dilations [%d %d], pads [%d %d %d %d]", w.kh, w.kw, w.s, w.dh, w.dw, w.top, w.left, w.bottom, w.right)
}
