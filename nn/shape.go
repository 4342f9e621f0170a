package nn

import (
	"fmt"
	"slices"

	"github.com/autorep/autorep/tensor"
)

// OutShape returns the output shape of one of this package's modules for
// an input of shape in (batch first), or an error if the module rejects it
// or is not a type this package knows. It does no arithmetic on data.
func OutShape(m Module, in []int) ([]int, error) {
	need4 := func(op string) error {
		if len(in) != 4 || in[0] <= 0 || in[1] <= 0 || in[2] <= 0 || in[3] <= 0 {
			return fmt.Errorf("nn: %s: want [N,C,H,W] input, got %v", op, in)
		}
		return nil
	}
	switch op := m.(type) {
	case *Conv2d:
		if err := need4("conv2d"); err != nil {
			return nil, err
		}
		if in[1] != op.InC {
			return nil, fmt.Errorf("nn: conv2d: input has %d channels, layer expects %d", in[1], op.InC)
		}
		h, w := in[2]+2*op.Pad-op.Kernel, in[3]+2*op.Pad-op.Kernel
		if h < 0 || w < 0 {
			return nil, fmt.Errorf("nn: conv2d: input %dx%d smaller than kernel %d", in[2], in[3], op.Kernel)
		}
		return []int{in[0], op.OutC, h/op.Stride + 1, w/op.Stride + 1}, nil
	case *BatchNorm2d:
		if err := need4("batchnorm"); err != nil {
			return nil, err
		}
		if in[1] != op.C {
			return nil, fmt.Errorf("nn: batchnorm: input has %d channels, layer expects %d", in[1], op.C)
		}
		return clone(in), nil
	case *Linear:
		if len(in) != 2 || in[0] <= 0 || in[1] != op.In {
			return nil, fmt.Errorf("nn: linear: input %v, layer expects [N, %d]", in, op.In)
		}
		return []int{in[0], op.Out}, nil
	case *Site:
		if len(in) < 2 || in[0] <= 0 {
			return nil, fmt.Errorf("nn: site %q: want a batched input, got %v", op.Name, in)
		}
		if pm, ok := op.Act.(*PolyMask); ok {
			if err := pm.Check(in[1:]); err != nil {
				return nil, fmt.Errorf("site %q: %w", op.Name, err)
			}
		}
		return clone(in), nil
	case *MaxPool2d:
		return poolOutShape("maxpool", in, op.Kernel, orKernel(op.Stride, op.Kernel), op.Pad)
	case *AvgPool2d:
		return poolOutShape("avgpool", in, op.Kernel, orKernel(op.Stride, op.Kernel), op.Pad)
	case GlobalAvgPool, *GlobalAvgPool:
		if err := need4("globalavgpool"); err != nil {
			return nil, err
		}
		return []int{in[0], in[1], 1, 1}, nil
	case Flatten, *Flatten:
		if len(in) < 1 || in[0] <= 0 {
			return nil, fmt.Errorf("nn: flatten: bad input %v", in)
		}
		return []int{in[0], tensor.Numel(in[1:])}, nil
	case *Dropout, Add, *Add:
		return clone(in), nil
	case *Graph:
		shapes, err := op.OutputShapes(in)
		if err != nil {
			return nil, err
		}
		return shapes[len(shapes)-1], nil
	}
	return nil, fmt.Errorf("nn: no shape rule for %T", m)
}

func poolOutShape(op string, in []int, k, s, pad int) ([]int, error) {
	if len(in) != 4 || in[0] <= 0 || in[1] <= 0 {
		return nil, fmt.Errorf("nn: %s: want [N,C,H,W] input, got %v", op, in)
	}
	if k <= 0 || s <= 0 || pad < 0 || 2*pad > k || in[2]+2*pad < k || in[3]+2*pad < k {
		return nil, fmt.Errorf("nn: %s: kernel %d stride %d pad %d does not fit input %v", op, k, s, pad, in)
	}
	return []int{in[0], in[1], (in[2]+2*pad-k)/s + 1, (in[3]+2*pad-k)/s + 1}, nil
}

func clone(s []int) []int { return append([]int(nil), s...) }

// OutputShapes returns every node's output shape for a graph input of
// shape in, checking each op's constraints (channels, sizes, equal shapes
// at Add) without computing anything.
func (g *Graph) OutputShapes(in []int) ([][]int, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	shapes := make([][]int, len(g.Nodes))
	for i, n := range g.Nodes {
		ins := g.inputs(i, n)
		get := func(j int) []int {
			if j < 0 {
				return in
			}
			return shapes[j]
		}
		first := get(ins[0])
		for _, j := range ins[1:] {
			if s := get(j); !slices.Equal(s, first) {
				return nil, fmt.Errorf("nn: node %q: input shapes %v and %v differ", n.Name, first, s)
			}
		}
		out, err := OutShape(n.Op, first)
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", n.Name, err)
		}
		shapes[i] = out
	}
	return shapes, nil
}

// FillSiteShapes sets the Shape of every Site of g (including nested
// graphs) to its per-image input shape for a graph input of shape in.
func (g *Graph) FillSiteShapes(in []int) error {
	shapes, err := g.OutputShapes(in)
	if err != nil {
		return err
	}
	for i, n := range g.Nodes {
		switch op := n.Op.(type) {
		case *Site:
			op.Shape = clone(shapes[i][1:])
		case *Graph:
			j := g.inputs(i, n)[0]
			sub := in
			if j >= 0 {
				sub = shapes[j]
			}
			if err := op.FillSiteShapes(sub); err != nil {
				return err
			}
		}
	}
	return nil
}
