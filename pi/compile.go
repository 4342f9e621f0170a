package pi

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/ring"
)

// Config controls compilation.
type Config struct {
	// FracBits is the number of fractional bits of weights and
	// activations; 0 means ring.DefaultFrac (16), DefaultHEFrac (12) in
	// the PolyHE form. At most 20 (the polynomial protocol encodes c0 with
	// 3·FracBits bits).
	FracBits uint
	// Ell is the bit width of the signed inputs of the FSS gates
	// (truncations, ReLUs, max-pool comparisons); 0 means 64. Smaller
	// widths give smaller dealer keys but the activations (at 2·FracBits
	// bits before truncation) must fit.
	Ell int
	// Poly is the fixed-point form of the polynomials: "" (default, the
	// dealer suite's), PolyNarrow or PolyHE (the two-party suite's;
	// PolyFormFor).
	Poly string
	// PBits is the PolyHE form's prime width (Public.PBits); 0 means
	// defaultPBits. Only with PolyHE.
	PBits int
	// Trunc is the two-party suite's truncation mode: "" (exact, the
	// fixed-point executor's values) or TruncFaithful.
	Trunc string
	// Suite is the protocol suite the plan is for (Public.Suite): "" is
	// the suite the forms imply, SuiteTwoParty for a Poly or Trunc other
	// than the default, else SuiteDealer (configSuite).
	Suite string
	// OT is the two-party suite's OT configuration (Public.OT; nil:
	// ot.DefaultConfig).
	OT *OTParams
	// WeightBits is the public weight bound to record (Public.WeightBits):
	// 0 means the smallest that holds the weights; a larger width (at
	// most ℓ) reveals less of them for larger HE uploads, ℓ nothing at
	// all. A width the weights do not fit is an error.
	WeightBits int
	// NoFold keeps the degree-1 activations of the PolyHE form on the
	// PolyHE path; by default Compile folds those it can into the linear
	// step before them (fold.go), which the plan records (Step.Fold).
	NoFold bool
	// FoldShift is the extra fractional bits of the folded weights
	// (Step.FoldShift); 0 means DefaultFoldShift.
	FoldShift uint
}

// value is a compile-time description of an intermediate tensor.
type value struct {
	step  int // producing step (-1 = plan input)
	shape []int
	frac  uint
	div   int64
}

// compiler holds the state of one Compile call.
type compiler struct {
	m      *models.Model
	f      uint
	pub    *Public
	sec    *Secret
	vals   map[int]value  // graph node index → value
	conv   map[string]int // memoised conversions: "<step>/<kind>" → step
	folded map[int]bool   // batch-norm nodes folded into their conv
	// real keeps each conv and dense step's real weights (batch norm
	// folded) and input for fold; coefs each activation step's real
	// per-channel coefficients [C0, C1, C2].
	real  map[int]realLinear
	coefs map[int][][]float64
}

// realLinear is a linear step's weights and biases before quantization
// and its input value.
type realLinear struct {
	w, bias []float64
	x       value
}

