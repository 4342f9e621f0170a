// Package onnxmodel converts between ONNX models (package onnx) and
// autorep models (package models): Import maps a CNN exported by
// torch.onnx.export (opsets 11–17) onto an autorep architecture, with every
// Relu a named, maskable ReLU site; Export writes an autorep model, reduced
// or not, as an opset-13 ONNX graph whose mixed activations use only Mul
// and Add.
package onnxmodel

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/onnx"
	"github.com/autorep/autorep/tensor"
)

// Supported lists the ONNX operators Import reads (default domain).
var Supported = []string{"Add", "AveragePool", "BatchNormalization", "Concat", "Constant", "Conv", "Div", "Dropout", "Flatten",
	"Gather", "Gemm", "GlobalAveragePool", "Identity", "MatMul", "MaxPool", "Mul", "Pad", "Relu", "Reshape", "Shape", "Sub", "Unsqueeze"}

// Opset range Import accepts for the default domain.
const (
	MinOpset = 11
	MaxOpset = 17
)

// value is an ONNX tensor of the graph being converted: the output of an
// nn node (-1 = the graph input) with its shape (batch 1, padding
// included), then a pending constant affine (Mul/Div/Add/Sub) and a
// pending zero padding of H and W from Pad nodes, which the consuming
// Conv or AveragePool absorbs into its window and any other layer gets as
// layers of their own first (plain).
type value struct {
	node  int
	shape []int
	pad   pads
	aff   *affine // pending constant affine, applied before pad
}

// pads is a zero padding of H and W: top, left, bottom, right.
type pads [4]int

// any reports whether p pads anything.
func (p pads) any() bool { return p != pads{} }

// unpadded returns the height and width of a tensor of shape sh without p.
func (p pads) unpadded(sh []int) (int, int) { return sh[2] - p[0] - p[2], sh[3] - p[1] - p[3] }

// converter turns an ONNX graph into an nn.Graph, one node at a time.
type converter struct {
	g      *nn.Graph
	consts map[string]*onnx.Tensor
	vals   map[string]*value
	shapes [][]int // output shape of each nn node (batch 1)
	in     [3]int
	names  map[string]bool
	rng    *rand.Rand
	syms   map[string]symInts       // shape arithmetic of x.view(x.size(0), -1)
	skip   map[*onnx.Node]bool      // nodes folded into a mixed activation
	mixed  map[*onnx.Node]*mixedAct // Relu node → its mixed activation
	// readers counts the nodes (and graph outputs) reading each tensor,
	// so a constant affine folds into a layer only if nothing else reads it.
	readers map[string]int
	// notes says which layers the conversion added (constants and Pads
	// that fold nowhere) and which windows it rewrote, for Report.
	notes []string
}

// nodeError is the error for an ONNX node that cannot be converted.
func nodeError(n *onnx.Node, format string, a ...any) error {
	return fmt.Errorf("onnx node %q (%s): %s", n.Name, n.OpType, fmt.Sprintf(format, a...))
}

// toGraph converts an ONNX model of a classifier to a generic nn.Graph.
// It returns the graph, the input shape C,H,W and the number of classes.
// pix, if not nil, is a constant affine applied to the input first (see
// Options.PixelMean).
// notes lists the layers the conversion added and the windows it rewrote.
func toGraph(m *onnx.Model, pix *affine) (g *nn.Graph, in [3]int, classes int, notes []string, err error) {
	g, in, out, notes, err := convertGraphWith(m, pix)
	if err != nil {
		return nil, in, 0, nil, err
	}
	if len(out) != 2 {
		return nil, in, 0, nil, fmt.Errorf("onnx: graph output %q has shape %v; want [N, classes]", m.Graph.Outputs[0].Name, out)
	}
	return g, in, out[1], notes, nil
}

// convertGraph converts an ONNX model to a generic nn.Graph. It returns
// the graph, the input shape C,H,W and the output shape (batch 1).
func convertGraph(m *onnx.Model) (*nn.Graph, [3]int, []int, error) {
	g, in, out, _, err := convertGraphWith(m, nil)
	return g, in, out, err
}

