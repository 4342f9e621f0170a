package onnxmodel

import (
	"fmt"

	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/onnx"
)

// ExportOpset is the opset Export writes.
const ExportOpset = 13

// Export writes an autorep model as an ONNX model (opset 13, IR version 7)
// with input "input" [N,C,H,W] and output "logits" [N,classes]. Batch norm
// stays a BatchNormalization node; a site with a mixed activation (a
// reduced model) becomes
//
//	m·Relu(x) + (1−m)·p(x),  p(x) = (…(c_d·x + c_{d−1})·x + …)·x + c0
//
// with only Mul and Add (private-inference frontends lack Pow and Where):
// m and 1−m are [C,H,W] constants, the coefficients [C,1,1]. A site whose
// mask keeps every ReLU is a plain Relu.
func Export(m *models.Model) (*onnx.Model, error) {
	e := &exporter{g: &onnx.Graph{Name: "autorep_" + m.Arch}}
	outs := make([]string, len(m.Net.Nodes))
	for i, n := range m.Net.Nodes {
		ins := n.Inputs
		if len(ins) == 0 {
			ins = []int{i - 1}
		}
		names := make([]string, len(ins))
		for j, k := range ins {
			if k < 0 {
				names[j] = "input"
			} else {
				names[j] = outs[k]
			}
		}
		out := n.Name
		if i == len(m.Net.Nodes)-1 {
			out = "logits"
		}
		if err := e.node(n, names, out); err != nil {
			return nil, err
		}
		outs[i] = out
	}
	e.g.Inputs = []*onnx.ValueInfo{{Name: "input", ElemType: onnx.Float, HasShape: true,
		Shape: []onnx.Dim{{Param: "N"}, {Value: int64(m.Input[0])}, {Value: int64(m.Input[1])}, {Value: int64(m.Input[2])}}}}
	e.g.Outputs = []*onnx.ValueInfo{{Name: "logits", ElemType: onnx.Float, HasShape: true,
		Shape: []onnx.Dim{{Param: "N"}, {Value: int64(m.Classes)}}}}
	// The input normalisation and dataset travel as metadata_props, under
	// the model file's own keys (autorep import reads the dataset back).
	meta := m.Meta.Clone()
	meta.Arch, meta.Classes, meta.Input = m.Arch, m.Classes, m.Input
	var props []onnx.StringEntry
	for _, k := range []string{modelfile.KeyArch, modelfile.KeyDataset, modelfile.KeyMean, modelfile.KeyStd} {
		if v := meta.Get(k); v != "" {
			props = append(props, onnx.StringEntry{Key: k, Value: v})
		}
	}
	return &onnx.Model{IRVersion: 7, ProducerName: "autorep", OpsetImports: []onnx.OpsetID{{Version: ExportOpset}},
		DocString: fmt.Sprintf("autorep %s, input %v, %d classes, dataset %q", m.Arch, m.Input, m.Classes, m.Meta.Dataset),
		Graph:     e.g, Metadata: props}, nil
}

type exporter struct {
	g *onnx.Graph
}

func (e *exporter) emit(name, op string, ins []string, out string, attrs ...*onnx.Attribute) {
	e.g.Nodes = append(e.g.Nodes, &onnx.Node{Name: name, OpType: op, Inputs: ins, Outputs: []string{out}, Attributes: attrs})
}

func (e *exporter) init(name string, dims []int64, v []float32) string {
	e.g.Initializers = append(e.g.Initializers, onnx.FloatTensor(name, dims, v))
	return name
}

func intsAttr(name string, v ...int64) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttrInts, Ints: v}
}

func intAttrOf(name string, v int64) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttrInt, I: v}
}

func window2(k, s, p int) []*onnx.Attribute {
	return []*onnx.Attribute{intsAttr("kernel_shape", int64(k), int64(k)), intsAttr("strides", int64(s), int64(s)),
		intsAttr("pads", int64(p), int64(p), int64(p), int64(p))}
}

func dims(shape []int) []int64 {
	d := make([]int64, len(shape))
	for i, v := range shape {
		d[i] = int64(v)
	}
	return d
}

