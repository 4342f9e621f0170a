package onnxmodel

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/onnx"
	"github.com/autorep/autorep/tensor"
)

// Report says how Import mapped a model.
type Report struct {
	// Arch is the autorep architecture the graph was mapped onto.
	Arch string
	// FoldedBN counts batch norms of the architecture that torch had folded
	// into the preceding convolution (see Import); Folded names them.
	FoldedBN int
	Folded   []string
	// Sites is the number of ReLU sites; Mixed of them carry an exported
	// mixed activation (mask and polynomial).
	Sites, Mixed int
	// Rewrites lists, one line each, the layers the import added (a
	// constant Mul/Div/Add/Sub or a Pad that folds into no neighbour: a
	// linear step in private inference) and the windows it rewrote as an
	// equivalent square kernel.
	Rewrites []string
}

// Import converts an ONNX model onto an autorep architecture: arch, or
// when arch is "" the first of models.Names() whose graph (for the model's
// input shape and class count) the ONNX graph matches node for node, else
// the graph itself as a generic models.GraphArch model (its structure is
// stored in the model file, so every command loads it like any other).
//
// Every Relu becomes the architecture's named ReLU site; a mixed activation
// written by Export becomes the site's mask and polynomial. Batch norm
// nodes keep their parameters and statistics (a different epsilon is
// folded into the running variance). Where torch folded a batch norm into
// the convolution (its default for eval-mode export), the architecture's
// convolution gets the folded weights and its batch norm becomes the
// identity plus the folded bias (weight 1, bias b, mean 0, variance 1−ε):
// the same function in evaluation mode; CalibrateFolded then gives those
// batch norms data statistics so training mode (reduce) starts from the
// same function too.
// Unsupported operators or attributes are errors naming the node.
func Import(m *onnx.Model, arch string) (*models.Model, *Report, error) {
	return ImportWith(m, Options{Arch: arch})
}

// Options adjust ImportWith.
type Options struct {
	// Arch is the architecture to map onto; "" tries every one, then the
	// generic graph.
	Arch string
	// PixelMean and PixelStd (one value per input channel, or one for
	// all) say that the ONNX graph takes images on the [0,1] scale and
	// normalises them itself, as torchvision-style models do, while autorep
	// feeds z = (x − PixelMean)/PixelStd (the dataset's normalisation). The
	// graph then reads x = PixelStd·z + PixelMean, a constant affine that
	// cancels exactly against the graph's own Sub/Div where the constants
	// agree, and otherwise folds or becomes a layer like any other.
	PixelMean, PixelStd []float32
}

// ImportWith is Import with options.
func ImportWith(m *onnx.Model, opt Options) (*models.Model, *Report, error) {
	if m == nil || m.Graph == nil {
		return nil, nil, errors.New("onnx: no model")
	}
	arch := opt.Arch
	var pix *affine
	if opt.PixelMean != nil || opt.PixelStd != nil {
		if len(opt.PixelMean) != len(opt.PixelStd) || len(opt.PixelMean) == 0 {
			return nil, nil, fmt.Errorf("onnx: pixel mean %v and std %v: want one value per channel each", opt.PixelMean, opt.PixelStd)
		}
		pix = &affine{from: "input_pixels"}
		for i := range opt.PixelMean {
			if !(opt.PixelStd[i] > 0) || math.IsInf(float64(opt.PixelStd[i]), 0) || math.IsNaN(float64(opt.PixelMean[i])) || math.IsInf(float64(opt.PixelMean[i]), 0) {
				return nil, nil, fmt.Errorf("onnx: pixel std %v must be positive and finite, mean finite", opt.PixelStd[i])
			}
			pix.scale = append(pix.scale, float64(opt.PixelStd[i]))
			pix.shift = append(pix.shift, float64(opt.PixelMean[i]))
		}
	}
	g, in, classes, notes, err := toGraph(m, pix)
	if err != nil {
		return nil, nil, err
	}
	names := models.Names()
	if arch != "" {
		names = []string{arch}
	}
	var firstErr error
	for _, name := range names {
		a, err := models.New(name, classes, in)
		if err != nil {
			if arch != "" {
				return nil, nil, err
			}
			continue
		}
		rep, err := mapOnto(g, a)
		if err == nil {
			rep.Arch, rep.Rewrites = name, notes
			return a, rep, nil
		}
		if firstErr == nil || arch != "" {
			firstErr = err
		}
	}
	if arch != "" {
		return nil, nil, fmt.Errorf("onnx graph (input %v, %d classes) does not match architecture %s: %w", in, classes, arch, firstErr)
	}
	// No known architecture: the graph itself, as a models.GraphArch model.
	spec, err := models.SpecOf(g)
	if err != nil {
		return nil, nil, err
	}
	gm, err := models.NewFromSpec(spec, classes, in)
	if err != nil {
		return nil, nil, err
	}
	sd, err := nn.StateDict(g)
	if err != nil {
		return nil, nil, err
	}
	if err := gm.LoadTensors(sd); err != nil {
		return nil, nil, fmt.Errorf("onnx graph: %w", err)
	}
	rep := &Report{Arch: models.GraphArch, Sites: len(gm.Sites), Rewrites: notes}
	for _, s := range gm.Sites {
		if s.Act != nil {
			rep.Mixed++
		}
	}
	return gm, rep, nil
}

