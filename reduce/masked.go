package reduce

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/kernel"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
)

// Defaults of the AutoReP masked activation (reference settings).
const (
	DefaultThreshold = 0.003 // hysteresis threshold t
	DefaultDegree    = 2     // polynomial degree
	DefaultDaPaEvery = 10    // refit coefficients every this many training steps
	DefaultDaPaSteps = 500   // ... during this many first training steps
	DefaultSigmaMin  = 1.0   // floor on the running standard deviation fed to DaPa (bounds c2 ≤ φ(0)/2 ≈ 0.2; 0.1 let degree-2 ResNet-20 searches diverge)
	DefaultPolyBound = 0.25  // κ: each term of degree ≥ 2 stays within κ·|x| over the site's input range (see Masked.PolyBound)
	rangeMomentum    = 0.1   // momentum of the running per-channel input range
)

// Masked is AutoReP's trainable mixed activation for one ReLU call site:
//
//	y = m ⊙ relu(x) + (1 − m) ⊙ p_c(x),  p_c(x) = Σ_k coef[c][k]·x^k
//
// m is a binary per-element mask (shape C×H×W, shared over the batch, 1 =
// ReLU), driven by the trainable score a through the hysteresis rule
// m ← m·[a > −t] + (1 − m)·[a > t] applied before every forward pass, and
// receiving gradients through the straight-through estimator
// ∂L/∂a = ∂L/∂m·softplus(a). The polynomial has per-channel trainable
// coefficients, re-fitted with DaPa from running input statistics every
// DaPaEvery training steps during the first DaPaSteps steps.
//
// Masked implements nn.Activation (Apply).
type Masked struct {
	// Name is the site's dotted name (e.g. "layer1.0.relu1").
	Name string
	// Shape is the per-image shape of the site (C, H, W or C).
	Shape []int
	// Mask holds the binary mask, len = prod(Shape); 1 = ReLU.
	Mask []float32
	// Score is the trainable real score a (shape Shape); nil when the mask
	// is fixed (a binarised SNL result).
	Score *autograd.Var
	// Coef holds the polynomial coefficients [C, Degree+1] (c0, c1, ...).
	Coef *autograd.Var
	// Degree of the polynomial.
	Degree int
	// Threshold t of the hysteresis rule.
	Threshold float32
	// Frozen stops the hysteresis update and the score gradient
	// (finetuning with a fixed mask).
	Frozen bool
	// Training enables running statistics and DaPa refits.
	Training bool
	// Stats are the running per-channel statistics of the input.
	Stats *RunningStats
	// counters holds the training-step count and the number of batches in
	// Stats, as floats so they live in the state dict ("dapa_steps").
	counters []float32
	// DaPaEvery and DaPaSteps control the DaPa refits (0 disables them).
	DaPaEvery, DaPaSteps int
	// SigmaMin floors the standard deviation passed to DaPa.
	SigmaMin float64
	// PolyBound κ (0 = off) keeps every term of degree k ≥ 2 within κ·|x|
	// on the channel's input range R (a running average of the batch
	// maxima of |x|): |c_k| ≤ κ/R^(k−1), enforced before every forward
	// pass. Without it a polynomial that amplifies large inputs
	// (c2·|x| > 1) squares an outlier again at every following site: the
	// inputs of sites after residual additions are not normalised, and
	// degree-2 ResNet-20 searches collapsed that way. The least-squares
	// fit is kept where it is within the bound.
	PolyBound float64
	// Range is the running per-channel range R of |x| (0 until the first
	// training batch).
	Range []float32
	// ScaleX2 S (0 or 1 = off) is the AutoReP reference code's --scale_x2:
	// the quadratic term is S·θ2·x², with θ2 the trainable coefficient
	// that DaPa refits set to the least-squares c2. So the fit's quadratic
	// enters shrunk by S, and under Adam (whose steps do not depend on the
	// gradient's scale) the effective c2 = S·θ2 moves S times slower than
	// the other coefficients. Coef holds θ; PolyMask exports the effective
	// coefficients, so model files and private inference never see S.
	ScaleX2 float64
	// order caches the blocked storage order of the site.
	order []int32
}