// node emits the ONNX nodes of one graph node reading ins, writing out.
func (e *exporter) node(n *nn.Node, ins []string, out string) error {
	switch op := n.Op.(type) {
	case *nn.Conv2d:
		in := []string{ins[0], e.init(n.Name+".weight", dims(op.Weight.Value.Shape), op.Weight.Value.Data)}
		if op.Bias != nil {
			in = append(in, e.init(n.Name+".bias", dims(op.Bias.Value.Shape), op.Bias.Value.Data))
		}
		e.emit(n.Name, "Conv", in, out, append(window2(op.Kernel, op.Stride, op.Pad),
			intsAttr("dilations", 1, 1), intAttrOf("group", int64(op.Groups)))...)
	case *nn.BatchNorm2d:
		c := []int64{int64(op.C)}
		e.emit(n.Name, "BatchNormalization", []string{ins[0],
			e.init(n.Name+".weight", c, op.Weight.Value.Data), e.init(n.Name+".bias", c, op.Bias.Value.Data),
			e.init(n.Name+".running_mean", c, op.RunningMean.Data), e.init(n.Name+".running_var", c, op.RunningVar.Data)},
			out, &onnx.Attribute{Name: "epsilon", Type: onnx.AttrFloat, F: op.Eps})
	case *nn.Site:
		return e.site(n.Name, op, ins[0], out)
	case *nn.Add, nn.Add:
		e.emit(n.Name, "Add", ins, out)
	case *nn.Linear:
		in := []string{ins[0], e.init(n.Name+".weight", dims(op.Weight.Value.Shape), op.Weight.Value.Data)}
		if op.Bias != nil {
			in = append(in, e.init(n.Name+".bias", dims(op.Bias.Value.Shape), op.Bias.Value.Data))
		}
		e.emit(n.Name, "Gemm", in, out, intAttrOf("transB", 1))
	case *nn.MaxPool2d:
		e.emit(n.Name, "MaxPool", ins, out, window2(op.Kernel, stride(op.Stride, op.Kernel), op.Pad)...)
	case *nn.AvgPool2d:
		e.emit(n.Name, "AveragePool", ins, out, append(window2(op.Kernel, stride(op.Stride, op.Kernel), op.Pad),
			intAttrOf("count_include_pad", 1))...)
	case *nn.GlobalAvgPool, nn.GlobalAvgPool:
		e.emit(n.Name, "GlobalAveragePool", ins, out)
	case *nn.Flatten, nn.Flatten:
		e.emit(n.Name, "Flatten", ins, out, intAttrOf("axis", 1))
	case *nn.Dropout:
		e.emit(n.Name, "Identity", ins, out)
	default:
		return fmt.Errorf("onnx export: node %q: layer %T has no ONNX form here", n.Name, n.Op)
	}
	return nil
}

// site emits a ReLU site: Relu, or the mixed activation of a PolyMask.
func (e *exporter) site(name string, s *nn.Site, x, out string) error {
	pm, ok := s.Act.(*nn.PolyMask)
	if s.Act != nil && !ok {
		return fmt.Errorf("onnx export: site %q: activation %T cannot be exported (load the model from its file)", name, s.Act)
	}
	if !ok || pm.ReLUCount() == len(pm.Mask) && allOnes(pm.Mask) {
		e.emit(name, "Relu", []string{x}, out)
		return nil
	}
	if err := pm.Check(s.Shape); err != nil {
		return fmt.Errorf("onnx export: site %q: %w", name, err)
	}
	ch := len(pm.Coef)
	deg := 1 // at least c1·x, so the polynomial reads x
	for _, row := range pm.Coef {
		deg = max(deg, len(row)-1)
	}
	coef := func(d int) []float32 {
		v := make([]float32, ch)
		for c, row := range pm.Coef {
			if d < len(row) {
				v[c] = row[d]
			}
		}
		return v
	}
	keep := make([]float32, len(pm.Mask))
	for i, m := range pm.Mask {
		keep[i] = 1 - m
	}
	md := dims(s.Shape)
	cd := []int64{int64(ch), 1, 1}
	if len(s.Shape) == 1 { // after a Linear: [C]
		cd = []int64{int64(ch)}
	}
	r := name + ".relu"
	e.emit(r, "Relu", []string{x}, r)
	a := name + ".relu_masked"
	e.emit(a, "Mul", []string{r, e.init(name+".mask", md, pm.Mask)}, a)
	// Horner: t = c_d·x; t = t + c_{d−1}; t = t·x; ...; t = t + c0.
	t := name + ".poly_t" + fmt.Sprint(deg)
	e.emit(t, "Mul", []string{x, e.init(name+".poly_c"+fmt.Sprint(deg), cd, coef(deg))}, t)
	for d := deg - 1; d >= 0; d-- {
		s := fmt.Sprintf("%s.poly_s%d", name, d)
		e.emit(s, "Add", []string{t, e.init(fmt.Sprintf("%s.poly_c%d", name, d), cd, coef(d))}, s)
		t = s
		if d > 0 {
			t = fmt.Sprintf("%s.poly_t%d", name, d)
			e.emit(t, "Mul", []string{s, x}, t)
		}
	}
	b := name + ".poly_masked"
	e.emit(b, "Mul", []string{t, e.init(name+".one_minus_mask", md, keep)}, b)
	e.emit(name, "Add", []string{a, b}, out)
	return nil
}

func allOnes(v []float32) bool {
	for _, x := range v {
		if x != 1 {
			return false
		}
	}
	return true
}