// Compile turns a model into a plan. Batch norm is folded into the
// preceding convolution when that convolution has no other reader, else it
// becomes a depthwise 1×1 linear step; dropout and flatten disappear; ReLU
// sites become activation steps (all ReLU for a plain site, the mask and
// per-channel polynomials of an nn.PolyMask, degree ≤ 2). Other ops,
// other activations and polynomials of degree above 2 are errors.
func Compile(m *models.Model, cfg Config) (*Plan, error) {
	if m == nil || m.Net == nil {
		return nil, fmt.Errorf("pi: compile: no model")
	}
	if err := m.Net.Validate(); err != nil {
		return nil, fmt.Errorf("pi: compile: %w", err)
	}
	f := cfg.FracBits
	if f == 0 {
		f = ring.DefaultFrac
		if cfg.Poly == PolyHE {
			f = DefaultHEFrac
		}
	}
	if f > 20 {
		return nil, fmt.Errorf("pi: compile: %d fractional bits, at most 20", f)
	}
	if cfg.Ell != 0 && (cfg.Ell < 2*int(f)+2 || cfg.Ell > 64) {
		return nil, fmt.Errorf("pi: compile: gate width %d bits, want %d..64", cfg.Ell, 2*f+2)
	}
	c := &compiler{
		m: m, f: f,
		pub: &Public{Version: Version, Arch: m.Arch, Classes: m.Classes, Input: m.Input, Frac: f, Ell: cfg.Ell,
			Trunc: cfg.Trunc, Mean: m.Meta.Mean, Std: m.Meta.Std},
		sec:    &Secret{},
		vals:   map[int]value{},
		conv:   map[string]int{},
		folded: map[int]bool{},
		real:   map[int]realLinear{},
		coefs:  map[int][][]float64{},
	}
	if c.pub.Ell == 0 {
		c.pub.Ell = 64
	}
	if err := validPolyForm(cfg.Poly); err != nil {
		return nil, err
	}
	if err := validTruncMode(cfg.Trunc); err != nil {
		return nil, err
	}
	suite, err := configSuite(cfg)
	if err != nil {
		return nil, fmt.Errorf("pi: compile: %w", err)
	}
	c.pub.Suite = suite
	c.pub.OT = canonOT(cfg.OT)
	if err := checkSuiteOT(suite, c.pub.OT); err != nil {
		return nil, fmt.Errorf("pi: compile: %w", err)
	}
	if cfg.Poly == PolyHE && cfg.Trunc != TruncFaithful {
		return nil, fmt.Errorf("pi: compile: polynomial form %q needs truncation mode %q; use %q for exact truncations", PolyHE, TruncFaithful, PolyNarrow)
	}
	if cfg.PBits != 0 && (cfg.Poly != PolyHE || cfg.PBits < minPBits(f) || cfg.PBits > MaxPBits) {
		return nil, fmt.Errorf("pi: compile: prime width %d bits, want %d..%d and form %q", cfg.PBits, minPBits(f), MaxPBits, PolyHE)
	}
	if cfg.Poly == PolyHE && cfg.PBits == 0 && defaultPBits(f) > MaxPBits {
		return nil, fmt.Errorf("pi: compile: polynomial form %q at %d fractional bits wants a prime of %d bits (3f + %d), above the largest, %d: use at most %d fractional bits, an explicit prime width (exact only while |p(x)| < 2^(PBits−3−3f)), or %q",
			PolyHE, f, defaultPBits(f), DefaultPBitsMargin, MaxPBits, (MaxPBits-DefaultPBitsMargin)/3, PolyNarrow)
	}
	if err := c.run(); err != nil {
		return nil, fmt.Errorf("pi: compile %s: %w", m.Arch, err)
	}
	plan := &Plan{Public: c.pub, Secret: c.sec}
	switch cfg.Poly {
	case PolyNarrow:
		if err := plan.setNarrow(); err != nil {
			return nil, fmt.Errorf("pi: compile %s: %w", m.Arch, err)
		}
	case PolyHE:
		plan.setHE(cfg.PBits)
		if !cfg.NoFold {
			s := cfg.FoldShift
			if s == 0 {
				s = DefaultFoldShift
			}
			if err := c.fold(s); err != nil {
				return nil, fmt.Errorf("pi: compile %s: %w", m.Arch, err)
			}
		}
	}
	wb, i := linearWeightBits(c.pub, c.sec)
	if cfg.WeightBits != 0 {
		if cfg.WeightBits < wb || cfg.WeightBits > c.pub.Ell {
			return nil, fmt.Errorf("pi: compile %s: weight bound of %d bits, want %d..ℓ = %d (step %q has a %d-bit weight)", m.Arch, cfg.WeightBits, wb, c.pub.Ell, c.pub.Steps[max(i, 0)].Name, wb)
		}
		wb = cfg.WeightBits
	}
	c.pub.WeightBits = wb
	if err := c.pub.Validate(); err != nil {
		return nil, fmt.Errorf("pi: compile %s: internal error: %w", m.Arch, err)
	}
	return plan, nil
}

// inputsOf resolves a node's inputs (empty = previous node).
func inputsOf(g *nn.Graph, i int) []int {
	if n := g.Nodes[i]; len(n.Inputs) > 0 {
		return n.Inputs
	}
	return []int{i - 1}
}