// NewMasked returns an AutoReP activation for a site of the given
// per-image shape: mask all ones, scores U(0,1) from rng, coefficients the
// DaPa fit for N(0, 1) (they are re-fitted from data during training).
func NewMasked(name string, shape []int, degree int, rng *rand.Rand) (*Masked, error) {
	if len(shape) == 0 || tensor.Numel(shape) <= 0 {
		return nil, fmt.Errorf("reduce: site %q: bad shape %v", name, shape)
	}
	if degree < 1 || degree > MaxDegree {
		return nil, fmt.Errorf("reduce: site %q: degree %d outside 1..%d", name, degree, MaxDegree)
	}
	n := tensor.Numel(shape)
	c := shape[0]
	m := &Masked{
		Name: name, Shape: append([]int(nil), shape...),
		Mask: make([]float32, n), Degree: degree, Threshold: DefaultThreshold,
		Stats: NewRunningStats(c), DaPaEvery: DefaultDaPaEvery, DaPaSteps: DefaultDaPaSteps,
		SigmaMin: DefaultSigmaMin, PolyBound: DefaultPolyBound, Range: make([]float32, c),
		counters: make([]float32, 2),
	}
	for i := range m.Mask {
		m.Mask[i] = 1
	}
	score := tensor.New(shape...)
	for i := range score.Data {
		score.Data[i] = rng.Float32()
	}
	m.Score = autograd.Param(score)
	m.Coef = autograd.Param(tensor.New(c, degree+1))
	if err := m.Refit(); err != nil {
		return nil, err
	}
	return m, nil
}

// NewFixed returns a Masked activation with a fixed mask and given
// per-channel coefficients [C][deg+1] (no score; Frozen). Use
// Coef.SetRequiresGrad(false) to freeze the coefficients too.
func NewFixed(name string, shape []int, mask []float32, coef [][]float32) (*Masked, error) {
	n := tensor.Numel(shape)
	if len(shape) == 0 || n <= 0 || len(mask) != n {
		return nil, fmt.Errorf("reduce: site %q: mask of %d values for shape %v", name, len(mask), shape)
	}
	c := shape[0]
	if len(coef) != c || len(coef[0]) < 1 {
		return nil, fmt.Errorf("reduce: site %q: %d coefficient rows for %d channels", name, len(coef), c)
	}
	deg := len(coef[0]) - 1
	ct := tensor.New(c, deg+1)
	for i, row := range coef {
		if len(row) != deg+1 {
			return nil, fmt.Errorf("reduce: site %q: ragged coefficients", name)
		}
		copy(ct.Data[i*(deg+1):], row)
	}
	for _, v := range mask {
		if v != 0 && v != 1 {
			return nil, fmt.Errorf("reduce: site %q: mask value %g is not 0/1", name, v)
		}
	}
	return &Masked{
		Name: name, Shape: append([]int(nil), shape...), Mask: append([]float32(nil), mask...),
		Coef: autograd.Param(ct), Degree: deg, Threshold: DefaultThreshold, Frozen: true,
		Stats: NewRunningStats(c), SigmaMin: DefaultSigmaMin, Range: make([]float32, c),
		counters: make([]float32, 2),
	}, nil
}

// Count is the number of ReLUs kept (mask entries equal to 1).
func (m *Masked) Count() int {
	n := 0
	for _, v := range m.Mask {
		if v != 0 {
			n++
		}
	}
	return n
}

// Numel is the number of mask entries (ReLUs of the all-ReLU site).
func (m *Masked) Numel() int { return len(m.Mask) }

// UpdateMask applies the hysteresis rule m ← m·[a > −t] + (1 − m)·[a > t].
// It does nothing when the mask is frozen or there is no score.
func (m *Masked) UpdateMask() {
	if m.Frozen || m.Score == nil {
		return
	}
	t := m.Threshold
	for i, a := range m.Score.Value.Data {
		if m.Mask[i] != 0 {
			if !(a > -t) {
				m.Mask[i] = 0
			}
		} else if a > t {
			m.Mask[i] = 1
		}
	}
}

// Refit sets the coefficients to the DaPa fit of the running statistics.
func (m *Masked) Refit() error {
	d := m.Degree + 1
	for c := range m.Stats.Mean {
		sigma := math.Sqrt(math.Max(float64(m.Stats.Var[c]), 0))
		if sigma < m.SigmaMin || math.IsNaN(sigma) {
			sigma = m.SigmaMin
		}
		if sigma <= 0 {
			sigma = 1e-3
		}
		co, err := DaPa(float64(m.Stats.Mean[c]), sigma, m.Degree)
		if err != nil {
			return fmt.Errorf("reduce: site %q channel %d: %w", m.Name, c, err)
		}
		for k := 0; k < d; k++ {
			m.Coef.Value.Data[c*d+k] = float32(co[k])
		}
	}
	return nil
}

// x2Scale is the factor of the stored x² coefficient in the polynomial
// (ScaleX2, 1 when off or when there is no x² term).
func (m *Masked) x2Scale() float32 {
	if m.ScaleX2 == 0 || m.Degree < 2 {
		return 1
	}
	return float32(m.ScaleX2)
}

// effCoef returns the coefficients the polynomial applies ([C, Degree+1]):
// Coef with the x² column times ScaleX2 (Coef itself when unscaled).
func (m *Masked) effCoef() []float32 {
	s := m.x2Scale()
	if s == 1 {
		return m.Coef.Value.Data
	}
	d := m.Degree + 1
	out := append([]float32(nil), m.Coef.Value.Data...)
	for i := 2; i < len(out); i += d {
		out[i] *= s
	}
	return out
}