// convertGraphWith is convertGraph with a constant affine pix (nil: none)
// applied to the input first; it also returns the converter's notes.
func convertGraphWith(m *onnx.Model, pix *affine) (*nn.Graph, [3]int, []int, []string, error) {
	var in [3]int
	if op := m.Opset(); op < MinOpset || op > MaxOpset {
		return nil, in, nil, nil, fmt.Errorf("onnx: model imports opset %d of the default domain; supported: %d to %d (re-export with torch.onnx.export(..., opset_version=13))", op, MinOpset, MaxOpset)
	}
	g := m.Graph
	c := &converter{g: &nn.Graph{}, consts: map[string]*onnx.Tensor{}, vals: map[string]*value{}, syms: map[string]symInts{},
		names: map[string]bool{}, readers: map[string]int{}, rng: rand.New(rand.NewSource(1))}
	for _, t := range g.Initializers {
		c.consts[t.Name] = t
	}
	var input *onnx.ValueInfo
	for _, v := range g.Inputs {
		if _, ok := c.consts[v.Name]; ok {
			continue
		}
		if input != nil {
			return nil, in, nil, nil, fmt.Errorf("onnx: graph has several inputs (%q, %q); want one image batch", input.Name, v.Name)
		}
		input = v
	}
	if input == nil {
		return nil, in, nil, nil, fmt.Errorf("onnx: graph has no input")
	}
	if input.NotTensor || input.ElemType != onnx.Float || !input.HasShape || len(input.Shape) != 4 {
		return nil, in, nil, nil, fmt.Errorf("onnx: graph input %q must be a float tensor [N,C,H,W] (got type %v, shape %v)", input.Name, input.ElemType, input.Shape)
	}
	for i := 1; i < 4; i++ {
		d := input.Shape[i].Value
		if d <= 0 || d > 4096 {
			return nil, in, nil, nil, fmt.Errorf("onnx: graph input %q: dimension %d is %v; want fixed C, H, W", input.Name, i, input.Shape[i])
		}
		in[i-1] = int(d)
	}
	c.in = in
	c.vals[input.Name] = &value{node: -1, shape: []int{1, in[0], in[1], in[2]}}
	if pix != nil {
		if len(pix.scale) != 1 && len(pix.scale) != in[0] {
			return nil, in, nil, nil, fmt.Errorf("onnx: %d pixel mean/std values for %d input channels", len(pix.scale), in[0])
		}
		a := &affine{from: pix.from}
		for i := 0; i < in[0]; i++ {
			j := min(i, len(pix.scale)-1)
			a.scale, a.shift = append(a.scale, pix.scale[j]), append(a.shift, pix.shift[j])
		}
		c.vals[input.Name].aff = a
	}
	if err := c.findMixed(g); err != nil {
		return nil, in, nil, nil, err
	}
	for _, n := range g.Nodes {
		if !c.skip[n] {
			for _, i := range n.Inputs {
				c.readers[i]++
			}
		}
	}
	for _, o := range g.Outputs {
		c.readers[o.Name]++
	}
	for _, n := range g.Nodes {
		if c.skip[n] {
			continue
		}
		if n.Domain != "" && n.Domain != "ai.onnx" {
			return nil, in, nil, nil, nodeError(n, "operator of domain %q; supported: the default ONNX domain (%s)", n.Domain, strings.Join(Supported, ", "))
		}
		if err := c.convert(n); err != nil {
			return nil, in, nil, nil, err
		}
	}
	if len(g.Outputs) != 1 {
		return nil, in, nil, nil, fmt.Errorf("onnx: graph has %d outputs; want one (the logits)", len(g.Outputs))
	}
	out, ok := c.vals[g.Outputs[0].Name]
	if ok {
		// A constant affine or Pad still pending at the output gets its layer.
		if err := c.materializeAll(&onnx.Node{Name: g.Outputs[0].Name, OpType: "graph output"}, out); err != nil {
			return nil, in, nil, nil, err
		}
	}
	if !ok || len(c.g.Nodes) == 0 || out.node != len(c.g.Nodes)-1 || out.pad.any() {
		return nil, in, nil, nil, fmt.Errorf("onnx: graph output %q is not the result of the last layer", g.Outputs[0].Name)
	}
	if err := c.g.FillSiteShapes([]int{1, in[0], in[1], in[2]}); err != nil {
		return nil, in, nil, nil, fmt.Errorf("onnx: %w", err)
	}
	return c.g, in, out.shape, c.notes, nil
}

// get returns the value of input i of n, which must be a computed tensor.
func (c *converter) get(n *onnx.Node, i int) (*value, error) {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		return nil, nodeError(n, "missing input %d", i)
	}
	v, ok := c.vals[n.Inputs[i]]
	if !ok {
		if _, isConst := c.consts[n.Inputs[i]]; isConst {
			return nil, nodeError(n, "input %d (%q) is a constant; supported: a computed tensor there", i, n.Inputs[i])
		}
		return nil, nodeError(n, "input %q is not produced by an earlier node", n.Inputs[i])
	}
	return v, nil
}

// plain returns the value of input i of n with any pending constant affine
// given its own layer: the form layers that cannot absorb one read.
func (c *converter) plain(n *onnx.Node, i int) (*value, error) {
	v, err := c.get(n, i)
	if err != nil {
		return nil, err
	}
	return v, c.materializeAll(n, v)
}

// materializeAll gives a pending affine and then a pending Pad of v
// layers of their own.
func (c *converter) materializeAll(n *onnx.Node, v *value) error {
	if err := c.materialize(n, v); err != nil {
		return err
	}
	if !v.pad.any() {
		return nil
	}
	if len(v.shape) != 4 {
		return nodeError(n, "a Pad of a %v tensor", v.shape)
	}
	// Zero padding is the depthwise identity convolution with that
	// padding (convLayer rewrites an asymmetric one exactly).
	ch := v.shape[1]
	w := make([]float32, ch)
	for i := range w {
		w[i] = 1
	}
	op, err := c.convLayer(n, v, window{kh: 1, kw: 1, s: 1, dh: 1, dw: 1}, w, nil, ch)
	if err != nil {
		return err
	}
	name := c.uniqueName(n.Name + "/pad")
	idx := c.g.Add(name, op, v.node)
	c.notes = append(c.notes, fmt.Sprintf("Pad %v before %q (%s): depthwise identity conv %s", [4]int(v.pad), n.Name, n.OpType, name))
	c.shapes = append(c.shapes, slices.Clone(v.shape))
	v.node, v.pad = idx, pads{}
	return nil
}

