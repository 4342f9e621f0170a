package onnxmodel

import (
	"fmt"
	"math"
	"slices"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/onnx"
)

// affine is a per-channel y = scale·x + shift made of Mul, Div, Add and
// Sub by constants (such as an input normalisation (x − mean) / std). It
// waits on a value until a neighbouring linear layer absorbs it: the
// layer before (its weights and bias scale), the Conv or Gemm after (its
// weights scale per input channel, its bias takes the shift), else it
// becomes a depthwise 1×1 convolution of its own (materialize). Kept in
// float64 so chained constants round once.
type affine struct {
	scale, shift []float64 // one per channel (dimension 1)
	from         string    // the ONNX node that started it, for naming
}

// hasShift reports whether v carries an affine with a non-zero shift.
func (v *value) hasShift() bool { return v.aff != nil && v.aff.hasShift() }

// foldInto returns the weights and bias of a linear layer applied after a:
// w [out][in][per] (in = input channels per group; a grouped layer's
// output o reads channels (o/(out/groups))·in …) scales by the scale of
// its input channel, b gains Σ w·shift (b nil and a non-zero shift: a new
// bias). The inputs are not modified.
func (a *affine) foldInto(w, b []float32, out, in, per int) ([]float32, []float32) {
	groups := len(a.scale) / in
	nw := make([]float32, len(w))
	bias := make([]float64, out)
	for o := 0; o < out; o++ {
		g := o / (out / groups)
		for i := 0; i < in; i++ {
			ch := g*in + i
			for k := 0; k < per; k++ {
				idx := (o*in+i)*per + k
				nw[idx] = float32(float64(w[idx]) * a.scale[ch])
				bias[o] += float64(w[idx]) * a.shift[ch]
			}
		}
	}
	if b == nil && !a.hasShift() {
		return nw, nil
	}
	nb := make([]float32, out)
	for o := range nb {
		if b != nil {
			bias[o] += float64(b[o])
		}
		nb[o] = float32(bias[o])
	}
	return nw, nb
}

// materialize gives a pending affine of v its own layer, a depthwise 1×1
// convolution (weights scale, bias shift): the form every consumer that
// cannot absorb it reads. v then names that layer's output; all names
// bound to v see it. n is the consuming node, for errors.
func (c *converter) materialize(n *onnx.Node, v *value) error {
	if v.aff == nil {
		return nil
	}
	if v.aff.identity() {
		v.aff = nil
		return nil
	}
	if len(v.shape) != 4 {
		return nodeError(n, "the constant Mul/Add/Sub/Div %q on a %v tensor must fold into a neighbouring Gemm/MatMul (supported: a Gemm or MatMul right before or after it)", v.aff.from, v.shape)
	}
	ch := v.shape[1]
	op := nn.NewConv2d(c.rng, ch, ch, 1, 1, 0, ch, true)
	for i := 0; i < ch; i++ {
		op.Weight.Value.Data[i] = float32(v.aff.scale[i])
		op.Bias.Value.Data[i] = float32(v.aff.shift[i])
	}
	// The affine acts before a pending Pad: its layer reads the unpadded tensor.
	h, w := v.pad.unpadded(v.shape)
	sh := []int{1, ch, h, w}
	name := c.uniqueName(v.aff.from + "/affine")
	idx := c.g.Add(name, op, v.node)
	c.shapes = append(c.shapes, sh)
	c.notes = append(c.notes, fmt.Sprintf("constants from %q (read by %q) fold into no neighbouring layer: depthwise 1×1 conv %s", v.aff.from, n.Name, name))
	v.node, v.aff = idx, nil
	return nil
}