// Bound clamps the coefficients of degree ≥ 2 to |c_k| ≤ κ/R^(k−1) per
// channel (see PolyBound); channels whose range is not known yet are left
// alone. The bound is on the applied coefficient: with ScaleX2 S the
// stored θ2 is clamped to κ/(S·R).
func (m *Masked) Bound() {
	if m.PolyBound <= 0 || m.Degree < 2 {
		return
	}
	d := m.Degree + 1
	for c, r := range m.Range {
		if !(r > 0) {
			continue
		}
		lim := m.PolyBound
		for k := 2; k < d; k++ {
			lim /= float64(r)
			l := lim
			if k == 2 {
				l /= float64(m.x2Scale())
			}
			v := &m.Coef.Value.Data[c*d+k]
			*v = float32(math.Max(-l, math.Min(l, float64(*v))))
		}
	}
}

// updateRange folds the batch's per-channel maxima of |x| into Range.
func (m *Masked) updateRange(xs []float32, n, s int, order []int32) {
	batch := channelAbsMax(xs, n, len(m.Range), s, order)
	for ch, v := range batch {
		if v != v || math.IsInf(float64(v), 0) {
			continue // a non-finite batch says nothing about the range
		}
		if m.Range[ch] == 0 {
			m.Range[ch] = v
		} else {
			m.Range[ch] = float32((1-rangeMomentum)*float64(m.Range[ch]) + rangeMomentum*float64(v))
		}
	}
}

// Steps is the number of training forward passes seen (with gradient
// recording on, in training mode).
func (m *Masked) Steps() int { return int(m.counters[0]) }

// Parameters implements nn.ParamHolder: "score" (a, when the mask is
// searched) and "poly" (the coefficients [C, deg+1]), so the state dict of
// a model under search holds "<site>.poly" like a final model file.
func (m *Masked) Parameters() []nn.Named {
	var out []nn.Named
	if m.Score != nil {
		out = append(out, nn.Named{Name: "score", Var: m.Score})
	}
	return append(out, nn.Named{Name: "poly", Var: m.Coef})
}

// Buffers implements nn.BufferHolder: "mask" (live, shape Shape),
// "dapa_mean" and "dapa_var" (running input statistics, [C]) and
// "dapa_steps" (training steps, batches in the statistics) and
// "poly_range" (the running input range of PolyBound, [C]), so a
// checkpoint of the state dict resumes the search exactly.
func (m *Masked) Buffers() []nn.NamedTensor {
	c := len(m.Stats.Mean)
	return []nn.NamedTensor{
		{Name: "mask", Tensor: tensor.FromData(m.Mask, m.Shape...)},
		{Name: "dapa_mean", Tensor: tensor.FromData(m.Stats.Mean, c)},
		{Name: "dapa_var", Tensor: tensor.FromData(m.Stats.Var, c)},
		{Name: "dapa_steps", Tensor: tensor.FromData(m.counters, 2)},
		// Optional: search checkpoints written before the bound existed
		// resume with the range re-learned from the next batches.
		{Name: "poly_range", Tensor: tensor.FromData(m.Range, c), Optional: true},
	}
}

// ReLUCount implements nn.ReLUCounter (same as Count).
func (m *Masked) ReLUCount() int { return m.Count() }

// PolyMask returns the frozen activation with m's current mask and
// applied coefficients (copies; ScaleX2 folded in), as saved in model
// files and used by eval and pi. It applies the bound first, in case an
// optimiser step came after the last forward pass.
func (m *Masked) PolyMask() *nn.PolyMask {
	m.Bound()
	d := m.Degree + 1
	coef := m.effCoef()
	c := len(coef) / d
	p := &nn.PolyMask{Mask: append([]float32(nil), m.Mask...), Coef: make([][]float32, c)}
	for i := range p.Coef {
		p.Coef[i] = append([]float32(nil), coef[i*d:(i+1)*d]...)
	}
	return p
}

// SetTraining switches between training (statistics, refits) and eval.
func (m *Masked) SetTraining(b bool) { m.Training = b }

// Apply runs the activation on x of shape [N, Shape...]. Before the
// forward pass it applies the hysteresis update; in training mode (with
// gradient recording on) it also updates the running statistics and, on
// schedule, re-fits the coefficients, and it tracks the input range that
// bounds the coefficients (PolyBound) before they are used.
func (m *Masked) Apply(x *autograd.Var) *autograd.Var { return m.ApplyLayout(x, kernel.NCHW) }