// constant returns input i of n as floats with its dims; optional inputs
// that are absent give nil.
func (c *converter) constant(n *onnx.Node, i int, optional bool) ([]float32, []int64, error) {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		if optional {
			return nil, nil, nil
		}
		return nil, nil, nodeError(n, "missing input %d", i)
	}
	t, ok := c.consts[n.Inputs[i]]
	if !ok {
		return nil, nil, nodeError(n, "input %d (%q) must be a constant (initializer or Constant); a computed tensor there is not supported", i, n.Inputs[i])
	}
	v, err := t.Floats()
	if err != nil {
		return nil, nil, nodeError(n, "%v", err)
	}
	return v, t.Dims, nil
}

// add appends an nn node reading from and binds n's first output to it.
func (c *converter) add(n *onnx.Node, op nn.Module, from ...int) error {
	name := c.nodeName(n)
	idx := c.g.Add(name, op, from...)
	ins := make([][]int, len(from))
	for i, f := range from {
		if f < 0 {
			ins[i] = []int{1, c.in[0], c.in[1], c.in[2]}
		} else {
			ins[i] = c.shapes[f]
		}
	}
	for _, s := range ins[1:] {
		if !slices.Equal(s, ins[0]) {
			return nodeError(n, "input shapes %v and %v differ; supported: equal shapes (no broadcasting)", ins[0], s)
		}
	}
	out, err := nn.OutShape(op, ins[0])
	if err != nil {
		return nodeError(n, "%v", err)
	}
	c.shapes = append(c.shapes, out)
	if len(n.Outputs) == 0 {
		return nodeError(n, "no output")
	}
	c.vals[n.Outputs[0]] = &value{node: idx, shape: out}
	return nil
}

// nodeName derives a dotted name from a torch scope name
// ("/layer2/layer2.0/shortcut/shortcut.0/Conv" → "layer2.0.shortcut.0.conv"),
// unique within the graph.
func (c *converter) nodeName(n *onnx.Node) string {
	if strings.Trim(n.Name, "/") == "" {
		return c.uniqueName(strings.ToLower(n.OpType))
	}
	return c.uniqueName(n.Name)
}

// uniqueName is nodeName for a scope name.
func (c *converter) uniqueName(scope string) string {
	var parts []string
	for _, p := range strings.Split(scope, "/") {
		if p == "" {
			continue
		}
		if k := len(parts); k > 0 && strings.HasPrefix(p, parts[k-1]+".") {
			parts[k-1] = p
			continue
		}
		parts = append(parts, p)
	}
	name := strings.ToLower(strings.Join(parts, "."))
	name = strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' {
			return r
		}
		return '_'
	}, name)
	if name == "" {
		name = "node"
	}
	base := name
	for i := 1; c.names[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	c.names[name] = true
	return name
}

// ints returns an INTS attribute (def if absent).
func ints(n *onnx.Node, name string, def []int64) ([]int64, error) {
	a := n.Attr(name)
	if a == nil {
		return def, nil
	}
	if a.Type != onnx.AttrInts {
		return nil, nodeError(n, "attribute %s has type %d, want INTS", name, a.Type)
	}
	return a.Ints, nil
}

// intAttr returns an INT attribute (def if absent).
func intAttr(n *onnx.Node, name string, def int64) (int64, error) {
	a := n.Attr(name)
	if a == nil {
		return def, nil
	}
	if a.Type != onnx.AttrInt {
		return 0, nodeError(n, "attribute %s has type %d, want INT", name, a.Type)
	}
	return a.I, nil
}

// floatAttr returns a FLOAT attribute (def if absent).
func floatAttr(n *onnx.Node, name string, def float32) (float32, error) {
	a := n.Attr(name)
	if a == nil {
		return def, nil
	}
	if a.Type != onnx.AttrFloat {
		return 0, nodeError(n, "attribute %s has type %d, want FLOAT", name, a.Type)
	}
	return a.F, nil
}

// checkAttrs rejects attributes outside known.
func checkAttrs(n *onnx.Node, known ...string) error {
	for _, a := range n.Attributes {
		if !slices.Contains(known, a.Name) {
			return nodeError(n, "attribute %q is not supported (supported: %s)", a.Name, strings.Join(known, ", "))
		}
	}
	return nil
}

// param makes a trainable parameter from values and shape.
func param(v []float32, shape ...int) *autograd.Var {
	return autograd.Param(tensor.FromData(v, shape...))
}

