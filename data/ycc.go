package data

import "image"

// JPEG colour conversion and chroma upsampling as libjpeg does them by
// default (jdcolor.c ycc_rgb_convert, jdsample.c "fancy" triangle-filter
// upsampling), so that decoded pixels agree closely with PIL/torchvision
// rather than with Go's nearest-neighbour chroma. (The IDCT still differs
// from libjpeg's by about one level on some pixels.)

const yccScaleBits = 16

// yccTables are libjpeg's YCbCr→RGB lookup tables.
var crR, cbB, crG, cbG [256]int32

func init() {
	fix := func(x float64) int64 { return int64(x*(1<<yccScaleBits) + 0.5) }
	const half = int64(1) << (yccScaleBits - 1)
	for i := 0; i < 256; i++ {
		x := int64(i - 128)
		crR[i] = int32((fix(1.40200)*x + half) >> yccScaleBits)
		cbB[i] = int32((fix(1.77200)*x + half) >> yccScaleBits)
		crG[i] = int32(-fix(0.71414) * x)
		cbG[i] = int32(-fix(0.34414)*x + half)
	}
}

func clamp8(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// ycbcrToCHW converts a decoded JPEG to RGB planes (dst holds 3*W*H bytes),
// upsampling 4:2:0 and 4:2:2 chroma with libjpeg's fancy upsampling.
// Other subsampling ratios use nearest-neighbour chroma.
func ycbcrToCHW(m *image.YCbCr, dst []uint8) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	plane := w * h
	cb := make([]uint8, plane)
	cr := make([]uint8, plane)
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio420:
		fancy420(m, m.Cb, cb, w, h)
		fancy420(m, m.Cr, cr, w, h)
	case image.YCbCrSubsampleRatio422:
		fancy422(m, m.Cb, cb, w, h)
		fancy422(m, m.Cr, cr, w, h)
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				cb[y*w+x], cr[y*w+x] = m.Cb[ci], m.Cr[ci]
			}
		}
	}
	r, g, bl := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	for y := 0; y < h; y++ {
		yrow := m.Y[m.YOffset(b.Min.X, b.Min.Y+y):]
		for x := 0; x < w; x++ {
			k := y*w + x
			yy, u, v := int32(yrow[x]), cb[k], cr[k]
			r[k] = clamp8(yy + crR[v])
			g[k] = clamp8(yy + (cbG[u]+crG[v])>>yccScaleBits)
			bl[k] = clamp8(yy + cbB[u])
		}
	}
}

// chromaDims returns the size of the chroma planes of m.
func chromaDims(m *image.YCbCr) (cw, ch int) {
	b := m.Bounds()
	cw, ch = b.Dx(), b.Dy()
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio420:
		cw, ch = (cw+1)/2, (ch+1)/2
	case image.YCbCrSubsampleRatio422:
		cw = (cw + 1) / 2
	}
	return cw, ch
}

// fancy420 upsamples a 4:2:0 chroma plane to w×h (libjpeg h2v2_fancy_upsample:
// a 3:1 triangle filter in each direction, edges replicated).
func fancy420(m *image.YCbCr, c []uint8, out []uint8, w, h int) {
	cw, ch := chromaDims(m)
	b := m.Bounds()
	base := m.COffset(b.Min.X, b.Min.Y)
	at := func(x, y int) int32 {
		x = min(max(x, 0), cw-1)
		y = min(max(y, 0), ch-1)
		return int32(c[base+y*m.CStride+x])
	}
	for oy := 0; oy < h; oy++ {
		iy := oy / 2
		ny := iy - 1 // the nearer neighbouring row: above for even rows
		if oy%2 == 1 {
			ny = iy + 1
		}
		colsum := func(x int) int32 { return at(x, iy)*3 + at(x, ny) }
		for ox := 0; ox < w; ox++ {
			ix := ox / 2
			this := colsum(ix)
			var v int32
			if ox%2 == 0 {
				v = (this*3 + colsum(max(ix-1, 0)) + 8) >> 4
			} else {
				v = (this*3 + colsum(min(ix+1, cw-1)) + 7) >> 4
			}
			out[oy*w+ox] = uint8(v)
		}
	}
}

// fancy422 upsamples a 4:2:2 chroma plane horizontally (libjpeg
// h2v1_fancy_upsample).
func fancy422(m *image.YCbCr, c []uint8, out []uint8, w, h int) {
	cw, _ := chromaDims(m)
	b := m.Bounds()
	base := m.COffset(b.Min.X, b.Min.Y)
	for y := 0; y < h; y++ {
		row := c[base+y*m.CStride:]
		for ox := 0; ox < w; ox++ {
			ix := ox / 2
			this := int32(row[ix]) * 3
			var v int32
			if ox%2 == 0 {
				v = (this + int32(row[max(ix-1, 0)]) + 1) >> 2
			} else {
				v = (this + int32(row[min(ix+1, cw-1)]) + 2) >> 2
			}
			out[y*w+ox] = uint8(v)
		}
	}
}