// matcher pairs the nodes of an architecture graph a with those of an
// imported graph g, walking back from the outputs.
type matcher struct {
	a, g   *nn.Graph
	pairA  map[int]int  // a node → g node
	pairG  map[int]int  // g node → a node (the conv of a folded pair)
	folded map[int]bool // a batch-norm nodes folded into g's conv
}

func (mt *matcher) clone() *matcher {
	return &matcher{a: mt.a, g: mt.g, pairA: maps.Clone(mt.pairA), pairG: maps.Clone(mt.pairG), folded: maps.Clone(mt.folded)}
}

func (mt *matcher) inputs(gr *nn.Graph, i int) []int {
	if ins := gr.Nodes[i].Inputs; len(ins) > 0 {
		return ins
	}
	return []int{i - 1}
}

// match reports whether a's node ai computes what g's node gi computes,
// recording the pairing.
func (mt *matcher) match(ai, gi int) bool {
	if ai < 0 || gi < 0 {
		return ai == gi
	}
	if p, ok := mt.pairA[ai]; ok {
		return p == gi
	}
	an, gn := mt.a.Nodes[ai], mt.g.Nodes[gi]
	// A conv (no bias) + batch norm of a against a conv with bias of g.
	if _, isBN := an.Op.(*nn.BatchNorm2d); isBN {
		if gc, ok := gn.Op.(*nn.Conv2d); ok && gc.Bias != nil {
			ci := mt.inputs(mt.a, ai)[0]
			if ci < 0 {
				return false
			}
			ac, ok := mt.a.Nodes[ci].Op.(*nn.Conv2d)
			if !ok || ac.Bias != nil || !sameConv(ac, gc) {
				return false
			}
			if _, used := mt.pairG[gi]; used {
				return false
			}
			mt.pairA[ai], mt.pairA[ci], mt.pairG[gi] = gi, gi, ci
			mt.folded[ai] = true
			return mt.match(mt.inputs(mt.a, ci)[0], mt.inputs(mt.g, gi)[0])
		}
	}
	if !sameOp(an.Op, gn.Op) {
		return false
	}
	if _, used := mt.pairG[gi]; used {
		return false
	}
	mt.pairA[ai], mt.pairG[gi] = gi, ai
	ia, ig := mt.inputs(mt.a, ai), mt.inputs(mt.g, gi)
	if len(ia) != len(ig) {
		return false
	}
	if len(ia) == 2 { // Add: either order
		try := mt.clone()
		if try.match(ia[0], ig[0]) && try.match(ia[1], ig[1]) {
			*mt = *try
			return true
		}
		return mt.match(ia[0], ig[1]) && mt.match(ia[1], ig[0])
	}
	return mt.match(ia[0], ig[0])
}

func sameConv(a, g *nn.Conv2d) bool {
	return a.InC == g.InC && a.OutC == g.OutC && a.Kernel == g.Kernel && a.Stride == g.Stride && a.Pad == g.Pad && a.Groups == g.Groups
}

func stride(s, k int) int {
	if s == 0 {
		return k
	}
	return s
}