// convert appends the nn node(s) of one ONNX node.
func (c *converter) convert(n *onnx.Node) error {
	if len(n.Outputs) == 0 || n.Outputs[0] == "" {
		return nodeError(n, "no output")
	}
	if len(n.Inputs) == 0 && n.OpType != "Constant" {
		return nodeError(n, "no inputs")
	}
	switch n.OpType {
	case "Constant":
		if err := checkAttrs(n, "value"); err != nil {
			return err
		}
		a := n.Attr("value")
		if a == nil || a.T == nil || len(n.Outputs) != 1 {
			return nodeError(n, "supported: a Constant with a tensor 'value'")
		}
		c.consts[n.Outputs[0]] = a.T
		return nil
	case "Identity", "Dropout":
		if err := checkAttrs(n, "seed", "ratio"); err != nil {
			return err
		}
		if len(n.Inputs) > 1 && n.Inputs[1] != "" || len(n.Outputs) > 1 && n.Outputs[1] != "" {
			return nodeError(n, "only the inference form (one input, one output) is supported")
		}
		if t, ok := c.consts[n.Inputs[0]]; ok && n.OpType == "Identity" {
			c.consts[n.Outputs[0]] = t
			return nil
		}
		v, err := c.get(n, 0)
		if err != nil {
			return err
		}
		c.vals[n.Outputs[0]] = v
		return nil
	case "Conv":
		return c.conv(n)
	case "BatchNormalization":
		return c.batchNorm(n)
	case "Relu":
		return c.relu(n)
	case "Add", "Mul", "Sub", "Div":
		return c.arith(n)
	case "Gemm", "MatMul":
		return c.linear(n)
	case "MaxPool", "AveragePool":
		return c.pool(n)
	case "GlobalAveragePool":
		x, err := c.plain(n, 0)
		if err != nil {
			return err
		}
		return c.add(n, &nn.GlobalAvgPool{}, x.node)
	case "Flatten":
		if err := checkAttrs(n, "axis"); err != nil {
			return err
		}
		if ax, err := intAttr(n, "axis", 1); err != nil || ax != 1 {
			return nodeError(n, "axis %d is not supported (supported: 1)", ax)
		}
		return c.flatten(n)
	case "Reshape":
		if err := checkAttrs(n, "allowzero"); err != nil {
			return err
		}
		x, err := c.get(n, 0)
		if err != nil {
			return err
		}
		if len(n.Inputs) < 2 {
			return nodeError(n, "missing target shape")
		}
		sh, err := c.ints(n, n.Inputs[1])
		if err != nil {
			return err
		}
		rest := tensor.Numel(x.shape[1:])
		if len(sh.v) != 2 || !(sh.v[0] == 0 || sh.v[0] == -1 || sh.v[0] == 1 || sh.v[0] == batchDim) || !(sh.v[1] == -1 || sh.v[1] == int64(rest)) {
			return nodeError(n, "target shape %v is not supported (supported: [N, -1], a flatten of %v)", sh, x.shape)
		}
		return c.flatten(n)
	case "Pad":
		return c.padOp(n)
	case "Shape", "Gather", "Unsqueeze", "Concat":
		return c.shapeOp(n)
	}
	return nodeError(n, "operator not supported; supported: %s", strings.Join(Supported, ", "))
}

func (c *converter) flatten(n *onnx.Node) error {
	x, err := c.plain(n, 0)
	if err != nil {
		return err
	}
	if len(x.shape) == 2 {
		c.vals[n.Outputs[0]] = x
		return nil
	}
	return c.add(n, &nn.Flatten{}, x.node)
}

func (c *converter) conv(n *onnx.Node) error {
	if err := checkAttrs(n, "auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"); err != nil {
		return err
	}
	x, err := c.get(n, 0)
	if err != nil {
		return err
	}
	w, wd, err := c.constant(n, 1, false)
	if err != nil {
		return err
	}
	b, bd, err := c.constant(n, 2, true)
	if err != nil {
		return err
	}
	if len(x.shape) != 4 || len(wd) != 4 || wd[2] <= 0 || wd[3] <= 0 {
		return nodeError(n, "input %v, weight %v; supported: 2-D convolution of [N,C,H,W]", x.shape, wd)
	}
	win, err := readWindow(n, wd[2], wd[3], x.shape[2], x.shape[3])
	if err != nil {
		return err
	}
	groups, err := intAttr(n, "group", 1)
	if err != nil {
		return err
	}
	inC, outC := x.shape[1], int(wd[0])
	if groups <= 0 || inC%int(groups) != 0 || outC%int(groups) != 0 || int(wd[1]) != inC/int(groups) {
		return nodeError(n, "weight %v does not fit %d input channels in %d groups", wd, inC, groups)
	}
	if b != nil && (len(bd) != 1 || int(bd[0]) != outC) {
		return nodeError(n, "bias dims %v, want [%d]", bd, outC)
	}
	op, err := c.convLayer(n, x, win, w, b, int(groups))
	if err != nil {
		return err
	}
	if op.Kernel != win.kh || op.Kernel != win.kw {
		c.notes = append(c.notes, fmt.Sprintf("%q (Conv): %s rewritten as a %d×%d kernel with padding %d", n.Name, win.describe(), op.Kernel, op.Kernel, op.Pad))
	}
	return c.add(n, op, x.node)
}

