package mpc

import (
	"fmt"

	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// PoolSpec is the public geometry of a pooling layer over x [N, C, H, W]
// with a K×K window, stride Stride and zero-based padding Pad (as
// PyTorch's MaxPool2d/AvgPool2d with count_include_pad).
type PoolSpec struct {
	N, C, H, W     int
	K, Stride, Pad int
}

// OutH is the output height.
func (p PoolSpec) OutH() int { return (p.H+2*p.Pad-p.K)/p.Stride + 1 }

// OutW is the output width.
func (p PoolSpec) OutW() int { return (p.W+2*p.Pad-p.K)/p.Stride + 1 }

// OutLen is the number of output elements.
func (p PoolSpec) OutLen() int { return p.N * p.C * p.OutH() * p.OutW() }

// Validate checks the geometry.
func (p PoolSpec) Validate() error {
	for _, d := range []int{p.N, p.C, p.H, p.W, p.K, p.Stride} {
		if d <= 0 || d > corr.MaxDim {
			return fmt.Errorf("mpc: pool spec %+v: dimensions must be in 1..%d", p, corr.MaxDim)
		}
	}
	if p.Pad < 0 || 2*p.Pad > p.K {
		return fmt.Errorf("mpc: pool spec %+v: padding must be in 0..K/2", p)
	}
	if p.H+2*p.Pad < p.K || p.W+2*p.Pad < p.K {
		return fmt.Errorf("mpc: pool spec %+v: window larger than padded input", p)
	}
	if _, ok := corr.BoundedProduct(p.N, p.C, p.H, p.W); !ok {
		return fmt.Errorf("mpc: pool spec %+v: more than %d elements", p, corr.MaxMaterialElems)
	}
	return nil
}

// Windows lists, for every output element, the flat input indices of its
// window that lie inside the input (padding positions are left out).
func (p PoolSpec) Windows() [][]int {
	oh, ow := p.OutH(), p.OutW()
	out := make([][]int, 0, p.OutLen())
	for nc := 0; nc < p.N*p.C; nc++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				var w []int
				for r := 0; r < p.K; r++ {
					h := i*p.Stride - p.Pad + r
					if h < 0 || h >= p.H {
						continue
					}
					for c := 0; c < p.K; c++ {
						x := j*p.Stride - p.Pad + c
						if x >= 0 && x < p.W {
							w = append(w, (nc*p.H+h)*p.W+x)
						}
					}
				}
				out = append(out, w)
			}
		}
	}
	return out
}

// Tournament reduces every window of p over x to one value with a
// knock-out tournament: each round pairs the neighbours of every window
// (an odd last element passes through) and play(a, b) returns the winners
// of all pairs of the round at once (a[i] against b[i]). It is the one
// schedule of max pooling: MaxPool plays it on shares (one ReLU gate per
// round), the fixed-point executor in the clear, and MaxPoolRounds counts
// it; ⌈log2(K²)⌉ rounds and K² − 1 comparisons per full window.
func Tournament[T any](p PoolSpec, x []T, play func(a, b []T) ([]T, error)) ([]T, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(x) != p.N*p.C*p.H*p.W {
		return nil, fmt.Errorf("mpc: pool: %d values for %+v", len(x), p)
	}
	cur := make([][]T, 0, p.OutLen())
	for _, w := range p.Windows() {
		cur = append(cur, gather(x, w))
	}
	for {
		var a, b []T
		for _, c := range cur {
			for i := 0; i+1 < len(c); i += 2 {
				a = append(a, c[i])
				b = append(b, c[i+1])
			}
		}
		if len(a) == 0 {
			break
		}
		r, err := play(a, b)
		if err != nil {
			return nil, err
		}
		if len(r) != len(a) {
			return nil, fmt.Errorf("mpc: pool round: %d winners for %d pairs", len(r), len(a))
		}
		k := 0
		for j, c := range cur {
			next := c[:0] // winners overwrite the window in place
			for i := 0; i+1 < len(c); i += 2 {
				next = append(next, r[k])
				k++
			}
			if len(c)%2 == 1 {
				next = append(next, c[len(c)-1])
			}
			cur[j] = next
		}
	}
	y := make([]T, len(cur))
	for i, c := range cur {
		y[i] = c[0]
	}
	return y, nil
}

// MaxPoolRounds returns the number of comparisons of each round of p's
// tournament (nil for an invalid p): what MaxPool asks of the ReLU gate.
func MaxPoolRounds(p PoolSpec) []int {
	var rounds []int
	_, err := Tournament(p, make([]struct{}, p.N*p.C*p.H*p.W), func(a, _ []struct{}) ([]struct{}, error) {
		rounds = append(rounds, len(a))
		return a, nil
	})
	if err != nil {
		return nil
	}
	return rounds
}

// MaxPool returns shares of the window maxima of x (padding ignored, as
// PyTorch's −∞ padding), with max(a, b) = b + ReLU(a − b) over the
// Tournament: ⌈log2(K²)⌉ rounds, each one ReLU gate (8 bytes each way
// per comparison) for all windows at once; K² − 1 comparisons per output.
// Differences must fit the session's Ell bits.
func (s *Session) MaxPool(src corr.Provider, label string, p PoolSpec, x []uint64) ([]uint64, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(x) != p.N*p.C*p.H*p.W {
		return nil, fmt.Errorf("mpc: maxpool %q: %d values for %+v", label, len(x), p)
	}
	g, err := s.gates("maxpool " + label)
	if err != nil {
		return nil, err
	}
	return Tournament(p, x, func(a, b []uint64) ([]uint64, error) {
		d := make([]uint64, len(a))
		ring.SubVec(d, a, b)
		var r []uint64
		op, err := g.ReLU(s, src, label, d, s.Ell, &r)
		if err != nil {
			return nil, err
		}
		if err := s.OpenAll("relu "+label, op); err != nil {
			return nil, err
		}
		ring.AddVec(r, r, b) // max(a, b)
		return r, nil
	})
}

// SumPool returns shares of the window sums of x (local, exact); AvgPool
// divides them. Padding counts as zeros.
func SumPool(p PoolSpec, x []uint64) ([]uint64, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(x) != p.N*p.C*p.H*p.W {
		return nil, fmt.Errorf("mpc: sumpool: %d values for %+v", len(x), p)
	}
	ws := p.Windows()
	y := make([]uint64, len(ws))
	for i, w := range ws {
		for _, j := range w {
			y[i] += x[j]
		}
	}
	return y, nil
}

// GlobalSumPool returns shares of the per-(n, c) sums over the hw spatial
// positions of x [N, C, hw] (local, exact). A caller can fold the divisor
// into the next linear layer's weights instead of truncating.
func GlobalSumPool(n, c, hw int, x []uint64) ([]uint64, error) {
	if tot, ok := corr.BoundedProduct(n, c, hw); !ok || tot != len(x) {
		return nil, fmt.Errorf("mpc: global pool: %d values for %dx%dx%d", len(x), n, c, hw)
	}
	y := make([]uint64, n*c)
	for i := range y {
		for _, v := range x[i*hw : (i+1)*hw] {
			y[i] += v
		}
	}
	return y, nil
}
