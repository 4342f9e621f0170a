package reduce

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/kernel"
)

// TestChannelAbsMax compares channelAbsMax with the plain per-element
// definition (each stored element's channel from its C·H·W position) in
// both layouts, serial and split over images, with -0, ±Inf and a NaN.
func TestChannelAbsMax(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, l := range []kernel.Layout{kernel.NCHW, kernel.Blocked} {
		for _, n := range []int{1, 64} { // 64×32×36 elements: split over images
			c, s := 32, 36
			var cache []int32
			order := storageOrder([]int{c, 6, 6}, l, &cache)
			if (order != nil) != (l == kernel.Blocked) {
				t.Fatalf("%v: order %v", l, order != nil)
			}
			xs := make([]float32, n*c*s)
			for i := range xs {
				xs[i] = float32(rng.NormFloat64())
			}
			numel := c * s
			// stored position of (image, channel, position)
			at := func(b, ch, p int) int {
				if order == nil {
					return b*numel + ch*s + p
				}
				return b*numel + ((ch/16)*s+p)*16 + ch%16
			}
			xs[at(n-1, 3, 5)] = float32(math.Inf(-1))
			xs[at(0, 7, 0)] = float32(math.NaN())
			for p := range s {
				for b := range n {
					xs[at(b, 9, p)] = float32(math.Copysign(0, -1))
				}
			}
			want := make([]float64, c)
			for b := range n {
				for j := range numel {
					i := j
					if order != nil {
						i = int(order[j])
					}
					a := math.Abs(float64(xs[b*numel+j]))
					if a > want[i/s] || math.IsNaN(a) || math.IsNaN(want[i/s]) {
						if !math.IsNaN(want[i/s]) {
							want[i/s] = a
						}
					}
				}
			}
			got := channelAbsMax(xs, n, c, s, order)
			for ch := range c {
				w, g := want[ch], float64(got[ch])
				if !(w == g || math.IsNaN(w) && math.IsNaN(g)) || math.Signbit(g) {
					t.Errorf("%v n=%d channel %d: %v, want %v", l, n, ch, g, w)
				}
			}
			if !math.IsInf(float64(got[3]), 1) || !math.IsNaN(float64(got[7])) || got[9] != 0 {
				t.Errorf("%v n=%d: channels 3, 7, 9 = %v %v %v, want +Inf NaN 0", l, n, got[3], got[7], got[9])
			}
		}
	}
}

// BenchmarkUpdateRange measures PolyBound's per-step range update (the
// per-channel max |x| of the batch) on a ResNet-20 stage-1 site, 128
// images × 16×32×32 in the blocked layout.
func BenchmarkUpdateRange(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := NewMasked("s", []int{16, 32, 32}, 2, rng)
	if err != nil {
		b.Fatal(err)
	}
	order := storageOrder(m.Shape, kernel.Blocked, &m.order)
	xs := make([]float32, 128*len(m.Mask))
	for i := range xs {
		xs[i] = float32(rng.NormFloat64())
	}
	b.SetBytes(int64(4 * len(xs)))
	for b.Loop() {
		m.updateRange(xs, 128, 32*32, order)
	}
}