// sameOp reports whether two nodes are the same layer up to parameter
// values (a's conv or linear may have a bias where g has none).
func sameOp(a, g nn.Module) bool {
	switch ao := a.(type) {
	case *nn.Conv2d:
		go_, ok := g.(*nn.Conv2d)
		return ok && sameConv(ao, go_) && (ao.Bias != nil || go_.Bias == nil)
	case *nn.BatchNorm2d:
		go_, ok := g.(*nn.BatchNorm2d)
		return ok && ao.C == go_.C
	case *nn.Linear:
		go_, ok := g.(*nn.Linear)
		return ok && ao.In == go_.In && ao.Out == go_.Out && (ao.Bias != nil || go_.Bias == nil)
	case *nn.Site:
		_, ok := g.(*nn.Site)
		return ok
	case *nn.MaxPool2d:
		go_, ok := g.(*nn.MaxPool2d)
		return ok && ao.Kernel == go_.Kernel && stride(ao.Stride, ao.Kernel) == stride(go_.Stride, go_.Kernel) && ao.Pad == go_.Pad
	case *nn.AvgPool2d:
		go_, ok := g.(*nn.AvgPool2d)
		return ok && ao.Kernel == go_.Kernel && stride(ao.Stride, ao.Kernel) == stride(go_.Stride, go_.Kernel) && ao.Pad == go_.Pad
	case *nn.GlobalAvgPool, nn.GlobalAvgPool:
		switch g.(type) {
		case *nn.GlobalAvgPool, nn.GlobalAvgPool:
			return true
		}
	case *nn.Flatten, nn.Flatten:
		switch g.(type) {
		case *nn.Flatten, nn.Flatten:
			return true
		}
	case *nn.Add, nn.Add:
		switch g.(type) {
		case *nn.Add, nn.Add:
			return true
		}
	}
	return false
}

// mapOnto copies the parameters of g into the architecture model a when
// the two graphs match node for node.
func mapOnto(g *nn.Graph, a *models.Model) (*Report, error) {
	mt := &matcher{a: a.Net, g: g, pairA: map[int]int{}, pairG: map[int]int{}, folded: map[int]bool{}}
	ag := a.Net
	if !mt.match(len(ag.Nodes)-1, len(g.Nodes)-1) {
		return nil, fmt.Errorf("layer structure differs")
	}
	for i := range ag.Nodes {
		if _, ok := mt.pairA[i]; !ok {
			if _, isDrop := ag.Nodes[i].Op.(*nn.Dropout); !isDrop {
				return nil, fmt.Errorf("architecture node %q has no counterpart", ag.Nodes[i].Name)
			}
		}
	}
	for i := range g.Nodes {
		if _, ok := mt.pairG[i]; !ok {
			return nil, fmt.Errorf("onnx layer %q has no counterpart", g.Nodes[i].Name)
		}
	}
	rep := &Report{}
	for ai, gi := range mt.pairA {
		an, gn := ag.Nodes[ai], g.Nodes[gi]
		switch ao := an.Op.(type) {
		case *nn.Conv2d:
			gc := gn.Op.(*nn.Conv2d)
			copy(ao.Weight.Value.Data, gc.Weight.Value.Data)
			if ao.Bias != nil {
				clear(ao.Bias.Value.Data)
				if gc.Bias != nil {
					copy(ao.Bias.Value.Data, gc.Bias.Value.Data)
				}
			}
		case *nn.BatchNorm2d:
			if mt.folded[ai] {
				rep.FoldedBN++
				rep.Folded = append(rep.Folded, an.Name)
				gc := gn.Op.(*nn.Conv2d)
				fill(ao.Weight.Value, 1)
				copy(ao.Bias.Value.Data, gc.Bias.Value.Data)
				fill(ao.RunningMean, 0)
				fill(ao.RunningVar, 1-ao.Eps)
				continue
			}
			gb := gn.Op.(*nn.BatchNorm2d)
			copy(ao.Weight.Value.Data, gb.Weight.Value.Data)
			copy(ao.Bias.Value.Data, gb.Bias.Value.Data)
			copy(ao.RunningMean.Data, gb.RunningMean.Data)
			// y = γ(x−μ)/√(σ²+ε_onnx)+β with a's own ε: shift the variance.
			for c, v := range gb.RunningVar.Data {
				ao.RunningVar.Data[c] = v + gb.Eps - ao.Eps
			}
		case *nn.Linear:
			gl := gn.Op.(*nn.Linear)
			copy(ao.Weight.Value.Data, gl.Weight.Value.Data)
			if ao.Bias != nil {
				clear(ao.Bias.Value.Data)
				if gl.Bias != nil {
					copy(ao.Bias.Value.Data, gl.Bias.Value.Data)
				}
			}
		case *nn.Site:
			rep.Sites++
			gs := gn.Op.(*nn.Site)
			if pm, ok := gs.Act.(*nn.PolyMask); ok {
				if err := pm.Check(ao.Shape); err != nil {
					return nil, fmt.Errorf("site %s: %w", ao.Name, err)
				}
				ao.Act = pm
				rep.Mixed++
			}
		}
	}
	slices.Sort(rep.Folded)
	return rep, nil
}

func fill(t *tensor.Tensor, v float32) {
	for i := range t.Data {
		t.Data[i] = v
	}
}
