package ref

import "fmt"

// Layout is the memory order of an activation tensor [N,C,H,W].
//
// NCHW is plain row-major. Blocked is oneDNN's nChw16c when C is a multiple
// of 16: for each image, channel blocks of 16, then H, then W, then the 16
// channels of the block, so element (n, ch, i) with spatial index i = h·W+w
// is at n·C·HW + (ch/16)·16·HW + i·16 + ch%16. When C is not a multiple of
// 16, Blocked is NCHW. Both layouts have N·C·H·W elements, and each image is
// a contiguous run of C·H·W of them, so element-wise operations (ReLU,
// addition) and per-element masks of shape [C,H,W] converted with ToLayout
// (n = 1) work unchanged; per-channel operations use Offset.
type Layout int

// The layouts.
const (
	NCHW Layout = iota
	Blocked
)

// String names the layout.
func (l Layout) String() string {
	switch l {
	case NCHW:
		return "nchw"
	case Blocked:
		return "blocked"
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// IsBlocked reports whether tensors with c channels are stored blocked
// (nChw16c), i.e. l is Blocked and c is a multiple of 16.
func (l Layout) IsBlocked(c int) bool { return l == Blocked && c%16 == 0 }

// Offset returns the position, within one image of c channels and hw
// spatial positions, of channel ch at spatial index i.
func (l Layout) Offset(c, hw, ch, i int) int {
	if l.IsBlocked(c) {
		return (ch/16)*16*hw + i*16 + ch%16
	}
	return ch*hw + i
}

// Channel returns the channel of position j within one image of c channels
// and hw spatial positions (the inverse of Offset for the channel).
func (l Layout) Channel(c, hw, j int) int {
	if l.IsBlocked(c) {
		return (j/(16*hw))*16 + j%16
	}
	return j / hw
}

// ToLayout copies src [N,C,HW] in NCHW order to dst in layout l.
func ToLayout(l Layout, n, c, hw int, src, dst []float32) {
	checkLen("ToLayout", "src", src, n*c*hw)
	checkLen("ToLayout", "dst", dst, n*c*hw)
	if !l.IsBlocked(c) {
		copy(dst, src)
		return
	}
	for img := 0; img < n; img++ {
		s, d := src[img*c*hw:(img+1)*c*hw], dst[img*c*hw:(img+1)*c*hw]
		for ch := 0; ch < c; ch++ {
			for i := 0; i < hw; i++ {
				d[(ch/16)*16*hw+i*16+ch%16] = s[ch*hw+i]
			}
		}
	}
}

// FromLayout copies src [N,C,HW] in layout l to dst in NCHW order.
func FromLayout(l Layout, n, c, hw int, src, dst []float32) {
	checkLen("FromLayout", "src", src, n*c*hw)
	checkLen("FromLayout", "dst", dst, n*c*hw)
	if !l.IsBlocked(c) {
		copy(dst, src)
		return
	}
	for img := 0; img < n; img++ {
		s, d := src[img*c*hw:(img+1)*c*hw], dst[img*c*hw:(img+1)*c*hw]
		for ch := 0; ch < c; ch++ {
			for i := 0; i < hw; i++ {
				d[ch*hw+i] = s[(ch/16)*16*hw+i*16+ch%16]
			}
		}
	}
}

// toPlain returns s as NCHW: s itself if l stores c channels plainly,
// otherwise a converted copy.
func toPlain(l Layout, n, c, hw int, s []float32) []float32 {
	if !l.IsBlocked(c) || s == nil {
		return s
	}
	t := make([]float32, len(s))
	FromLayout(l, n, c, hw, s, t)
	return t
}

// plainOut returns a buffer to compute an output into in NCHW order and a
// function that stores it to out in layout l.
func plainOut(l Layout, n, c, hw int, out []float32) ([]float32, func()) {
	if !l.IsBlocked(c) || out == nil {
		return out, func() {}
	}
	t := make([]float32, len(out))
	return t, func() { ToLayout(l, n, c, hw, t, out) }
}