// arith converts Mul, Div, Add and Sub with one constant input (a scalar
// or one value per channel), and Add of two computed tensors.
func (c *converter) arith(n *onnx.Node) error {
	if err := checkAttrs(n); err != nil {
		return err
	}
	if len(n.Inputs) != 2 {
		return nodeError(n, "%d inputs, want 2", len(n.Inputs))
	}
	ci := -1
	for i := 0; i < 2; i++ {
		if _, ok := c.consts[n.Inputs[i]]; ok {
			ci = i
		}
	}
	if ci < 0 {
		if n.OpType == "Add" {
			return c.addTensors(n)
		}
		return nodeError(n, "%s of two computed tensors is not supported (supported: one input a constant scalar or per-channel vector; Mul also inside the mixed activation m·Relu(x) + (1−m)·p(x) that autorep export writes)", n.OpType)
	}
	x, err := c.get(n, 1-ci)
	if err != nil {
		return err
	}
	k, err := c.channelConst(n, ci, x)
	if err != nil {
		return err
	}
	// A pending Pad came first: a scale commutes with its zeros, a shift
	// does not, so the Pad (and any affine before it) gets its layer first.
	if x.pad.any() && (n.OpType == "Add" || n.OpType == "Sub") && slices.ContainsFunc(k, func(v float64) bool { return v != 0 }) {
		if err := c.materializeAll(n, x); err != nil {
			return err
		}
	}
	a := &affine{scale: make([]float64, len(k)), shift: make([]float64, len(k)), from: n.Name}
	if x.aff != nil {
		copy(a.scale, x.aff.scale)
		copy(a.shift, x.aff.shift)
		a.from = x.aff.from
	} else {
		for i := range a.scale {
			a.scale[i] = 1
		}
	}
	for i, v := range k {
		switch {
		case n.OpType == "Mul":
			a.scale[i], a.shift[i] = a.scale[i]*v, a.shift[i]*v
		case n.OpType == "Div" && ci == 1:
			if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return nodeError(n, "divisor %v in channel %d; supported: finite, non-zero constants", v, i)
			}
			a.scale[i], a.shift[i] = a.scale[i]/v, a.shift[i]/v
		case n.OpType == "Div":
			return nodeError(n, "a constant divided by a tensor is not supported (not affine; supported: tensor / constant)")
		case n.OpType == "Add":
			a.shift[i] += v
		case ci == 1: // x − k
			a.shift[i] -= v
		default: // k − x
			a.scale[i], a.shift[i] = -a.scale[i], v-a.shift[i]
		}
		// The folded weights are float32: the combined constants must be too.
		if !(math.Abs(a.scale[i]) <= math.MaxFloat32 && math.Abs(a.shift[i]) <= math.MaxFloat32) {
			return nodeError(n, "the combined constant affine overflows in channel %d", i)
		}
	}
	if a.identity() {
		c.vals[n.Outputs[0]] = &value{node: x.node, shape: x.shape, pad: x.pad}
		return nil
	}
	if x.aff == nil && !x.pad.any() && c.foldBack(n, x, a) {
		return nil
	}
	c.vals[n.Outputs[0]] = &value{node: x.node, shape: x.shape, pad: x.pad, aff: a}
	return nil
}

// channelConst returns input i of n, a constant that broadcasts over x's
// [N,C,H,W] (or [N,F]) shape one value per channel (feature), expanded to
// C (F) values.
func (c *converter) channelConst(n *onnx.Node, i int, x *value) ([]float64, error) {
	v, dims, err := c.constant(n, i, false)
	if err != nil {
		return nil, err
	}
	r := len(x.shape)
	full := make([]int64, r)
	for j := range full {
		full[j] = 1
	}
	ok := (r == 4 || r == 2) && len(dims) <= r
	for j := 0; ok && j < len(dims); j++ {
		full[r-len(dims)+j] = dims[j]
	}
	ch := x.shape[1]
	for j, d := range full {
		if j == 1 {
			ok = ok && (d == 1 || d == int64(ch))
		} else {
			ok = ok && d == 1
		}
	}
	if !ok || (len(v) != 1 && len(v) != ch) {
		return nil, nodeError(n, "constant %q of dims %v does not broadcast one value per channel over a %v tensor (supported: a scalar, [C,1,1] or [1,C,1,1] for [N,C,H,W], [F] for [N,F])", n.Inputs[i], dims, x.shape)
	}
	out := make([]float64, ch)
	for j := range out {
		out[j] = float64(v[min(j, len(v)-1)])
	}
	return out, nil
}

// foldBack folds a into the layer that computes x when that layer's output
// is read by n alone: a Conv or Gemm/MatMul (weights and bias per output
// channel) or a batch norm (its weight and bias). It reports whether it did.
func (c *converter) foldBack(n *onnx.Node, x *value, a *affine) bool {
	if x.node < 0 {
		return false
	}
	reads := 0
	for name, v := range c.vals {
		if v.node == x.node {
			reads += c.readers[name]
		}
	}
	if reads != 1 {
		return false
	}
	switch op := c.g.Nodes[x.node].Op.(type) {
	case *nn.Conv2d:
		a.scaleLayer(op.Weight.Value.Data, &op.Bias, op.OutC)
	case *nn.Linear:
		a.scaleLayer(op.Weight.Value.Data, &op.Bias, op.Out)
	case *nn.BatchNorm2d:
		a.scaleLayer(op.Weight.Value.Data, &op.Bias, op.C)
	default:
		return false
	}
	c.vals[n.Outputs[0]] = x
	return true
}

// scaleLayer applies a to the output of a layer with out channels: the
// weights w ([out][…]) of channel o scale by a.scale[o], the bias becomes
// b·scale + shift (a new bias if the layer had none and a shifts).
func (a *affine) scaleLayer(w []float32, bias **autograd.Var, out int) {
	if *bias == nil && a.hasShift() {
		*bias = param(make([]float32, out), out)
	}
	per := len(w) / out
	for o := 0; o < out; o++ {
		for k := o * per; k < (o+1)*per; k++ {
			w[k] = float32(float64(w[k]) * a.scale[o])
		}
		if *bias != nil {
			b := (*bias).Value.Data
			b[o] = float32(float64(b[o])*a.scale[o] + a.shift[o])
		}
	}
}

// hasShift reports whether a has a non-zero shift.
func (a *affine) hasShift() bool {
	for _, s := range a.shift {
		if s != 0 {
			return true
		}
	}
	return false
}

// identity reports whether a is exactly y = x (e.g. a dataset
// normalisation undone and redone with the same constants).
func (a *affine) identity() bool {
	for i := range a.scale {
		if a.scale[i] != 1 || a.shift[i] != 0 {
			return false
		}
	}
	return true
}
