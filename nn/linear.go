package nn

import (
	"math"
	"math/rand"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/kernel"
	"github.com/autorep/autorep/tensor"
)

// Linear is a fully connected layer y = x·Weightᵀ + Bias on [N, In] inputs,
// like torch.nn.Linear. Weight is [Out, In], Bias [Out] or nil.
type Linear struct {
	In, Out int
	Weight  *autograd.Var
	Bias    *autograd.Var
}

// NewLinear returns a layer with PyTorch's default init: weight and bias
// ~ U(±1/√In). It panics on non-positive sizes.
func NewLinear(rng *rand.Rand, in, out int, bias bool) *Linear {
	if in <= 0 || out <= 0 {
		panic("nn: NewLinear: bad configuration")
	}
	bound := 1 / math.Sqrt(float64(in))
	l := &Linear{In: in, Out: out, Weight: autograd.Param(uniform(rng, bound, out, in))}
	if bias {
		l.Bias = autograd.Param(uniform(rng, bound, out))
	}
	return l
}

// Forward applies the layer to x [N, In].
func (l *Linear) Forward(x *autograd.Var) *autograd.Var { return LinearOp(x, l.Weight, l.Bias) }

// Parameters returns weight (and bias when present).
func (l *Linear) Parameters() []Named {
	ps := []Named{{"weight", l.Weight}}
	if l.Bias != nil {
		ps = append(ps, Named{"bias", l.Bias})
	}
	return ps
}

// LinearOp returns x·wᵀ + b for x [N, In], w [Out, In], b [Out] or nil.
func LinearOp(x, w, b *autograd.Var) *autograd.Var {
	xs, ws := x.Value.Shape, w.Value.Shape
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] || xs[0] <= 0 || ws[0] <= 0 || xs[1] <= 0 {
		shapePanic("linear", "input %v does not fit weight %v", xs, ws)
	}
	n, in, out := xs[0], xs[1], ws[0]
	if b != nil && b.Value.Len() != out {
		shapePanic("linear", "bias has %d elements, want %d", b.Value.Len(), out)
	}
	y := tensor.New(n, out)
	if b != nil {
		for i := 0; i < n; i++ {
			copy(y.Data[i*out:(i+1)*out], b.Value.Data)
		}
	}
	beta := float32(0)
	if b != nil {
		beta = 1
	}
	kernel.Sgemm(false, true, n, out, in, 1, x.Value.Data, in, w.Value.Data, in, beta, y.Data, out)
	return autograd.Result(y, func(g *tensor.Tensor) {
		if x.RequiresGrad() {
			dx := tensor.New(n, in)
			kernel.Sgemm(false, false, n, in, out, 1, g.Data, out, w.Value.Data, in, 0, dx.Data, in)
			x.AccumGrad(dx)
		}
		if w.RequiresGrad() {
			dw := tensor.New(out, in)
			kernel.Sgemm(true, false, out, in, n, 1, g.Data, out, x.Value.Data, in, 0, dw.Data, in)
			w.AccumGrad(dw)
		}
		if b != nil && b.RequiresGrad() {
			db := tensor.New(out)
			for i := 0; i < n; i++ {
				for j, v := range g.Data[i*out : (i+1)*out] {
					db.Data[j] += v
				}
			}
			b.AccumGrad(db)
		}
	}, x, w, b)
}
