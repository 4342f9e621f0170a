package pi

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// Op names the operation of a Step.
type Op string

// The step operations. Only OpLinear, OpAct, OpMaxPool and OpTrunc talk to
// the peer; the others are local on shares.
const (
	// OpLinear is a convolution or dense layer with server-held weights
	// (batch norm folded in; a non-foldable batch norm is a depthwise 1×1
	// convolution). Output scale: input scale + f.
	OpLinear Op = "linear"
	// OpAct is a mixed ReLU/polynomial activation site: input at 2f
	// fractional bits and divisor 1, output at f.
	OpAct Op = "act"
	// OpMaxPool is max pooling (FSS ReLU tournament, exact).
	OpMaxPool Op = "maxpool"
	// OpSumPool is the window sum of average pooling (local); the divisor
	// K² is carried in Div.
	OpSumPool Op = "sumpool"
	// OpGlobalSum sums each channel plane (local); the divisor H·W is
	// carried in Div.
	OpGlobalSum Op = "globalsum"
	// OpAdd adds two values of equal scale (local).
	OpAdd Op = "add"
	// OpScale multiplies by the public 2^Shift (local, exact).
	OpScale Op = "scale"
	// OpTrunc computes floor(x·Mul / 2^Shift) with the exact FSS
	// truncation gate (one round).
	OpTrunc Op = "trunc"
)

// Version is the plan format version, part of the public hash.
const Version = 1

// Geom is the per-image geometry of a linear step: a convolution of an
// input [C, H, W] with weights [K, C/Groups, R, S] (a dense layer is the
// 1×1 case over H = W = 1).
type Geom struct {
	// C, H, W is the input; K, R, S the output channels and window.
	C, H, W          int
	K, R, S          int
	StrideH, StrideW int
	PadH, PadW       int
	Groups           int
}

// Params returns the ring convolution parameters for a batch of n images.
func (g Geom) Params(n int) ring.ConvParams {
	return ring.ConvParams{N: n, C: g.C, H: g.H, W: g.W, K: g.K, R: g.R, S: g.S,
		StrideH: g.StrideH, StrideW: g.StrideW, PadH: g.PadH, PadW: g.PadW, Groups: g.Groups}.Norm()
}

// Pool is the geometry of a pooling step: a K×K window with stride Stride and
// padding Pad.
type Pool struct {
	// K is the window size, Stride its step, Pad the padding.
	K, Stride, Pad int
}

// Step is one operation of a plan, applied to the values of earlier steps.
type Step struct {
	// Name labels the step's traffic and dealer material; unique.
	Name string `json:"name"`
	// Node is the graph node the step comes from.
	Node string `json:"node"`
	// Op is the operation.
	Op Op `json:"op"`
	// In lists the input values: -1 is the plan input, i ≥ 0 the output
	// of step i (< this step's index).
	In []int `json:"in"`
	// InShape is the per-image shape of the (first) input.
	InShape []int `json:"in_shape"`
	// Shape is the per-image shape of the output.
	Shape []int `json:"shape"`
	// Frac is the number of fractional bits of the output.
	Frac uint `json:"frac"`
	// Div is the public divisor still to be applied to the output: its
	// real value is v / 2^Frac / Div.
	Div int64 `json:"div"`
	// Conv is the geometry of OpLinear.
	Conv *Geom `json:"conv,omitempty"`
	// Bias tells whether an OpLinear adds a bias.
	Bias bool `json:"bias,omitempty"`
	// Mask is the ReLU mask of OpAct as a bitset over C·H·W (LSB first,
	// 1 = ReLU, 0 = polynomial), the form mpc's layers and requests use;
	// on an OpLinear with Fold, the mask of the activation it feeds.
	Mask corr.ReLUMask `json:"mask,omitempty"`
	// ReLUs is the number of ReLU positions of OpAct per image.
	ReLUs int `json:"relus,omitempty"`
	// Pool is the window of OpMaxPool and OpSumPool.
	Pool *Pool `json:"pool,omitempty"`
	// Shift is the shift of OpTrunc and OpScale.
	Shift uint `json:"shift,omitempty"`
	// Mul is the public multiplier of OpTrunc (1 for a plain shift).
	Mul uint64 `json:"mul,omitempty"`
	// PolyDeg is 1 for an OpAct whose polynomials are all of degree ≤ 1
	// in the narrow form (its gate skips the square), 0 otherwise.
	PolyDeg int `json:"poly_deg,omitempty"`
	// Fold marks an OpLinear into which the degree-1 polynomials of the
	// activation reading it are folded (fold.go): at the positions where
	// Mask is 0 it computes with the folded weights (SecretStep.FoldW,
	// FoldBias), elsewhere with W. PolyHE form only; omitted when false,
	// so unfolded plans hash as before.
	Fold bool `json:"fold,omitempty"`
	// FoldShift is the extra fractional bits s of a Fold step's folded
	// weights (at f + s) and biases (at 2f + s): its outputs at the
	// folded positions are at 2f + s fractional bits, which the folded
	// activation truncates by f + s (fold.go).
	FoldShift uint `json:"fold_shift,omitempty"`
	// Folded marks an OpAct whose polynomial positions were folded into
	// the OpLinear before it: they compute ⌊z/2^(f+s)⌋, the truncation
	// alone (s the linear step's FoldShift).
	Folded bool `json:"folded,omitempty"`
}

