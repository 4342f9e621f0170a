package nn

import (
	"math/rand"

	"github.com/autorep/autorep/autograd"
)

// MultiInput is implemented by modules that take several inputs in a
// Graph (Add). Graph calls ForwardN when a node lists more than one input.
type MultiInput interface {
	ForwardN(xs []*autograd.Var) *autograd.Var
}

// Add sums its inputs (of equal shapes); the residual connection.
type Add struct{}

// Forward with a single input is the identity (a sum of one term).
func (Add) Forward(x *autograd.Var) *autograd.Var { return x }

// ForwardN returns the elementwise sum of xs.
func (Add) ForwardN(xs []*autograd.Var) *autograd.Var {
	if len(xs) == 0 {
		shapePanic("add", "no inputs")
	}
	y := xs[0]
	for _, x := range xs[1:] {
		y = Plus(y, x)
	}
	return y
}

// Flatten reshapes [N, ...] to [N, prod(...)], like torch.nn.Flatten.
type Flatten struct{}

// Forward flattens x.
func (Flatten) Forward(x *autograd.Var) *autograd.Var { return FlattenOp(x) }

// Dropout zeroes elements with probability P during training (scaling the
// rest by 1/(1−P)) and is the identity in evaluation mode.
type Dropout struct {
	P        float32
	Training bool
	Rng      *rand.Rand
}

// NewDropout returns a dropout layer in training mode drawing from a
// generator seeded with seed.
func NewDropout(p float32, seed int64) *Dropout {
	return &Dropout{P: p, Training: true, Rng: rand.New(rand.NewSource(seed))}
}

// Forward applies dropout in training mode.
func (d *Dropout) Forward(x *autograd.Var) *autograd.Var {
	if !d.Training || d.P == 0 {
		return x
	}
	if d.Rng == nil {
		d.Rng = rand.New(rand.NewSource(1))
	}
	return DropoutOp(x, d.P, d.Rng)
}

// SetTraining turns dropout on or off.
func (d *Dropout) SetTraining(t bool) { d.Training = t }