func (c *compiler) run() error {
	g := c.m.Net
	readers := make([][]int, len(g.Nodes))
	for i := range g.Nodes {
		for _, j := range inputsOf(g, i) {
			if j >= 0 {
				readers[j] = append(readers[j], i)
			}
		}
	}
	for i, n := range g.Nodes {
		in := inputsOf(g, i)
		args := make([]value, len(in))
		for k, j := range in {
			if j < 0 {
				args[k] = value{step: -1, shape: c.m.Input[:], frac: c.f, div: 1}
				continue
			}
			v, ok := c.vals[j]
			if !ok {
				return fmt.Errorf("node %q reads node %d before it is computed", n.Name, j)
			}
			args[k] = v
		}
		if c.folded[i] {
			c.vals[i] = args[0]
			continue
		}
		if len(args) != 1 {
			if _, ok := n.Op.(*nn.Add); !ok {
				return fmt.Errorf("node %q: %T with %d inputs", n.Name, n.Op, len(args))
			}
		}
		var bn *nn.BatchNorm2d
		if _, ok := n.Op.(*nn.Conv2d); ok && len(readers[i]) == 1 {
			j := readers[i][0]
			if b, ok := g.Nodes[j].Op.(*nn.BatchNorm2d); ok && len(inputsOf(g, j)) == 1 {
				bn = b
				c.folded[j] = true
			}
		}
		v, err := c.node(n, args, bn)
		if err != nil {
			return fmt.Errorf("node %q: %w", n.Name, err)
		}
		c.vals[i] = v
	}
	last, ok := c.vals[len(g.Nodes)-1]
	if !ok || last.step < 0 {
		return fmt.Errorf("the graph output is the input")
	}
	if numel(last.shape) != c.m.Classes {
		return fmt.Errorf("output has %d values per image, model has %d classes", numel(last.shape), c.m.Classes)
	}
	return nil
}

// emit appends a step (its In, InShape filled from args) and returns its
// output value.
func (c *compiler) emit(st Step, sec SecretStep, args ...value) value {
	for _, a := range args {
		st.In = append(st.In, a.step)
	}
	st.InShape = append([]int(nil), args[0].shape...)
	c.pub.Steps = append(c.pub.Steps, st)
	c.sec.Steps = append(c.sec.Steps, sec)
	i := len(c.pub.Steps) - 1
	return value{step: i, shape: st.Shape, frac: st.Frac, div: st.Div}
}

// stepName names value v's producing step (or "input").
func (c *compiler) stepName(v value) string {
	if v.step < 0 {
		return "input"
	}
	return c.pub.Steps[v.step].Name
}

// toFrac converts v to frac fractional bits: an exact local scale up or an
// exact FSS truncation down (memoised per value).
func (c *compiler) toFrac(v value, frac uint) value {
	if v.frac == frac {
		return v
	}
	key := fmt.Sprintf("%s/frac%d", c.stepName(v), frac)
	if i, ok := c.conv[key]; ok {
		s := &c.pub.Steps[i]
		return value{step: i, shape: s.Shape, frac: s.Frac, div: s.Div}
	}
	st := Step{Name: key, Node: c.node0(v), Shape: v.shape, Div: v.div, Frac: frac}
	if v.frac < frac {
		st.Op, st.Shift = OpScale, frac-v.frac
	} else {
		st.Op, st.Shift, st.Mul = OpTrunc, v.frac-frac, 1
	}
	out := c.emit(st, SecretStep{}, v)
	c.conv[key] = out.step
	return out
}

// divOne removes v's pending divisor with one FSS truncation: an exact
// floor shift for a power of two, else a multiplication by round(2^f/d)
// and a shift by f (relative error ≤ d/2^(f+1)).
func (c *compiler) divOne(v value) value {
	if v.div == 1 {
		return v
	}
	key := c.stepName(v) + "/div"
	if i, ok := c.conv[key]; ok {
		s := &c.pub.Steps[i]
		return value{step: i, shape: s.Shape, frac: s.Frac, div: s.Div}
	}
	st := Step{Name: key, Node: c.node0(v), Op: OpTrunc, Shape: v.shape, Frac: v.frac, Div: 1}
	if d := uint64(v.div); d&(d-1) == 0 {
		st.Shift, st.Mul = uint(bits.TrailingZeros64(d)), 1
	} else {
		st.Shift, st.Mul = c.f, (uint64(1)<<c.f+d/2)/d
	}
	out := c.emit(st, SecretStep{}, v)
	c.conv[key] = out.step
	return out
}

func (c *compiler) node0(v value) string {
	if v.step < 0 {
		return "input"
	}
	return c.pub.Steps[v.step].Node
}