// ApplyLayout implements nn.LayoutActivation: Apply for x [N, C, H, W]
// stored in layout l (kernel.Blocked keeps oneDNN's nChw16c order through
// the site; the mask and coefficients are laid out to match).
func (m *Masked) ApplyLayout(x *autograd.Var, l kernel.Layout) *autograd.Var {
	return m.ApplyLayoutInto(x, l, nil)
}

// ApplyLayoutInto implements nn.PooledLayoutActivation: ApplyLayout with
// the output stored in y (nil: a new buffer).
func (m *Masked) ApplyLayoutInto(x *autograd.Var, l kernel.Layout, y []float32) *autograd.Var {
	numel := len(m.Mask)
	if len(x.Value.Shape) < 2 || x.Value.Len()%numel != 0 || tensor.Numel(x.Value.Shape[1:]) != numel {
		panic(&nn.ShapeError{Op: "reduce site " + m.Name, Msg: fmt.Sprintf("input %v does not match site shape %v", x.Value.Shape, m.Shape)})
	}
	m.UpdateMask()
	n := x.Value.Shape[0]
	c := m.Shape[0]
	s := numel / c
	order := storageOrder(m.Shape, l, &m.order)
	if m.Training && autograd.GradEnabled() {
		m.counters[0]++
		steps := m.Steps()
		if m.DaPaEvery > 0 && steps <= m.DaPaSteps {
			m.Stats.Count = int(m.counters[1])
			xs := x.Value.Data
			if order != nil {
				xs = make([]float32, len(xs))
				kernel.FromLayout(l, n, c, s, x.Value.Data, xs)
			}
			m.Stats.Update(xs, n, c, s)
			m.counters[1] = float32(m.Stats.Count)
			if steps%m.DaPaEvery == 0 {
				if err := m.Refit(); err != nil {
					panic(err) // unreachable: Refit floors sigma
				}
			}
		}
		if m.PolyBound > 0 && m.Degree >= 2 {
			m.updateRange(x.Value.Data, n, s, order)
		}
	}
	m.Bound()
	t := newPolyTables(m.Mask, m.effCoef(), c, s, order)
	x2s := m.x2Scale()
	out := outTensor(x.Value, y)
	t.forward(x.Value.Data, out.Data)
	var score *autograd.Var
	if !m.Frozen {
		score = m.Score
	}
	return autograd.Result(out, func(g *tensor.Tensor) {
		// dx overwrites g, which belongs to this op's output.
		var dxd []float32
		if x.RequiresGrad() {
			dxd = g.Data
		}
		wantM := score != nil && score.RequiresGrad()
		dm, dc := t.backward(x.Value.Data, g.Data, dxd, wantM, m.Coef.RequiresGrad())
		if dxd != nil {
			x.AccumGrad(g)
		}
		if dm != nil {
			// Straight-through estimator: ∂L/∂a = ∂L/∂m · softplus(a).
			for i, a := range score.Value.Data {
				dm[i] *= softplus(a)
			}
			score.AccumGrad(tensor.FromData(dm, score.Value.Shape...))
		}
		if dc != nil {
			if x2s != 1 { // ∂L/∂θ2 = S·∂L/∂c2
				for i := 2; i < len(dc); i += m.Degree + 1 {
					dc[i] *= x2s
				}
			}
			m.Coef.AccumGrad(tensor.FromData(dc, m.Coef.Value.Shape...))
		}
	}, x, score, m.Coef)
}

// softplus is log(1 + e^a), computed stably.
func softplus(a float32) float32 {
	v := float64(a)
	if v > 20 {
		return a
	}
	if v < -20 {
		return float32(math.Exp(v))
	}
	return float32(math.Log1p(math.Exp(v)))
}

// TrimFraction bounds the excess a finished AutoReP search may have and
// still be trimmed to its budget (TrimToBudget) instead of failing: at
// most budget/TrimFraction ReLUs above it.
const TrimFraction = 10

// TrimToBudget replaces kept positions of the sites, lowest score first
// (ties: site, then position order), until at most budget ReLUs remain,
// and returns how many it replaced. Sites without a score keep their
// mask and count against the budget.
func TrimToBudget(sites []*Masked, budget int) int {
	type pos struct {
		score float32
		site  int
		i     int
	}
	var kept []pos
	n := 0
	for s, m := range sites {
		n += m.Count()
		if m.Score == nil {
			continue
		}
		for i, v := range m.Mask {
			if v != 0 {
				kept = append(kept, pos{m.Score.Value.Data[i], s, i})
			}
		}
	}
	k := min(max(n-budget, 0), len(kept))
	if k == 0 {
		return 0
	}
	sort.SliceStable(kept, func(a, b int) bool { return kept[a].score < kept[b].score })
	for _, p := range kept[:k] {
		sites[p.site].Mask[p.i] = 0
	}
	return k
}
