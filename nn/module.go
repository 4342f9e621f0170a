package nn

import (
	"fmt"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

// Module is a layer or a network: it maps one input Var to one output Var.
type Module interface {
	Forward(x *autograd.Var) *autograd.Var
}

// Activation is what a Site applies instead of a plain ReLU.
type Activation interface {
	Apply(x *autograd.Var) *autograd.Var
}

// Named is a parameter with its dotted name.
type Named struct {
	Name string
	Var  *autograd.Var
}

// NamedTensor is a buffer (non-trainable state) with its dotted name.
type NamedTensor struct {
	Name   string
	Tensor *tensor.Tensor
	// Optional buffers may be missing from a state dict being loaded
	// (one written before they existed); they then keep their value.
	Optional bool
}

// ParamHolder is implemented by modules and activations that own trainable
// parameters. Names are local ("weight", "bias"); the helpers prefix them.
type ParamHolder interface {
	Parameters() []Named
}

// BufferHolder is implemented by modules and activations that own
// non-trainable state saved in the state dict ("running_mean"). The
// returned tensors are live: loading a state dict copies into them.
type BufferHolder interface {
	Buffers() []NamedTensor
}

// ModeSetter is implemented by modules whose behaviour differs between
// training and evaluation (BatchNorm2d, Dropout).
type ModeSetter interface {
	SetTraining(training bool)
}

// ReLUCounter is implemented by activations that keep some ReLUs: it
// returns how many are kept per image.
type ReLUCounter interface {
	ReLUCount() int
}

// ShapeError reports an input of the wrong shape to an op. Ops panic with
// it; Graph.Run turns it into an ordinary error.
type ShapeError struct {
	Op  string
	Msg string
}

// Error formats the op and message.
func (e *ShapeError) Error() string { return fmt.Sprintf("nn: %s: %s", e.Op, e.Msg) }

// shapePanic panics with a *ShapeError.
func shapePanic(op, format string, args ...any) {
	panic(&ShapeError{Op: op, Msg: fmt.Sprintf(format, args...)})
}

// need4D checks that x is [N,C,H,W] with N, C, H, W > 0.
func need4D(op string, x *autograd.Var) (n, c, h, w int) {
	s := x.Value.Shape
	if len(s) != 4 {
		shapePanic(op, "want a 4-D [N,C,H,W] input, got shape %v", s)
	}
	for _, d := range s {
		if d <= 0 {
			shapePanic(op, "empty input shape %v", s)
		}
	}
	return s[0], s[1], s[2], s[3]
}
