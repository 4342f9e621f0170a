package models

import (
	"encoding/json"
	"fmt"
	"math/rand"

	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/nn"
)

// GraphArch is the architecture name of a model whose graph is not one of
// the built-in architectures (e.g. an imported ONNX model): its layers are
// described by a GraphSpec stored under KeyGraph in the metadata.
const GraphArch = "graph"

// KeyGraph is the metadata key holding a GraphArch model's GraphSpec (JSON).
const KeyGraph = "autorep.graph"

// NodeSpec describes one node of a generic graph: its name, layer kind,
// inputs (indices of earlier nodes, -1 = the graph input) and the sizes
// that determine its parameter shapes.
type NodeSpec struct {
	Name   string  `json:"name"`
	Op     string  `json:"op"` // conv, bn, linear, relu, maxpool, avgpool, gap, flatten, add
	Inputs []int   `json:"inputs"`
	In     int     `json:"in,omitempty"`  // conv: input channels; linear: features; bn: channels
	Out    int     `json:"out,omitempty"` // conv: output channels; linear: outputs
	Kernel int     `json:"kernel,omitempty"`
	Stride int     `json:"stride,omitempty"`
	Pad    int     `json:"pad,omitempty"`
	Groups int     `json:"groups,omitempty"`
	Bias   bool    `json:"bias,omitempty"`
	Eps    float32 `json:"eps,omitempty"` // bn
}

// GraphSpec is a generic graph, nodes in execution order (the last is the output).
type GraphSpec []NodeSpec

// Limits of a GraphSpec, so a corrupt model file cannot make Load
// allocate without bound.
const (
	maxSpecNodes  = 10_000
	maxSpecParams = 1 << 28 // 1 GiB of float32
)

// SpecOf describes g as a GraphSpec; a layer type without a spec form is
// an error.
func SpecOf(g *nn.Graph) (GraphSpec, error) {
	spec := make(GraphSpec, len(g.Nodes))
	for i, n := range g.Nodes {
		s := NodeSpec{Name: n.Name, Inputs: append([]int(nil), n.Inputs...)}
		if len(s.Inputs) == 0 {
			s.Inputs = []int{i - 1}
		}
		switch op := n.Op.(type) {
		case *nn.Conv2d:
			s.Op, s.In, s.Out, s.Kernel, s.Stride, s.Pad, s.Groups, s.Bias = "conv", op.InC, op.OutC, op.Kernel, op.Stride, op.Pad, op.Groups, op.Bias != nil
		case *nn.BatchNorm2d:
			s.Op, s.In, s.Eps = "bn", op.C, op.Eps
		case *nn.Linear:
			s.Op, s.In, s.Out, s.Bias = "linear", op.In, op.Out, op.Bias != nil
		case *nn.Site:
			s.Op = "relu"
		case *nn.MaxPool2d:
			s.Op, s.Kernel, s.Stride, s.Pad = "maxpool", op.Kernel, op.Stride, op.Pad
		case *nn.AvgPool2d:
			s.Op, s.Kernel, s.Stride, s.Pad = "avgpool", op.Kernel, op.Stride, op.Pad
		case *nn.GlobalAvgPool, nn.GlobalAvgPool:
			s.Op = "gap"
		case *nn.Flatten, nn.Flatten:
			s.Op = "flatten"
		case *nn.Add, nn.Add:
			s.Op = "add"
		default:
			return nil, fmt.Errorf("models: graph node %q: layer %T has no graph-spec form", n.Name, n.Op)
		}
		spec[i] = s
	}
	return spec, nil
}