// node compiles one graph node (with a batch norm to fold for convs).
func (c *compiler) node(n *nn.Node, args []value, bn *nn.BatchNorm2d) (value, error) {
	x := args[0]
	switch op := n.Op.(type) {
	case *nn.Conv2d:
		return c.convStep(n.Name, op, bn, x)
	case *nn.BatchNorm2d:
		return c.affineStep(n.Name, op, x)
	case *nn.Linear:
		return c.denseStep(n.Name, op, x)
	case *nn.Site:
		return c.actStep(n.Name, op, x)
	case *nn.MaxPool2d:
		return c.poolStep(n.Name, OpMaxPool, op.Kernel, op.Stride, op.Pad, x)
	case *nn.AvgPool2d:
		return c.poolStep(n.Name, OpSumPool, op.Kernel, op.Stride, op.Pad, x)
	case *nn.GlobalAvgPool:
		if len(x.shape) != 3 {
			return value{}, fmt.Errorf("global pooling of a %v input", x.shape)
		}
		ch, h, w := chw(x.shape)
		return c.emit(Step{Name: n.Name, Node: n.Name, Op: OpGlobalSum, Shape: []int{ch}, Frac: x.frac, Div: x.div * int64(h*w)}, SecretStep{}, x), nil
	case *nn.Flatten:
		return value{step: x.step, shape: []int{numel(x.shape)}, frac: x.frac, div: x.div}, nil
	case *nn.Dropout:
		return x, nil
	case *nn.Add:
		if len(args) != 2 {
			return value{}, fmt.Errorf("add of %d inputs, want 2", len(args))
		}
		a, b := args[0], args[1]
		if numel(a.shape) != numel(b.shape) {
			return value{}, fmt.Errorf("adding shapes %v and %v", a.shape, b.shape)
		}
		if a.div != b.div {
			a, b = c.divOne(a), c.divOne(b)
		}
		fr := max(a.frac, b.frac)
		a, b = c.toFrac(a, fr), c.toFrac(b, fr)
		return c.emit(Step{Name: n.Name, Node: n.Name, Op: OpAdd, Shape: a.shape, Frac: fr, Div: a.div}, SecretStep{}, a, b), nil
	case nil:
		return value{}, fmt.Errorf("no op")
	default:
		return value{}, fmt.Errorf("unsupported operation %T for private inference", n.Op)
	}
}

// linearInput brings x to f fractional bits (linear layers multiply by
// weights at f bits).
func (c *compiler) linearInput(x value) value { return c.toFrac(x, c.f) }

// encodeLinear encodes real weights at f bits and biases at the output
// scale times the input's divisor.
func (c *compiler) encodeLinear(name string, w, bias []float64, x value) (SecretStep, error) {
	sec := SecretStep{W: make([]uint64, len(w))}
	for i, v := range w {
		e, err := encodeScaled(v, c.f, 1)
		if err != nil {
			return sec, fmt.Errorf("%s weight %d: %w", name, i, err)
		}
		sec.W[i] = e
	}
	if bias != nil {
		sec.Bias = make([]uint64, len(bias))
		for i, v := range bias {
			e, err := encodeScaled(v, x.frac+c.f, x.div)
			if err != nil {
				return sec, fmt.Errorf("%s bias %d: %w", name, i, err)
			}
			sec.Bias[i] = e
		}
	}
	return sec, nil
}