// convLayer builds the nn.Conv2d of window win (plus the pending Pad of x)
// with weights w [O, I/groups, kh, kw] and bias b (nil: none). A square,
// undilated, equally padded window maps directly; any other is rewritten
// exactly as a square kernel (squareEmbedding). A pending affine of x is
// folded into the weights and bias where exact, else added as its own
// layer first (x.node then names it).
func (c *converter) convLayer(n *onnx.Node, x *value, win window, w, b []float32, groups int) (*nn.Conv2d, error) {
	win.top, win.left, win.bottom, win.right = win.top+x.pad[0], win.left+x.pad[1], win.bottom+x.pad[2], win.right+x.pad[3]
	inH, inW := x.pad.unpadded(x.shape)
	if max(win.top, win.left, win.bottom, win.right) > maxPad {
		return nil, nodeError(n, "pads %v (with Pad nodes before) exceed %d", [4]int{win.top, win.left, win.bottom, win.right}, maxPad)
	}
	inC, outC := x.shape[1], len(w)/(x.shape[1]/groups*win.kh*win.kw)
	if x.aff != nil {
		// A scale commutes with zero padding; a shift only folds when
		// nothing is padded (padded zeros would otherwise shift too).
		if x.hasShift() && win.top+win.left+win.bottom+win.right != 0 {
			if err := c.materialize(n, x); err != nil {
				return nil, err
			}
		} else {
			w, b = x.aff.foldInto(w, b, outC, inC/groups, win.kh*win.kw)
		}
	}
	k, p, stride := win.kh, win.top, win.s
	if !win.symmetric() {
		kk, pp, oh, ow, ok := squareEmbedding(win, inH, inW)
		if !ok {
			return nil, nodeError(n, "%s on a %d×%d input has no equivalent square kernel with equal padding (what autorep's convolution and its secure executor compute); supported: square kernels with equal padding, or windows an up-to-%d×%d square kernel can express",
				win.describe(), inH, inW, maxKernel, maxKernel)
		}
		w, k, p = embedKernel(w, win, kk, oh, ow), kk, pp
	}
	op := nn.NewConv2d(c.rng, inC, outC, k, stride, p, groups, b != nil)
	copy(op.Weight.Value.Data, w)
	if b != nil {
		copy(op.Bias.Value.Data, b)
	}
	return op, nil
}

func (c *converter) batchNorm(n *onnx.Node) error {
	if err := checkAttrs(n, "epsilon", "momentum", "training_mode", "spatial"); err != nil {
		return err
	}
	if tm, _ := intAttr(n, "training_mode", 0); tm != 0 {
		return nodeError(n, "training_mode %d is not supported (export the model in eval mode)", tm)
	}
	for _, o := range n.Outputs[1:] {
		if o != "" {
			return nodeError(n, "extra outputs (running statistics) are not supported (export in eval mode)")
		}
	}
	x, err := c.plain(n, 0)
	if err != nil {
		return err
	}
	if len(x.shape) != 4 {
		return nodeError(n, "input %v; supported: a [N,C,H,W] tensor", x.shape)
	}
	ch := x.shape[1]
	bn := nn.NewBatchNorm2d(ch)
	eps, err := floatAttr(n, "epsilon", 1e-5)
	if err != nil {
		return err
	}
	bn.Eps = eps
	dst := []*tensor.Tensor{bn.Weight.Value, bn.Bias.Value, bn.RunningMean, bn.RunningVar}
	for i, t := range dst {
		v, dims, err := c.constant(n, i+1, false)
		if err != nil {
			return err
		}
		if len(v) != ch || len(dims) != 1 {
			return nodeError(n, "input %d has dims %v, want [%d]", i+1, dims, ch)
		}
		copy(t.Data, v)
	}
	bn.Training = false
	return c.add(n, bn, x.node)
}

func (c *converter) relu(n *onnx.Node) error {
	if err := checkAttrs(n); err != nil {
		return err
	}
	x, err := c.plain(n, 0)
	if err != nil {
		return err
	}
	site := &nn.Site{}
	if err := c.add(n, site, x.node); err != nil {
		return err
	}
	site.Name = c.g.Nodes[len(c.g.Nodes)-1].Name
	if mx := c.mixed[n]; mx != nil {
		pm, err := mx.polyMask(x.shape[1:])
		if err != nil {
			return nodeError(n, "mixed activation: %v", err)
		}
		site.Act = pm
		c.vals[mx.out] = c.vals[n.Outputs[0]]
	}
	return nil
}

// linearOp returns the nn.Linear an nn node holds, or nil.
func (c *converter) linearOp(v *value) *nn.Linear {
	if v.node < 0 {
		return nil
	}
	l, _ := c.g.Nodes[v.node].Op.(*nn.Linear)
	return l
}

// addTensors converts the Add of two computed tensors of equal shape.
func (c *converter) addTensors(n *onnx.Node) error {
	a, err := c.plain(n, 0)
	if err != nil {
		return err
	}
	b, err := c.plain(n, 1)
	if err != nil {
		return err
	}
	return c.add(n, &nn.Add{}, a.node, b.node)
}