// NewFromSpec builds a GraphArch model from spec for classes outputs and
// C,H,W inputs (weights initialised from DefaultSeed, training mode),
// checking every node's sizes against the input, and records the spec in
// Meta so Save and Load reproduce the graph.
func NewFromSpec(spec GraphSpec, classes int, in [3]int) (*Model, error) {
	if len(spec) == 0 || len(spec) > maxSpecNodes {
		return nil, fmt.Errorf("models: graph spec has %d nodes (want 1 to %d)", len(spec), maxSpecNodes)
	}
	if classes < 1 || classes > maxClasses || in[0] < 1 || in[1] < 1 || in[2] < 1 || in[0] > 4096 || in[1] > maxSide || in[2] > maxSide {
		return nil, fmt.Errorf("models: graph: %d classes and input %v out of range", classes, in)
	}
	params := 0
	for i, s := range spec {
		bad := s.In < 0 || s.Out < 0 || s.Kernel < 0 || s.Stride < 0 || s.Pad < 0 || s.Groups < 0 ||
			s.In > 1<<16 || s.Out > 1<<20 || s.Kernel > 64 || s.Stride > 64 || s.Pad > 64 || s.Groups > 1<<16
		if bad {
			return nil, fmt.Errorf("models: graph node %d (%q): sizes out of range", i, s.Name)
		}
		switch s.Op {
		case "conv":
			if s.Groups == 0 || s.In == 0 || s.Out == 0 || s.Kernel == 0 || s.Stride == 0 || s.In%s.Groups != 0 || s.Out%s.Groups != 0 {
				return nil, fmt.Errorf("models: graph node %d (%q): bad convolution %+v", i, s.Name, s)
			}
			params += s.Out * s.In / s.Groups * s.Kernel * s.Kernel
		case "linear":
			if s.In == 0 || s.Out == 0 {
				return nil, fmt.Errorf("models: graph node %d (%q): bad linear layer", i, s.Name)
			}
			params += s.In * s.Out
		case "bn":
			if s.In == 0 {
				return nil, fmt.Errorf("models: graph node %d (%q): batch norm without channels", i, s.Name)
			}
		case "maxpool", "avgpool":
			if s.Kernel == 0 {
				return nil, fmt.Errorf("models: graph node %d (%q): pooling without a kernel", i, s.Name)
			}
		}
		if params > maxSpecParams {
			return nil, fmt.Errorf("models: graph spec has more than %d parameters", maxSpecParams)
		}
	}
	rng := rand.New(rand.NewSource(DefaultSeed))
	g := &nn.Graph{}
	for _, s := range spec {
		var op nn.Module
		switch s.Op {
		case "conv":
			op = nn.NewConv2d(rng, s.In, s.Out, s.Kernel, s.Stride, s.Pad, s.Groups, s.Bias)
		case "bn":
			b := nn.NewBatchNorm2d(s.In)
			if s.Eps > 0 {
				b.Eps = s.Eps
			}
			op = b
		case "linear":
			op = nn.NewLinear(rng, s.In, s.Out, s.Bias)
		case "relu":
			op = &nn.Site{Name: s.Name}
		case "maxpool":
			op = &nn.MaxPool2d{Kernel: s.Kernel, Stride: s.Stride, Pad: s.Pad}
		case "avgpool":
			op = &nn.AvgPool2d{Kernel: s.Kernel, Stride: s.Stride, Pad: s.Pad}
		case "gap":
			op = &nn.GlobalAvgPool{}
		case "flatten":
			op = &nn.Flatten{}
		case "add":
			op = &nn.Add{}
		default:
			return nil, fmt.Errorf("models: graph node %q: unknown op %q", s.Name, s.Op)
		}
		if len(s.Inputs) == 0 {
			return nil, fmt.Errorf("models: graph node %q has no inputs", s.Name)
		}
		g.Add(s.Name, op, s.Inputs...)
	}
	shapes, err := g.OutputShapes([]int{1, in[0], in[1], in[2]})
	if err != nil {
		return nil, fmt.Errorf("models: graph for input %v: %w", in, err)
	}
	if out := shapes[len(shapes)-1]; len(out) != 2 || out[1] != classes {
		return nil, fmt.Errorf("models: graph output has shape %v, want [N, %d]", out, classes)
	}
	if err := g.FillSiteShapes([]int{1, in[0], in[1], in[2]}); err != nil {
		return nil, fmt.Errorf("models: graph for input %v: %w", in, err)
	}
	js, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("models: graph spec: %w", err)
	}
	m := &Model{Arch: GraphArch, Classes: classes, Input: in, Net: g, Sites: nn.Sites(g)}
	m.Meta = modelfile.Meta{Arch: GraphArch, Classes: classes, Input: in, Extra: map[string]string{KeyGraph: string(js)}}
	return m, nil
}

// newForMeta builds the network a model file's metadata describes: a
// built-in architecture, or a GraphArch graph from its KeyGraph spec.
func newForMeta(meta modelfile.Meta) (*Model, error) {
	if meta.Arch != GraphArch {
		return New(meta.Arch, meta.Classes, meta.Input)
	}
	js, ok := meta.Extra[KeyGraph]
	if !ok {
		return nil, fmt.Errorf("models: a %q model needs its %s metadata", GraphArch, KeyGraph)
	}
	var spec GraphSpec
	if err := json.Unmarshal([]byte(js), &spec); err != nil {
		return nil, fmt.Errorf("models: %s: %w", KeyGraph, err)
	}
	return NewFromSpec(spec, meta.Classes, meta.Input)
}