func (c *compiler) convStep(name string, op *nn.Conv2d, bn *nn.BatchNorm2d, x value) (value, error) {
	if len(x.shape) != 3 || x.shape[0] != op.InC {
		return value{}, fmt.Errorf("convolution over %d channels of a %v input", op.InC, x.shape)
	}
	if op.Weight == nil || op.Weight.Value == nil {
		return value{}, fmt.Errorf("no weights")
	}
	x = c.linearInput(x)
	g := Geom{C: x.shape[0], H: x.shape[1], W: x.shape[2], K: op.OutC, R: op.Kernel, S: op.Kernel,
		StrideH: op.Stride, StrideW: op.Stride, PadH: op.Pad, PadW: op.Pad, Groups: op.Groups}
	p := g.Params(1)
	if err := p.Validate(); err != nil {
		return value{}, err
	}
	if len(op.Weight.Value.Data) != p.WLen() {
		return value{}, fmt.Errorf("%d weights, geometry wants %d", len(op.Weight.Value.Data), p.WLen())
	}
	w := make([]float64, p.WLen())
	for i, v := range op.Weight.Value.Data {
		w[i] = float64(v)
	}
	var bias []float64
	if op.Bias != nil {
		if len(op.Bias.Value.Data) != op.OutC {
			return value{}, fmt.Errorf("%d biases for %d outputs", len(op.Bias.Value.Data), op.OutC)
		}
		bias = make([]float64, op.OutC)
		for i, v := range op.Bias.Value.Data {
			bias[i] = float64(v)
		}
	}
	if bn != nil {
		scale, shift, err := bnAffine(bn, op.OutC)
		if err != nil {
			return value{}, fmt.Errorf("folding batch norm: %w", err)
		}
		per := p.WLen() / op.OutC
		if bias == nil {
			bias = make([]float64, op.OutC)
		}
		for k := 0; k < op.OutC; k++ {
			for i := k * per; i < (k+1)*per; i++ {
				w[i] *= scale[k]
			}
			bias[k] = bias[k]*scale[k] + shift[k]
		}
	}
	sec, err := c.encodeLinear(name, w, bias, x)
	if err != nil {
		return value{}, err
	}
	st := Step{Name: name, Node: name, Op: OpLinear, Conv: &g, Bias: bias != nil,
		Shape: []int{p.K, p.OutH(), p.OutW()}, Frac: x.frac + c.f, Div: x.div}
	out := c.emit(st, sec, x)
	c.real[out.step] = realLinear{w: w, bias: bias, x: x}
	return out, nil
}

// bnAffine returns the evaluation-mode batch norm as y = scale·x + shift.
func bnAffine(bn *nn.BatchNorm2d, ch int) (scale, shift []float64, err error) {
	if bn.C != ch || bn.Weight == nil || bn.Bias == nil || bn.RunningMean == nil || bn.RunningVar == nil ||
		len(bn.Weight.Value.Data) != ch || len(bn.Bias.Value.Data) != ch ||
		len(bn.RunningMean.Data) != ch || len(bn.RunningVar.Data) != ch {
		return nil, nil, fmt.Errorf("batch norm parameters do not match %d channels", ch)
	}
	scale, shift = make([]float64, ch), make([]float64, ch)
	for k := 0; k < ch; k++ {
		v := float64(bn.RunningVar.Data[k]) + float64(bn.Eps)
		if !(v > 0) || math.IsInf(v, 0) {
			return nil, nil, fmt.Errorf("channel %d: variance %v", k, bn.RunningVar.Data[k])
		}
		scale[k] = float64(bn.Weight.Value.Data[k]) / math.Sqrt(v)
		shift[k] = float64(bn.Bias.Value.Data[k]) - float64(bn.RunningMean.Data[k])*scale[k]
	}
	return scale, shift, nil
}

// affineStep compiles a batch norm that cannot be folded: a depthwise 1×1
// convolution (the scale is secret, so it is a linear layer).
func (c *compiler) affineStep(name string, bn *nn.BatchNorm2d, x value) (value, error) {
	if len(x.shape) != 3 {
		return value{}, fmt.Errorf("batch norm of a %v input", x.shape)
	}
	ch := x.shape[0]
	scale, shift, err := bnAffine(bn, ch)
	if err != nil {
		return value{}, err
	}
	x = c.linearInput(x)
	g := Geom{C: ch, H: x.shape[1], W: x.shape[2], K: ch, R: 1, S: 1, Groups: ch}
	sec, err := c.encodeLinear(name, scale, shift, x)
	if err != nil {
		return value{}, err
	}
	st := Step{Name: name, Node: name, Op: OpLinear, Conv: &g, Bias: true, Shape: x.shape, Frac: x.frac + c.f, Div: x.div}
	return c.emit(st, sec, x), nil
}