func (c *converter) linear(n *onnx.Node) error {
	if err := checkAttrs(n, "alpha", "beta", "transA", "transB"); err != nil {
		return err
	}
	x, err := c.get(n, 0)
	if err != nil {
		return err
	}
	if len(x.shape) != 2 {
		return nodeError(n, "input shape %v; supported: [N, features] (insert a Flatten)", x.shape)
	}
	w, wd, err := c.constant(n, 1, false)
	if err != nil {
		return err
	}
	transB := int64(0)
	var b []float32
	var bd []int64
	if n.OpType == "Gemm" {
		alpha, _ := floatAttr(n, "alpha", 1)
		beta, _ := floatAttr(n, "beta", 1)
		transA, _ := intAttr(n, "transA", 0)
		if transB, err = intAttr(n, "transB", 0); err != nil {
			return err
		}
		if alpha != 1 || beta != 1 || transA != 0 {
			return nodeError(n, "alpha %v, beta %v, transA %d are not supported (supported: 1, 1, 0)", alpha, beta, transA)
		}
		if b, bd, err = c.constant(n, 2, true); err != nil {
			return err
		}
	} else if len(n.Inputs) != 2 {
		return nodeError(n, "%d inputs, want 2", len(n.Inputs))
	}
	if len(wd) != 2 {
		return nodeError(n, "weight dims %v, want 2-D", wd)
	}
	in, out := int(wd[0]), int(wd[1])
	if transB == 1 {
		in, out = out, in
	}
	if in != x.shape[1] {
		return nodeError(n, "weight dims %v do not fit input %v", wd, x.shape)
	}
	l := nn.NewLinear(c.rng, in, out, b != nil)
	if transB == 1 {
		copy(l.Weight.Value.Data, w)
	} else {
		for i := 0; i < in; i++ {
			for o := 0; o < out; o++ {
				l.Weight.Value.Data[o*in+i] = w[i*out+o]
			}
		}
	}
	if b != nil {
		if len(b) != out || len(bd) == 0 || int(bd[len(bd)-1]) != out {
			return nodeError(n, "bias dims %v are not supported (supported: [%d] or [1,%d])", bd, out, out)
		}
		copy(l.Bias.Value.Data, b)
	}
	if x.aff != nil {
		// A per-feature affine before a dense layer always folds exactly.
		var bias []float32
		if l.Bias != nil {
			bias = l.Bias.Value.Data
		}
		nw, nb := x.aff.foldInto(l.Weight.Value.Data, bias, out, in, 1)
		copy(l.Weight.Value.Data, nw)
		if nb != nil {
			l.Bias = param(nb, out)
		}
	}
	return c.add(n, l, x.node)
}