// Positions is the number of elements of the step's output per image.
func (s *Step) Positions() int { return numel(s.Shape) }

// Public is the part of a plan both parties know: the architecture as a
// list of steps with shapes, masks and fixed-point bookkeeping.
type Public struct {
	// Version is the plan format (Version).
	Version int `json:"version"`
	// Arch, Classes and Input describe the model (input C, H, W).
	Arch    string `json:"arch"`
	Classes int    `json:"classes"`
	Input   [3]int `json:"input"`
	// Frac is the number of fractional bits of weights and activations.
	Frac uint `json:"frac"`
	// Ell is the bit width of the FSS gate inputs (64 by default).
	Ell int `json:"ell"`
	// Suite is the protocol suite the plan is compiled for (SuiteDealer
	// or SuiteTwoParty, Config.Suite); Poly, Trunc and PBits are its
	// parameters. A party of the other suite refuses the plan, and the
	// hash the hello compares covers the name.
	Suite string `json:"suite"`
	// Poly is the fixed-point form of the activation polynomials: "" for
	// the default (mpc.PolyCoefs.Eval), PolyNarrow for the two-party
	// suite's. Omitted when empty, so default plans hash as before.
	Poly string `json:"poly,omitempty"`
	// Trunc is the two-party suite's truncation mode: "" for exact
	// truncations, TruncFaithful for one-unit errors. Omitted when empty,
	// so exact plans hash as before and the hello's plan hash makes both
	// parties agree on it.
	Trunc string `json:"trunc,omitempty"`
	// PBits is the bit width of the prime plaintext modulus P of the
	// PolyHE form (0 for the other forms; omitted then, so their plans
	// hash as before).
	PBits int `json:"pbits,omitempty"`
	// OT is the two-party suite's OT configuration (OTParams; nil, and
	// omitted, for ot.DefaultConfig, so default plans hash as before):
	// both parties extend their OTs by it.
	OT *OTParams `json:"ot,omitempty"`
	// WeightBits is a public bound on the server's linear weights: every
	// weight of every OpLinear step, as a fixed-point integer taken mod
	// 2^ℓ and centred, lies in [−2^(WeightBits−1), 2^(WeightBits−1)).
	// Compile sets it to the smallest such width (linearWeightBits); the
	// two-party suite's HE linear layers size their noise flooding, hence
	// their moduli and uploads, by it (helinear.NewParamsW). It reveals
	// the bit width of the largest weight (docs/SECURITY.md). 0, as in
	// plans from before the bound, means ℓ: any weight.
	WeightBits int `json:"weight_bits,omitempty"`
	// TopK is the output mode, chosen by the server: 0 reveals the
	// logits; K ≥ 1 reveals only the indices of the K largest logits, in
	// order (1 = the label), computed by a secure argmax. Omitted when 0,
	// so logits plans hash as before and the hello's plan hash makes both
	// parties agree on it.
	TopK int `json:"topk,omitempty"`
	// Mean and Std are the input normalisation the client applies
	// (x = (p/255 − Mean[c]) / Std[c]), if recorded in the model.
	Mean []float32 `json:"mean,omitempty"`
	Std  []float32 `json:"std,omitempty"`
	// Steps are the operations in execution order; the last one's output
	// is revealed to the client.
	Steps []Step `json:"steps"`
}

// Secret is the server's part of a plan, indexed like Public.Steps.
type Secret struct {
	// Steps has one entry per public step (empty for steps without secrets).
	Steps []SecretStep
}

// SecretStep holds one step's secrets: fixed-point weights (at Frac bits)
// and biases (at the step's output scale, multiplied by the input's
// divisor) of an OpLinear, the encoded polynomial coefficients of an OpAct
// with polynomial positions.
type SecretStep struct {
	// W holds the weights [K, C/Groups, R, S] of an OpLinear.
	W []uint64
	// Bias holds K biases of an OpLinear (nil without bias).
	Bias []uint64
	// Coef holds the polynomial coefficients of an OpAct, encoded at the
	// plan's Frac (mpc.EncodePolyCoefs).
	Coef mpc.PolyCoefs
	// FoldW and FoldBias are the folded weights C1·W and biases
	// C1·bias + C0 of an OpLinear with Fold, encoded like W and Bias with
	// FoldShift more fractional bits (zero for the channels without
	// polynomial positions).
	FoldW, FoldBias []uint64
}

// Plan is a compiled model: the public description and the server's secrets.
type Plan struct {
	// Public is known to both parties.
	Public *Public
	// Secret is the server's.
	Secret *Secret
}

// PublicHash returns the hash of the public description (see Public.Hash).
func (p *Plan) PublicHash() [32]byte { return p.Public.Hash() }

// Hash returns the SHA-256 of the canonical JSON encoding of the public
// description; the two parties compare it in the handshake.
func (p *Public) Hash() [32]byte {
	b, err := json.Marshal(p)
	if err != nil { // cannot happen: plain data
		panic(fmt.Sprintf("pi: encoding public plan: %v", err))
	}
	return sha256.Sum256(b)
}

// MarshalBinary encodes the public description (canonical JSON).
func (p *Public) MarshalBinary() ([]byte, error) { return json.Marshal(p) }

// UnmarshalPublic decodes and validates a public description.
func UnmarshalPublic(b []byte) (*Public, error) {
	var p Public
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("pi: decoding public plan: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Output returns the fixed-point bookkeeping of the plan's result: its
// fractional bits and public divisor.
func (p *Public) Output() (frac uint, div int64) {
	s := &p.Steps[len(p.Steps)-1]
	return s.Frac, s.Div
}

// InputLen is the number of input values per image.
func (p *Public) InputLen() int { return p.Input[0] * p.Input[1] * p.Input[2] }

// ReLUs returns the number of ReLU positions per image (mask entries equal
// to 1 over all activation sites) and the number of max-pool comparisons.
func (p *Public) ReLUs() (relus, comparisons int) {
	for i := range p.Steps {
		s := &p.Steps[i]
		switch s.Op {
		case OpAct:
			relus += s.ReLUs
		case OpMaxPool:
			comparisons += maxPoolComparisons(s)
		}
	}
	return relus, comparisons
}

// WeightBound is the width of the plan's public weight bound: WeightBits,
// or ℓ for a plan without one.
func (p *Public) WeightBound() int {
	if p.WeightBits == 0 {
		return effEll(p.Ell)
	}
	return p.WeightBits
}

// weightBits is the smallest width w ≥ 1 for which v mod 2^ℓ, centred,
// lies in [−2^(w−1), 2^(w−1)) (helinear's reading of a weight).
func weightBits(v uint64, ell int) int {
	c := int64(v<<(64-ell)) >> (64 - ell)
	if c < 0 {
		c = ^c
	}
	return bits.Len64(uint64(c)) + 1
}

// linearWeightBits returns the smallest public weight bound
// (Public.WeightBits) that holds every weight of the plan's linear steps
// at the plan's ℓ (the folded weights of a Fold step too), and the step of
// the widest weight (−1 without linear steps). Only the weights count: helinear multiplies the client's shares
// by them alone, the server adds the biases in the clear.
func linearWeightBits(pub *Public, sec *Secret) (wb, step int) {
	wb, step = 1, -1
	ell := effEll(pub.Ell)
	for i := range pub.Steps {
		if pub.Steps[i].Op != OpLinear || i >= len(sec.Steps) {
			continue
		}
		for _, w := range [][]uint64{sec.Steps[i].W, sec.Steps[i].FoldW} {
			for _, v := range w {
				if b := weightBits(v, ell); b > wb || step < 0 {
					wb, step = max(wb, b), i
				}
			}
		}
	}
	return wb, step
}

// checkWeightBound reports a linear weight outside the plan's public
// weight bound, which the two-party suite's HE layers would refuse
// mid-request (their flood covers the bound's noise, no more).
func (p *Plan) checkWeightBound() error {
	if p.Public.WeightBits == 0 {
		return nil
	}
	if wb, i := linearWeightBits(p.Public, p.Secret); wb > p.Public.WeightBits {
		return fmt.Errorf("pi: step %q has a weight of %d bits, above the plan's public weight bound of %d bits", p.Public.Steps[i].Name, wb, p.Public.WeightBits)
	}
	return nil
}

// maxPoolComparisons counts the ReLU gates of one image's max pooling.
func maxPoolComparisons(s *Step) int {
	n := 0
	for _, r := range mpc.MaxPoolRounds(poolSpec(s, 1)) {
		n += r
	}
	return n
}

// maxDim bounds every dimension of a public description so that a hostile
// description cannot ask for absurd allocations.
const maxDim = 1 << 24

// maxStepElems bounds the per-image size of one value.
const maxStepElems = 1 << 26

// Validate checks that the public description is self-consistent: shapes
// agree with the operations, inputs refer to earlier steps, masks have the
// right length. It does not check secrets.
func (p *Public) Validate() error {
	if p.Version != Version {
		return fmt.Errorf("pi: plan version %d, want %d", p.Version, Version)
	}
	if p.Frac == 0 || p.Frac > 20 {
		return fmt.Errorf("pi: %d fractional bits, want 1..20", p.Frac)
	}
	if p.Ell < 0 || p.Ell > 64 || (p.Ell != 0 && p.Ell < 2*int(p.Frac)+2) {
		return fmt.Errorf("pi: gate width %d bits out of range", p.Ell)
	}
	if err := validPolyForm(p.Poly); err != nil {
		return err
	}
	if err := validTruncMode(p.Trunc); err != nil {
		return err
	}
	if err := checkSuiteForms(p.Suite, p.Poly, p.Trunc); err != nil {
		return err
	}
	if err := checkSuiteOT(p.Suite, p.OT); err != nil {
		return err
	}
	if err := p.checkPBits(); err != nil {
		return err
	}
	if p.WeightBits < 0 || p.WeightBits > effEll(p.Ell) {
		return fmt.Errorf("pi: weight bound of %d bits outside 0..ℓ = %d", p.WeightBits, effEll(p.Ell))
	}
	if p.Classes <= 0 || p.Classes > maxDim {
		return fmt.Errorf("pi: %d classes", p.Classes)
	}
	if p.TopK < 0 || p.TopK > p.Classes {
		return fmt.Errorf("pi: output of the %d best labels for %d classes", p.TopK, p.Classes)
	}
	for _, d := range p.Input {
		if d <= 0 || d > maxDim {
			return fmt.Errorf("pi: input shape %v", p.Input)
		}
	}
	if numel(p.Input[:]) > maxStepElems {
		return fmt.Errorf("pi: input shape %v too large", p.Input)
	}
	if len(p.Steps) == 0 {
		return fmt.Errorf("pi: plan has no steps")
	}
	names := map[string]bool{}
	for i := range p.Steps {
		s := &p.Steps[i]
		if err := p.checkStep(i, s); err != nil {
			return fmt.Errorf("pi: step %d (%s %q): %w", i, s.Op, s.Name, err)
		}
		if s.PolyDeg != 0 && (s.PolyDeg != 1 || (p.Poly != PolyNarrow && p.Poly != PolyHE) || s.Op != OpAct) {
			return fmt.Errorf("pi: step %d (%s %q): polynomial degree mark %d outside the narrow and HE forms' activations", i, s.Op, s.Name, s.PolyDeg)
		}
		if names[s.Name] {
			return fmt.Errorf("pi: step %d: duplicate name %q", i, s.Name)
		}
		names[s.Name] = true
	}
	if err := p.checkFold(); err != nil {
		return err
	}
	if out := p.Steps[len(p.Steps)-1].Positions(); out != p.Classes {
		return fmt.Errorf("pi: plan output has %d values per image, want %d classes", out, p.Classes)
	}
	return nil
}

// inShape returns the per-image shape and scale of value v as seen by step i.
func (p *Public) value(v int) (shape []int, frac uint, div int64) {
	if v < 0 {
		return p.Input[:], p.Frac, 1
	}
	s := &p.Steps[v]
	return s.Shape, s.Frac, s.Div
}

func (p *Public) checkStep(i int, s *Step) error {
	if s.Name == "" || len(s.Name) > 1024 {
		return fmt.Errorf("bad name")
	}
	want := 1
	if s.Op == OpAdd {
		want = 2
	}
	if len(s.In) != want {
		return fmt.Errorf("%d inputs, want %d", len(s.In), want)
	}
	for _, v := range s.In {
		if v < -1 || v >= i {
			return fmt.Errorf("input %d does not refer to an earlier step", v)
		}
	}
	for _, d := range s.Shape {
		if d <= 0 || d > maxDim {
			return fmt.Errorf("shape %v", s.Shape)
		}
	}
	if len(s.Shape) == 0 || len(s.Shape) > 3 || numel(s.Shape) > maxStepElems {
		return fmt.Errorf("shape %v", s.Shape)
	}
	if s.Frac == 0 || s.Frac > 3*p.Frac || s.Div < 1 || s.Div > 1<<30 {
		return fmt.Errorf("scale 2^%d·%d out of range", s.Frac, s.Div)
	}
	in0, frac, div := p.value(s.In[0])
	in := s.InShape
	if numel(in0) != numel(in) || len(in) == 0 || len(in) > 3 {
		return fmt.Errorf("input shape %v, recorded %v", in0, in)
	}
	c, h, w := chw(in)
	out := numel(s.Shape)
	switch s.Op {
	case OpLinear:
		g := s.Conv
		if g == nil {
			return fmt.Errorf("no geometry")
		}
		if g.C*g.H*g.W != numel(in) {
			return fmt.Errorf("geometry %+v for an input of shape %v", *g, in)
		}
		pr := g.Params(1)
		if err := pr.Validate(); err != nil {
			return err
		}
		if pr.YLen() != out {
			return fmt.Errorf("geometry gives %d outputs, shape %v", pr.YLen(), s.Shape)
		}
		if frac != p.Frac || s.Frac != frac+p.Frac || s.Div != div {
			return fmt.Errorf("scale bookkeeping")
		}
	case OpAct:
		if frac != 2*p.Frac || div != 1 || s.Frac != p.Frac || s.Div != 1 || !slices.Equal(in, s.Shape) || out != numel(in) {
			return fmt.Errorf("scale or shape bookkeeping")
		}
		c, h, w := chw(s.Shape)
		if err := (corr.ActSpec{N: 1, C: c, HW: h * w, ReLU: s.Mask}).Validate(); err != nil {
			return err
		}
		if n := s.Mask.Count(); n != s.ReLUs {
			return fmt.Errorf("mask has %d ReLUs, recorded %d", n, s.ReLUs)
		}
	case OpMaxPool, OpSumPool:
		if s.Pool == nil || len(in) != 3 {
			return fmt.Errorf("no window")
		}
		ps := poolSpec(s, 1)
		if err := ps.Validate(); err != nil {
			return err
		}
		if ps.OutLen() != out || s.Frac != frac {
			return fmt.Errorf("pool output bookkeeping")
		}
		wantDiv := div
		if s.Op == OpSumPool {
			wantDiv = div * int64(s.Pool.K*s.Pool.K)
		}
		if s.Div != wantDiv {
			return fmt.Errorf("divisor bookkeeping")
		}
	case OpGlobalSum:
		if len(in) != 3 || out != c || s.Frac != frac || s.Div != div*int64(h*w) {
			return fmt.Errorf("bookkeeping")
		}
	case OpAdd:
		in2, frac2, div2 := p.value(s.In[1])
		if numel(in) != numel(in2) {
			return fmt.Errorf("adding shapes %v and %v", in, in2)
		}
		if frac != frac2 || div != div2 || s.Frac != frac || s.Div != div || numel(in) != out {
			return fmt.Errorf("scale bookkeeping")
		}
	case OpScale:
		if s.Shift == 0 || s.Frac != frac+s.Shift || s.Div != div || numel(in) != out {
			return fmt.Errorf("scale bookkeeping")
		}
	case OpTrunc:
		if s.Mul == 0 || s.Shift == 0 || s.Shift > 62 || numel(in) != out {
			return fmt.Errorf("truncation parameters")
		}
		if s.Mul == 1 && s.Div == div {
			if s.Frac+s.Shift != frac {
				return fmt.Errorf("scale bookkeeping")
			}
		} else if s.Div != 1 || s.Frac != frac {
			return fmt.Errorf("divisor bookkeeping")
		}
	default:
		return fmt.Errorf("unknown operation")
	}
	return nil
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// chw reads a per-image shape as C, H, W (a flat shape is C×1×1).
func chw(s []int) (c, h, w int) {
	c, h, w = 1, 1, 1
	if len(s) > 0 {
		c = s[0]
	}
	if len(s) > 1 {
		h = s[1]
	}
	if len(s) > 2 {
		w = s[2]
	}
	return
}

// encodeScaled encodes x·2^frac·mul, rounding half away from zero, with an
// error when it does not fit a signed 64-bit value.
func encodeScaled(x float64, frac uint, mul int64) (uint64, error) {
	v := x * float64(mul)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("value %v is not finite", x)
	}
	return ring.EncodeChecked(v, frac)
}
