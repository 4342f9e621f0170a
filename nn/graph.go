package nn

import (
	"errors"
	"fmt"
	"sync"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

// Node is one step of a Graph: Op applied to the outputs of earlier nodes.
type Node struct {
	// Name is the dotted PyTorch-style name ("layer1.0.conv1"); parameter
	// names are "<Name>.weight" etc.
	Name string
	// Op is a concrete layer (*Conv2d, *BatchNorm2d, *Site, ...).
	Op Module
	// Inputs index earlier nodes; -1 is the graph input. Empty means the
	// previous node (or the graph input for the first node).
	Inputs []int
}

// Graph is a network as a list of nodes executed in order; the last node
// is the output.
//
// Run fuses some node sequences when they are wired as a chain (each
// node read only by the next): a BatchNorm2d or a two-input Add followed
// by a plain ReLU site runs as one pass (same results, bit for bit); and
// without gradient recording, a Conv2d followed by an evaluation-mode
// BatchNorm2d (then optionally an Add with an already computed input,
// then optionally a plain ReLU site) runs as one convolution with the
// batch norm folded into its weights (same results up to rounding).
// Run also keeps the activations of conv/batch-norm/ReLU/add chains with
// channel counts that are multiples of 16 in oneDNN's blocked nChw16c
// order (see layout.go; results equal up to rounding), running a
// training-mode batch norm followed by a residual Add and a plain ReLU
// site there as one pass. NoFusion turns all of this off.
type Graph struct {
	Nodes []*Node
	// NoFusion turns the fused execution off (for tests and debugging).
	NoFusion bool

	bufsMu sync.Mutex
	bufs   *stepBufs // reused training buffers, see ReleaseBuffers
}

// Add appends a node named name applying op to the given inputs and
// returns its index. With no inputs the node reads the previous node (the
// graph input for the first node); Inputs is always stored explicitly.
func (g *Graph) Add(name string, op Module, inputs ...int) int {
	if len(inputs) == 0 {
		inputs = []int{len(g.Nodes) - 1}
	} else {
		inputs = append([]int(nil), inputs...)
	}
	g.Nodes = append(g.Nodes, &Node{Name: name, Op: op, Inputs: inputs})
	return len(g.Nodes) - 1
}

// Find returns the node with the given name, or nil.
func (g *Graph) Find(name string) *Node {
	for _, n := range g.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Validate checks the wiring: unique non-empty names, inputs referring to
// earlier nodes, multiple inputs only for MultiInput ops.
func (g *Graph) Validate() error {
	if len(g.Nodes) == 0 {
		return errors.New("nn: graph has no nodes")
	}
	seen := map[string]bool{}
	for i, n := range g.Nodes {
		if n == nil || n.Op == nil {
			return fmt.Errorf("nn: graph node %d has no op", i)
		}
		if n.Name == "" || seen[n.Name] {
			return fmt.Errorf("nn: graph node %d: empty or duplicate name %q", i, n.Name)
		}
		seen[n.Name] = true
		for _, in := range n.Inputs {
			if in < -1 || in >= i {
				return fmt.Errorf("nn: graph node %q: input %d is not an earlier node", n.Name, in)
			}
		}
		if _, ok := n.Op.(MultiInput); len(n.Inputs) > 1 && !ok {
			return fmt.Errorf("nn: graph node %q: %T takes one input, has %d", n.Name, n.Op, len(n.Inputs))
		}
	}
	return nil
}

// Run executes the graph on x, returning an error (naming the node)
// instead of panicking when an op rejects its input's shape.
func (g *Graph) Run(x *autograd.Var) (y *autograd.Var, err error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if x == nil || x.Value == nil || x.Value.Len() != tensor.Numel(x.Value.Shape) {
		return nil, errors.New("nn: graph input is nil or inconsistent")
	}
	current := ""
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(*ShapeError)
			if !ok {
				panic(r)
			}
			y, err = nil, fmt.Errorf("node %q: %w", current, se)
		}
	}()
	outs := make([]*autograd.Var, len(g.Nodes))
	// Release intermediate Vars as soon as no later node reads them (the
	// autograd graph keeps what backward needs).
	last := make([]int, len(g.Nodes))
	readers := make([]int, len(g.Nodes))
	for i, n := range g.Nodes {
		for _, in := range g.inputs(i, n) {
			if in >= 0 {
				last[in] = i
				readers[in]++
			}
		}
	}
	// Without gradients, buffers of folded convolutions are recycled
	// once no later node reads them.
	var rec *recycler
	if !g.NoFusion && !autograd.GradEnabled() {
		rec = &recycler{owned: map[*float32]bool{}}
	}
	blk := g.planLayouts()
	sb := g.stepBuffers(x)
	isBlk := func(j int) bool { return j >= 0 && blk != nil && blk[j] }
	var buf [4]*autograd.Var
	get := func(j int) *autograd.Var {
		if j < 0 {
			return x
		}
		return outs[j]
	}
	for i := 0; i < len(g.Nodes); i++ {
		n := g.Nodes[i]
		current = n.Name
		ins := buf[:0]
		for _, in := range g.inputs(i, n) {
			ins = append(ins, get(in))
		}
		var out *autograd.Var
		end := i // the last node computed by this step
		if f := g.foldable(i, readers); f.end > i {
			// Inference: conv with the batch norm folded in, the
			// residual and the ReLU as oneDNN post-ops.
			var res *autograd.Var
			if f.residual != noResidual {
				res = get(f.residual)
			}
			current = g.Nodes[f.end].Name
			// Write into the residual when this step is its last
			// reader, else into a recycled buffer.
			var into []float32
			if res != nil && f.residual >= 0 && last[f.residual] <= f.end && rec.owns(res.Value.Data) &&
				!aliased(outs, f.residual, res.Value.Data) && !sameData(ins[0].Value.Data, res.Value.Data) {
				into = res.Value.Data
			}
			out = n.Op.(*Conv2d).forwardFolded(ins[0], g.Nodes[i+1].Op.(*BatchNorm2d), res, f.relu,
				isBlk(g.inputs(i, n)[0]), isBlk(f.end), into, rec)
			rec.own(out.Value.Data)
			end = f.end
		} else if r := g.bnAddReLU(i, readers, isBlk); r != noResidual {
			// Training: batch norm, residual add and ReLU in one pass.
			current = g.Nodes[i+2].Name
			out = n.Op.(*BatchNorm2d).bnAddReLUOp(ins[0], get(r), sb)
			end = i + 2
		} else if site := g.fusableReLU(i, readers); site != nil {
			// Node i and the plain ReLU site i+1 in one pass.
			current = site.Name
			if bn, ok := n.Op.(*BatchNorm2d); ok && isBlk(i) {
				out = bn.bnBlocked(ins[0], true, sb)
			} else if ok {
				out = bn.ForwardReLU(ins[0])
			} else {
				out = PlusReLU(ins[0], ins[1])
			}
			end = i + 1
		} else if o := g.blockedOp(i, isBlk, sb); o != nil {
			out = o(ins[0])
		} else if m, ok := n.Op.(MultiInput); ok && len(ins) > 1 {
			out = m.ForwardN(ins)
		} else {
			out = n.Op.Forward(ins[0])
		}
		if site, ok := g.Nodes[end].Op.(*Site); ok && end > i && site.Shape == nil {
			site.Shape = append([]int(nil), out.Value.Shape[1:]...)
		}
		outs[end] = out
		for j := i; j <= end; j++ {
			for _, in := range g.inputs(j, g.Nodes[j]) {
				if in >= 0 && last[in] <= end && outs[in] != nil {
					v := outs[in].Value.Data
					outs[in] = nil
					if rec.owns(v) && !aliased(outs, -1, v) {
						rec.put(v)
					}
				}
			}
		}
		i = end
	}
	return outs[len(outs)-1], nil
}

// blockedOp returns how to run node i (a one-input convolution, batch
// norm, global average pool or LayoutActivation site) when its input or output is stored in the
// Blocked layout, or nil when it runs as usual.
// Its buffers come from sb (nil: fresh allocations).
func (g *Graph) blockedOp(i int, isBlk func(int) bool, sb *stepBufs) func(*autograd.Var) *autograd.Var {
	in := g.inputs(i, g.Nodes[i])
	if len(in) != 1 {
		return nil
	}
	xb, yb := isBlk(in[0]), isBlk(i)
	if !xb && !yb {
		return nil
	}
	switch op := g.Nodes[i].Op.(type) {
	case *Conv2d:
		return func(x *autograd.Var) *autograd.Var { return op.forwardLayout(x, xb, yb, sb) }
	case *BatchNorm2d:
		return func(x *autograd.Var) *autograd.Var { return op.bnBlocked(x, false, sb) }
	case *Site:
		return op.blockedForward(xb, sb)
	case GlobalAvgPool, *GlobalAvgPool:
		return func(x *autograd.Var) *autograd.Var { return globalAvgPoolBlocked(x, sb) }
	}
	return nil
}

// bnAddReLU matches a training-mode BatchNorm2d at i with blocked output
// feeding only a two-input Add whose other input r is already computed,
// feeding only a plain ReLU site; it returns r, or noResidual.
func (g *Graph) bnAddReLU(i int, readers []int, isBlk func(int) bool) int {
	if g.NoFusion || i+2 >= len(g.Nodes) || readers[i] != 1 || readers[i+1] != 1 || !isBlk(i) {
		return noResidual
	}
	bn, ok := g.Nodes[i].Op.(*BatchNorm2d)
	if !ok || !bn.Training || len(g.inputs(i, g.Nodes[i])) != 1 {
		return noResidual
	}
	switch g.Nodes[i+1].Op.(type) {
	case *Add, Add:
	default:
		return noResidual
	}
	in := g.inputs(i+1, g.Nodes[i+1])
	if len(in) != 2 || (in[0] == i) == (in[1] == i) {
		return noResidual
	}
	r := in[0]
	if r == i {
		r = in[1]
	}
	site, ok := g.Nodes[i+2].Op.(*Site)
	if !ok || site.Act != nil || !g.readsOnly(i+2, i+1) {
		return noResidual
	}
	return r
}

// fusableReLU returns the Site of node i+1 when node i (a BatchNorm2d or
// a two-input Add) can run fused with it: the site is a plain ReLU reading
// only node i, and nothing else reads node i.
func (g *Graph) fusableReLU(i int, readers []int) *Site {
	if g.NoFusion || i+1 >= len(g.Nodes) || readers[i] != 1 {
		return nil
	}
	n, next := g.Nodes[i], g.Nodes[i+1]
	site, ok := next.Op.(*Site)
	if !ok || site.Act != nil {
		return nil
	}
	if in := g.inputs(i+1, next); len(in) != 1 || in[0] != i {
		return nil
	}
	switch n.Op.(type) {
	case *BatchNorm2d:
		if len(g.inputs(i, n)) == 1 {
			return site
		}
	case *Add, Add:
		if len(g.inputs(i, n)) == 2 {
			return site
		}
	}
	return nil
}

// noResidual marks a folded step without a residual addition.
const noResidual = -2

// fold describes an inference step: nodes i..end computed by one
// convolution with a folded batch norm, an optional residual addition of
// node residual's output and an optional ReLU.
type fold struct {
	end, residual int
	relu          bool
}

// foldable matches, when no gradient is recorded, a Conv2d at i feeding
// only an evaluation-mode BatchNorm2d, optionally followed by a two-input
// Add whose other input is already computed, optionally followed by a
// plain ReLU site, each node read only by the next. end == i means no match.
func (g *Graph) foldable(i int, readers []int) fold {
	f := fold{end: i, residual: noResidual}
	if g.NoFusion || autograd.GradEnabled() || i+1 >= len(g.Nodes) || readers[i] != 1 {
		return f
	}
	if _, ok := g.Nodes[i].Op.(*Conv2d); !ok || len(g.inputs(i, g.Nodes[i])) != 1 {
		return f
	}
	bn, ok := g.Nodes[i+1].Op.(*BatchNorm2d)
	if !ok || bn.Training || !g.readsOnly(i+1, i) {
		return f
	}
	f.end = i + 1
	j := i + 2
	if j < len(g.Nodes) && readers[i+1] == 1 {
		switch g.Nodes[j].Op.(type) {
		case *Add, Add:
			in := g.inputs(j, g.Nodes[j])
			if len(in) == 2 && (in[0] == i+1) != (in[1] == i+1) {
				other := in[0]
				if other == i+1 {
					other = in[1]
				}
				if other < i {
					f.end, f.residual = j, other
					j++
				}
			}
		}
	}
	if j < len(g.Nodes) && j == f.end+1 && readers[f.end] == 1 {
		if site, ok := g.Nodes[j].Op.(*Site); ok && site.Act == nil && g.readsOnly(j, f.end) {
			f.end, f.relu = j, true
		}
	}
	return f
}

// readsOnly reports whether node j's only input is node i.
func (g *Graph) readsOnly(j, i int) bool {
	in := g.inputs(j, g.Nodes[j])
	return len(in) == 1 && in[0] == i
}

// inputs resolves a node's input list (empty = previous node).
func (g *Graph) inputs(i int, n *Node) []int {
	if len(n.Inputs) > 0 {
		return n.Inputs
	}
	if i == 0 {
		return []int{-1}
	}
	return []int{i - 1}
}

// Forward runs the graph and panics with a *ShapeError on error (so an
// enclosing Graph.Run reports it); use Run to get the error directly.
func (g *Graph) Forward(x *autograd.Var) *autograd.Var {
	y, err := g.Run(x)
	if err != nil {
		panic(&ShapeError{Op: "graph", Msg: err.Error()})
	}
	return y
}