func (c *converter) pool(n *onnx.Node) error {
	if err := checkAttrs(n, "auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "storage_order", "strides"); err != nil {
		return err
	}
	x, err := c.get(n, 0)
	if err != nil {
		return err
	}
	if len(x.shape) != 4 {
		return nodeError(n, "input shape %v, want [N,C,H,W]", x.shape)
	}
	win, err := readWindow(n, 0, 0, x.shape[2], x.shape[3])
	if err != nil {
		return err
	}
	if so, _ := intAttr(n, "storage_order", 0); so != 0 {
		return nodeError(n, "storage_order %d is not supported", so)
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != "" {
		return nodeError(n, "the indices output is not supported")
	}
	if n.OpType == "MaxPool" {
		if !win.symmetric() {
			return nodeError(n, "%s is not supported: autorep's max pooling and its secure executor take a square window with the same padding on all four sides (check auto_pad, pads and ceil_mode)", win.describe())
		}
		// A Pad node's zeros are values to max over (not −∞ padding): a layer of their own.
		if err := c.materializeAll(n, x); err != nil {
			return err
		}
		return c.add(n, &nn.MaxPool2d{Kernel: win.kh, Stride: win.s, Pad: win.top}, x.node)
	}
	if cip, _ := intAttr(n, "count_include_pad", 0); win.top+win.left+win.bottom+win.right > 0 && cip != 1 {
		return nodeError(n, "count_include_pad 0 with pads %v is not supported (supported: count_include_pad 1, PyTorch's default)", [4]int{win.top, win.left, win.bottom, win.right})
	}
	all := win
	all.top, all.left, all.bottom, all.right = win.top+x.pad[0], win.left+x.pad[1], win.bottom+x.pad[2], win.right+x.pad[3]
	if !all.symmetric() {
		// Average pooling with zero padding counted is a depthwise
		// convolution with weights 1/(kh·kw); convLayer rewrites its window.
		ch := x.shape[1]
		w := make([]float32, ch*win.kh*win.kw)
		for i := range w {
			w[i] = 1 / float32(win.kh*win.kw)
		}
		op, err := c.convLayer(n, x, win, w, nil, ch)
		if err != nil {
			return err
		}
		c.notes = append(c.notes, fmt.Sprintf("%q (AveragePool): %s as a depthwise %d×%d conv with padding %d", n.Name, win.describe(), op.Kernel, op.Kernel, op.Pad))
		return c.add(n, op, x.node)
	}
	if err := c.materialize(n, x); err != nil {
		return err
	}
	return c.add(n, &nn.AvgPool2d{Kernel: all.kh, Stride: all.s, Pad: all.top}, x.node)
}

func (c *converter) padOp(n *onnx.Node) error {
	if err := checkAttrs(n, "mode", "pads", "value"); err != nil {
		return err
	}
	if a := n.Attr("mode"); a != nil && string(a.S) != "constant" {
		return nodeError(n, "mode %q is not supported (supported: constant)", a.S)
	}
	x, err := c.get(n, 0)
	if err != nil {
		return err
	}
	var pads []int64
	if len(n.Inputs) > 1 && n.Inputs[1] != "" {
		t, ok := c.consts[n.Inputs[1]]
		if !ok {
			return nodeError(n, "pads must be a constant")
		}
		if pads, err = t.Ints(); err != nil {
			return nodeError(n, "%v", err)
		}
	} else if pads, err = ints(n, "pads", nil); err != nil {
		return err
	}
	if len(n.Inputs) > 2 && n.Inputs[2] != "" {
		v, _, err := c.constant(n, 2, false)
		if err != nil {
			return err
		}
		if len(v) != 1 || v[0] != 0 {
			return nodeError(n, "constant value %v is not supported (supported: 0)", v)
		}
	}
	if f, _ := floatAttr(n, "value", 0); f != 0 {
		return nodeError(n, "constant value %v is not supported (supported: 0)", f)
	}
	if len(n.Inputs) > 3 && n.Inputs[3] != "" {
		return nodeError(n, "the axes input is not supported")
	}
	// ONNX pads: begins of every axis, then ends; H and W are axes 2 and 3.
	ok := len(pads) == 8 && len(x.shape) == 4 && pads[0] == 0 && pads[1] == 0 && pads[4] == 0 && pads[5] == 0
	for _, p := range pads {
		ok = ok && p >= 0 && p <= maxPad
	}
	if !ok {
		return nodeError(n, "pads %v of a %v tensor are not supported (supported: zero padding of H and W, 0 to %d per side)", pads, x.shape, maxPad)
	}
	p := x.pad
	for i, q := range []int64{pads[2], pads[3], pads[6], pads[7]} {
		p[i] += int(q)
	}
	sh := slices.Clone(x.shape)
	sh[2] += int(pads[2] + pads[6])
	sh[3] += int(pads[3] + pads[7])
	c.vals[n.Outputs[0]] = &value{node: x.node, shape: sh, pad: p, aff: x.aff}
	return nil
}

// batchDim stands for the (dynamic) batch size in shape arithmetic.
const batchDim = math.MinInt64

// symInts is an integer vector (or a scalar) computed from shapes, as
// torch writes x.view(x.size(0), -1) with dynamic axes: Shape, Gather,
// Unsqueeze, Concat, then Reshape.
type symInts struct {
	v      []int64
	scalar bool
}

// ints returns the integer vector named name: a constant or shape arithmetic.
func (c *converter) ints(n *onnx.Node, name string) (symInts, error) {
	if s, ok := c.syms[name]; ok {
		return s, nil
	}
	if t, ok := c.consts[name]; ok {
		v, err := t.Ints()
		if err != nil {
			return symInts{}, nodeError(n, "%v", err)
		}
		return symInts{v: v, scalar: len(t.Dims) == 0}, nil
	}
	return symInts{}, nodeError(n, "input %q must be a constant or shape arithmetic (Shape, Gather, Unsqueeze, Concat)", name)
}

// shapeOp evaluates the shape arithmetic nodes torch writes for
// x.view(x.size(0), -1).
func (c *converter) shapeOp(n *onnx.Node) error {
	if len(n.Inputs) == 0 || len(n.Outputs) != 1 {
		return nodeError(n, "want inputs and one output")
	}
	var out symInts
	switch n.OpType {
	case "Shape":
		if err := checkAttrs(n); err != nil {
			return err
		}
		x, err := c.get(n, 0)
		if err != nil {
			return err
		}
		out.v = make([]int64, len(x.shape))
		for i, d := range x.shape {
			out.v[i] = int64(d)
		}
		out.v[0] = batchDim
	case "Gather":
		if err := checkAttrs(n, "axis"); err != nil {
			return err
		}
		if ax, _ := intAttr(n, "axis", 0); ax != 0 || len(n.Inputs) != 2 {
			return nodeError(n, "supported: Gather on axis 0 of a shape")
		}
		data, err := c.ints(n, n.Inputs[0])
		if err != nil {
			return err
		}
		idx, err := c.ints(n, n.Inputs[1])
		if err != nil {
			return err
		}
		out.scalar = idx.scalar
		for _, i := range idx.v {
			if i < 0 {
				i += int64(len(data.v))
			}
			if i < 0 || i >= int64(len(data.v)) {
				return nodeError(n, "index %d out of range for %d values", i, len(data.v))
			}
			out.v = append(out.v, data.v[i])
		}
	case "Unsqueeze":
		if err := checkAttrs(n, "axes"); err != nil {
			return err
		}
		x, err := c.ints(n, n.Inputs[0])
		if err != nil {
			return err
		}
		axes, _ := ints(n, "axes", nil)
		if len(n.Inputs) > 1 {
			a, err := c.ints(n, n.Inputs[1])
			if err != nil {
				return err
			}
			axes = a.v
		}
		if !x.scalar || len(axes) != 1 || axes[0] != 0 {
			return nodeError(n, "supported: Unsqueeze of a scalar on axis 0")
		}
		out.v = x.v
	case "Concat":
		if err := checkAttrs(n, "axis"); err != nil {
			return err
		}
		if ax, _ := intAttr(n, "axis", 0); ax != 0 {
			return nodeError(n, "supported: Concat on axis 0 of integer vectors")
		}
		for _, in := range n.Inputs {
			v, err := c.ints(n, in)
			if err != nil {
				return err
			}
			if v.scalar {
				return nodeError(n, "cannot concatenate a scalar")
			}
			out.v = append(out.v, v.v...)
		}
	}
	if len(out.v) > 8 {
		return nodeError(n, "supported: shape arithmetic on short vectors")
	}
	c.syms[n.Outputs[0]] = out
	return nil
}

// mixedAct is an exported mixed activation y = m·Relu(x) + (1−m)·p(x).
type mixedAct struct {
	mask []float32   // m, C·H·W
	coef [][]float32 // c0, c1, ... each of C or 1 values
	out  string      // the ONNX name of y
}

// polyMask builds the nn.PolyMask for a site of the given per-image shape.
func (mx *mixedAct) polyMask(shape []int) (*nn.PolyMask, error) {
	if len(mx.mask) != tensor.Numel(shape) || len(shape) == 0 {
		return nil, fmt.Errorf("mask of %d values for activation %v", len(mx.mask), shape)
	}
	ch := shape[0]
	pm := &nn.PolyMask{Mask: mx.mask, Coef: make([][]float32, ch)}
	for c := range pm.Coef {
		pm.Coef[c] = make([]float32, len(mx.coef))
		for d, v := range mx.coef {
			switch len(v) {
			case 1:
				pm.Coef[c][d] = v[0]
			case ch:
				pm.Coef[c][d] = v[c]
			default:
				return nil, fmt.Errorf("coefficient c%d has %d values for %d channels", d, len(v), ch)
			}
		}
	}
	return pm, nil
}

// findMixed finds the mixed activations Export writes:
//
//	r = Relu(x); a = Mul(r, M); t = Mul(x, Cd); t = Add(t, Cd-1); t = Mul(t, x); ...;
//	p = Add(t, C0); b = Mul(p, K); y = Add(a, b)
//
// with constants M (0/1), K = 1−M and per-channel Ci; their Mul and Add
// nodes are folded into the Relu's site.
func (c *converter) findMixed(g *onnx.Graph) error {
	c.skip, c.mixed = map[*onnx.Node]bool{}, map[*onnx.Node]*mixedAct{}
	producer := map[string]*onnx.Node{}
	readers := map[string][]*onnx.Node{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			producer[o] = n
		}
		for _, i := range n.Inputs {
			readers[i] = append(readers[i], n)
		}
	}
	c.collectConstants(g)
	// one returns the single reader of name if it is an op node.
	one := func(name, op string) *onnx.Node {
		if r := readers[name]; len(r) == 1 && r[0].OpType == op && len(r[0].Inputs) == 2 && len(r[0].Outputs) == 1 {
			return r[0]
		}
		return nil
	}
	// split returns the constant and the other input of a binary node.
	split := func(n *onnx.Node) ([]float32, string) {
		for i := 0; i < 2; i++ {
			if t, ok := c.consts[n.Inputs[i]]; ok {
				v, err := t.Floats()
				if err != nil {
					return nil, ""
				}
				return v, n.Inputs[1-i]
			}
		}
		return nil, ""
	}
	for _, relu := range g.Nodes {
		if relu.OpType != "Relu" || len(relu.Inputs) != 1 || len(relu.Outputs) != 1 {
			continue
		}
		x := relu.Inputs[0]
		mulM := one(relu.Outputs[0], "Mul")
		if mulM == nil {
			continue
		}
		mask, _ := split(mulM)
		final := one(mulM.Outputs[0], "Add")
		if mask == nil || final == nil {
			continue
		}
		other := final.Inputs[0]
		if other == mulM.Outputs[0] {
			other = final.Inputs[1]
		}
		mulK := producer[other]
		if mulK == nil || mulK.OpType != "Mul" || len(mulK.Inputs) != 2 || len(readers[other]) != 1 {
			continue
		}
		k, p := split(mulK)
		if k == nil || len(k) != len(mask) {
			continue
		}
		// Walk the Horner chain back from p: Add(t, c_i), then Mul(t, x) or Mul(x, c_d).
		var coef [][]float32
		nodes := []*onnx.Node{mulM, final, mulK}
		ok := false
		// A malformed graph may be cyclic: the chain is at most as long as the graph.
		for cur, steps := p, 0; steps < len(g.Nodes); steps++ {
			add := producer[cur]
			if add == nil || add.OpType != "Add" || len(add.Inputs) != 2 || len(readers[cur]) != 1 {
				break
			}
			ci, t := split(add)
			mul := producer[t]
			if ci == nil || mul == nil || mul.OpType != "Mul" || len(mul.Inputs) != 2 || len(readers[t]) != 1 {
				break
			}
			coef = append(coef, ci)
			nodes = append(nodes, add, mul)
			if cd, y := split(mul); cd != nil && y == x {
				coef = append(coef, cd)
				ok = true
				break
			}
			switch {
			case mul.Inputs[0] == x:
				cur = mul.Inputs[1]
			case mul.Inputs[1] == x:
				cur = mul.Inputs[0]
			default:
				cur = ""
			}
			if cur == "" {
				break
			}
		}
		if !ok {
			continue
		}
		for i, m := range mask {
			if (m != 0 && m != 1) || k[i] != 1-m {
				return nodeError(mulM, "mixed activation: mask entry %d is %v and its complement %v; want 0/1 and 1−m", i, m, k[i])
			}
		}
		for _, n := range nodes {
			c.skip[n] = true
		}
		c.mixed[relu] = &mixedAct{mask: mask, coef: coef, out: final.Outputs[0]}
	}
	return nil
}

// collectConstants registers the outputs of Constant nodes early, so the
// mixed-activation search sees their values.
func (c *converter) collectConstants(g *onnx.Graph) {
	for _, n := range g.Nodes {
		if a := n.Attr("value"); n.OpType == "Constant" && a != nil && a.T != nil && len(n.Outputs) == 1 {
			c.consts[n.Outputs[0]] = a.T
		}
	}
}

// isClose reports |a−b| ≤ tol·max(1,|b|).
func isClose(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }
