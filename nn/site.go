package nn

import (
	"fmt"
	"math"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

// Site is one ReLU call site of a network. With a nil Act it applies a
// plain ReLU; otherwise it applies Act (PolyMask, or a trainable activation
// installed by package reduce).
type Site struct {
	// Name is the dotted node name ("layer1.0.relu1").
	Name string
	// Shape is the per-image activation shape (C,H,W; or C after a
	// Linear). Forward fills it on the first call when nil.
	Shape []int
	// Act replaces the ReLU when not nil.
	Act Activation
}

// Forward applies the site's activation.
func (s *Site) Forward(x *autograd.Var) *autograd.Var {
	if len(x.Value.Shape) < 2 {
		shapePanic("site "+s.Name, "want a batched input, got shape %v", x.Value.Shape)
	}
	if s.Shape == nil {
		s.Shape = append([]int(nil), x.Value.Shape[1:]...)
	}
	if s.Act == nil {
		return ReLU(x)
	}
	return s.Act.Apply(x)
}

// Size is the number of activations per image (the product of Shape).
func (s *Site) Size() int { return tensor.Numel(s.Shape) }

// ReLUCount is the number of ReLUs per image the site evaluates: Size for
// a plain ReLU, the activation's own count when it implements ReLUCounter,
// and Size otherwise.
func (s *Site) ReLUCount() int {
	if c, ok := s.Act.(ReLUCounter); ok && s.Act != nil {
		return c.ReLUCount()
	}
	return s.Size()
}

// Channels is Shape[0], the number of channels (1 if Shape is empty).
func (s *Site) Channels() int {
	if len(s.Shape) == 0 {
		return 1
	}
	return s.Shape[0]
}

// Parameters returns the activation's parameters, if any.
func (s *Site) Parameters() []Named {
	if p, ok := s.Act.(ParamHolder); ok {
		return p.Parameters()
	}
	return nil
}

// Buffers returns the activation's buffers, if any.
func (s *Site) Buffers() []NamedTensor {
	if b, ok := s.Act.(BufferHolder); ok {
		return b.Buffers()
	}
	return nil
}

// SetTraining forwards the mode to the activation.
func (s *Site) SetTraining(t bool) {
	if m, ok := s.Act.(ModeSetter); ok {
		m.SetTraining(t)
	}
}

// PolyMask is the frozen mixed activation
//
//	y = m·relu(x) + (1 − m)·(c0 + c1·x + c2·x² + …)
//
// with a per-element mask m (shared over the batch) and per-channel
// polynomial coefficients. It is differentiable with respect to x.
type PolyMask struct {
	// Mask has one entry per activation of an image (C·H·W); 1 = ReLU.
	Mask []float32
	// Coef[c] holds channel c's coefficients c0, c1, c2, … (lowest first).
	Coef [][]float32
}

// NewPolyMask returns an all-ReLU PolyMask for a site of the given shape
// with zero polynomials of the given degree.
func NewPolyMask(shape []int, degree int) *PolyMask {
	c := 1
	if len(shape) > 0 {
		c = shape[0]
	}
	p := &PolyMask{Mask: make([]float32, tensor.Numel(shape)), Coef: make([][]float32, c)}
	for i := range p.Mask {
		p.Mask[i] = 1
	}
	for i := range p.Coef {
		p.Coef[i] = make([]float32, degree+1)
	}
	return p
}

// Apply evaluates the mixed activation.
func (p *PolyMask) Apply(x *autograd.Var) *autograd.Var { return PolyMaskOp(x, p.Mask, p.Coef) }

// ReLUCount is the number of mask entries equal to 1 (rounded sum).
func (p *PolyMask) ReLUCount() int {
	var s float64
	for _, m := range p.Mask {
		s += float64(m)
	}
	return int(math.Round(s))
}

// Check reports whether p fits a site of the given per-image shape.
func (p *PolyMask) Check(shape []int) error {
	if len(p.Mask) != tensor.Numel(shape) {
		return fmt.Errorf("nn: polymask: %d mask entries for activation shape %v", len(p.Mask), shape)
	}
	c := 1
	if len(shape) > 0 {
		c = shape[0]
	}
	if len(p.Coef) != c {
		return fmt.Errorf("nn: polymask: %d coefficient rows for %d channels", len(p.Coef), c)
	}
	for i, row := range p.Coef {
		if len(row) == 0 {
			return fmt.Errorf("nn: polymask: channel %d has no coefficients", i)
		}
	}
	return nil
}

// PolyMaskOp evaluates y = m·relu(x) + (1−m)·poly_c(x) for x [N, C, ...]
// with mask (C·…) and coef [C][deg+1].
func PolyMaskOp(x *autograd.Var, mask []float32, coef [][]float32) *autograd.Var {
	xs := x.Value.Shape
	if len(xs) < 2 || xs[0] <= 0 {
		shapePanic("polymask", "want a batched input, got %v", xs)
	}
	n, c := xs[0], xs[1]
	per := x.Value.Len() / n
	if len(mask) != per || len(coef) != c || c == 0 {
		shapePanic("polymask", "mask %d / coefficients %d do not fit input %v", len(mask), len(coef), xs)
	}
	for _, row := range coef {
		if len(row) == 0 {
			shapePanic("polymask", "empty coefficient row")
		}
	}
	spatial := per / c
	xd := x.Value.Data
	out := tensor.New(xs...)
	od := out.Data
	parallelFor(n*c, spatial, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			ch := pl % c
			cf := coef[ch]
			m := mask[ch*spatial : (ch+1)*spatial]
			in := xd[pl*spatial : (pl+1)*spatial]
			o := od[pl*spatial : (pl+1)*spatial]
			for j, v := range in {
				r := max(v, 0)
				switch mj := m[j]; mj {
				case 1:
					o[j] = r
				default:
					o[j] = mj*r + (1-mj)*horner(cf, v)
				}
			}
		}
	})
	return autograd.Result(out, func(g *tensor.Tensor) {
		gd := g.Data
		parallelFor(n*c, spatial, func(lo, hi int) {
			for pl := lo; pl < hi; pl++ {
				ch := pl % c
				cf := coef[ch]
				m := mask[ch*spatial : (ch+1)*spatial]
				in := xd[pl*spatial : (pl+1)*spatial]
				gg := gd[pl*spatial : (pl+1)*spatial]
				for j, v := range in {
					var dr float32
					if v > 0 {
						dr = 1
					}
					mj := m[j]
					d := mj * dr
					if mj != 1 {
						d += (1 - mj) * hornerDeriv(cf, v)
					}
					gg[j] *= d
				}
			}
		})
		x.AccumGrad(g)
	}, x)
}

// horner evaluates c0 + c1·v + c2·v² + ….
func horner(c []float32, v float32) float32 {
	y := c[len(c)-1]
	for i := len(c) - 2; i >= 0; i-- {
		y = y*v + c[i]
	}
	return y
}

// hornerDeriv evaluates the derivative c1 + 2·c2·v + ….
func hornerDeriv(c []float32, v float32) float32 {
	if len(c) < 2 {
		return 0
	}
	y := float32(len(c)-1) * c[len(c)-1]
	for i := len(c) - 2; i >= 1; i-- {
		y = y*v + float32(i)*c[i]
	}
	return y
}