func (c *compiler) denseStep(name string, op *nn.Linear, x value) (value, error) {
	if numel(x.shape) != op.In || len(x.shape) != 1 {
		return value{}, fmt.Errorf("dense layer of %d inputs on a %v value (flatten first)", op.In, x.shape)
	}
	if op.Weight == nil || len(op.Weight.Value.Data) != op.In*op.Out {
		return value{}, fmt.Errorf("weights do not match %dx%d", op.Out, op.In)
	}
	x = c.linearInput(x)
	w := make([]float64, op.In*op.Out)
	for i, v := range op.Weight.Value.Data {
		w[i] = float64(v)
	}
	var bias []float64
	if op.Bias != nil {
		if len(op.Bias.Value.Data) != op.Out {
			return value{}, fmt.Errorf("%d biases for %d outputs", len(op.Bias.Value.Data), op.Out)
		}
		bias = make([]float64, op.Out)
		for i, v := range op.Bias.Value.Data {
			bias[i] = float64(v)
		}
	}
	sec, err := c.encodeLinear(name, w, bias, x)
	if err != nil {
		return value{}, err
	}
	g := Geom{C: op.In, H: 1, W: 1, K: op.Out, R: 1, S: 1}
	st := Step{Name: name, Node: name, Op: OpLinear, Conv: &g, Bias: bias != nil, Shape: []int{op.Out}, Frac: x.frac + c.f, Div: x.div}
	out := c.emit(st, sec, x)
	c.real[out.step] = realLinear{w: w, bias: bias, x: x}
	return out, nil
}

func (c *compiler) actStep(name string, site *nn.Site, x value) (value, error) {
	if len(site.Shape) > 0 && numel(site.Shape) != numel(x.shape) {
		return value{}, fmt.Errorf("site shape %v, input %v", site.Shape, x.shape)
	}
	x = c.divOne(x)
	x = c.toFrac(x, 2*c.f)
	n := numel(x.shape)
	ch, _, _ := chw(x.shape)
	mask := make(corr.ReLUMask, (n+7)/8)
	var sec SecretStep
	var rows [][]float64 // the real coefficients, for fold
	relus := n
	switch act := site.Act.(type) {
	case nil:
		for i := range mask {
			mask[i] = 0xff
		}
		if n%8 != 0 {
			mask[len(mask)-1] = byte(1)<<(n%8) - 1
		}
	case *nn.PolyMask:
		if len(act.Mask) != n || len(act.Coef) != ch {
			return value{}, fmt.Errorf("polymask of %d entries and %d coefficient rows for shape %v", len(act.Mask), len(act.Coef), x.shape)
		}
		relus = 0
		for i, m := range act.Mask {
			switch m {
			case 1:
				mask[i/8] |= 1 << (i % 8)
				relus++
			case 0:
			default:
				return value{}, fmt.Errorf("mask entry %d is %v, want 0 or 1", i, m)
			}
		}
		if relus < n {
			rows = make([][]float64, ch)
			for k, row := range act.Coef {
				if len(row) == 0 {
					return value{}, fmt.Errorf("channel %d has no coefficients", k)
				}
				for d := 3; d < len(row); d++ {
					if row[d] != 0 {
						return value{}, fmt.Errorf("channel %d: polynomial of degree %d, at most 2 supported", k, len(row)-1)
					}
				}
				rows[k] = make([]float64, min(len(row), 3))
				for d := range rows[k] {
					rows[k][d] = float64(row[d])
				}
			}
			enc, err := mpc.EncodePolyCoefs(rows, c.f)
			if err != nil {
				return value{}, err
			}
			sec.Coef = enc
		}
	default:
		return value{}, fmt.Errorf("unsupported activation %T (freeze it into an nn.PolyMask first)", site.Act)
	}
	st := Step{Name: name, Node: name, Op: OpAct, Shape: x.shape, Frac: c.f, Div: 1, Mask: mask, ReLUs: relus}
	out := c.emit(st, sec, x)
	if rows != nil {
		c.coefs[out.step] = rows
	}
	return out, nil
}

func (c *compiler) poolStep(name string, op Op, k, stride, pad int, x value) (value, error) {
	if len(x.shape) != 3 {
		return value{}, fmt.Errorf("pooling of a %v input", x.shape)
	}
	if stride == 0 {
		stride = k
	}
	st := Step{Name: name, Node: name, Op: op, Pool: &Pool{K: k, Stride: stride, Pad: pad}, InShape: x.shape, Frac: x.frac, Div: x.div}
	ps := poolSpec(&st, 1)
	if err := ps.Validate(); err != nil {
		return value{}, err
	}
	st.Shape = []int{x.shape[0], ps.OutH(), ps.OutW()}
	if op == OpSumPool {
		st.Div *= int64(k * k)
	}
	return c.emit(st, SecretStep{}, x), nil
}
