package kernel

import "github.com/autorep/autorep/kernel/ref"

// Conv is a 2-D convolution of fixed shape; create it once per shape.
type Conv struct{ r *ref.Conv }

// NewConv returns a convolution for p; it panics if p is invalid.
func NewConv(p ConvParams) *Conv { return &Conv{r: ref.NewConv(p)} }

// Params returns the (normalised) parameters of c.
func (c *Conv) Params() ConvParams { return c.r.Params() }

// Forward computes y = conv(x, w) + bias (bias may be nil).
func (c *Conv) Forward(x, w, bias, y []float32) { c.r.Forward(x, w, bias, y) }

// BackwardData computes dx from dy and w (dx overwritten).
func (c *Conv) BackwardData(dy, w, dx []float32) { c.r.BackwardData(dy, w, dx) }

// BackwardWeights computes dw and, if not nil, dbias (overwritten).
func (c *Conv) BackwardWeights(x, dy, dw, dbias []float32) { c.r.BackwardWeights(x, dy, dw, dbias) }
