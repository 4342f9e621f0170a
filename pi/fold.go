package pi

import (
	"fmt"
	"slices"
)

// Folding degree-1 activations into the linear step before them (PolyHE
// form). A polynomial position of a degree-1 activation computes
// C1·y + C0 on the output y = W·x + bias of the linear step that feeds it;
// that is a linear step itself, with weights C1·W and bias C1·bias + C0 at
// that position. Compile (Config.NoFold unset) folds such a site when the
// linear step's output is read by the activation alone and its geometry is
// ungrouped: the linear step (Step.Fold) then computes, per output
// position, with the folded weight set (SecretStep.FoldW, FoldBias) where
// the activation's public mask (copied to the linear step's Mask) is 0 and
// with W where it is 1, and the activation (Step.Folded) truncates its
// polynomial positions by f instead of evaluating them: no prime
// conversions and no hesimd masks for them. Both executors evaluate the
// linear step the same way: one convolution whose output channels are
// W's for the channels with ReLU positions and the folded weights' for the
// channels with polynomial positions (a mixed channel twice: foldMap), then
// a public selection per position (foldMap.gather), local on shares.
//
// The folded weights C1·W are smaller than W (DaPa's C1 = Φ(μ/σ) lies in
// (0, 1)), so at W's f fractional bits their relative rounding error
// would grow by 1/C1; they are encoded at f + s bits (Step.FoldShift, a
// public constant of the compile, not taken from the coefficients) and
// the folded positions truncated by f + s.

// DefaultFoldShift is the extra fractional bits of the folded weights
// (Config.FoldShift): with C1 ≤ 1 the folded values stay below 2^s times
// the unfolded pre-activations, which ℓ must hold (MinWidths measures it).
const DefaultFoldShift = 2

// maxFoldShift bounds Step.FoldShift.
const maxFoldShift = 16

// foldMap lists the output channels of a folded linear step's stacked
// convolution: channel q computes original channel src[q] with the folded
// weights if folded[q], with W otherwise.
type foldMap struct {
	src    []int
	folded []bool
	// relu[k] and poly[k] are original channel k's stacked channels for its
	// ReLU and its polynomial positions (−1: the channel has none).
	relu, poly []int
}

// foldChannels returns the stacked channels of folded linear step st from
// its public mask: a channel whose positions are all ReLU (all polynomial)
// once, with W (the folded weights), a mixed channel twice.
func foldChannels(st *Step) foldMap {
	k, _, _ := chw(st.Shape)
	hw := st.Positions() / k
	fm := foldMap{relu: make([]int, k), poly: make([]int, k)}
	for ch := range k {
		hasReLU, hasPoly := false, false
		for p := ch * hw; p < (ch+1)*hw; p++ {
			if st.Mask.At(p) {
				hasReLU = true
			} else {
				hasPoly = true
			}
		}
		fm.relu[ch], fm.poly[ch] = -1, -1
		if hasReLU {
			fm.relu[ch] = len(fm.src)
			fm.src, fm.folded = append(fm.src, ch), append(fm.folded, false)
		}
		if hasPoly {
			fm.poly[ch] = len(fm.src)
			fm.src, fm.folded = append(fm.src, ch), append(fm.folded, true)
		}
	}
	return fm
}

// geom returns the stacked convolution's geometry: st's with one output
// channel per stacked channel.
func (fm foldMap) geom(st *Step) *Geom {
	g := *st.Conv
	g.K = len(fm.src)
	return &g
}

// stack returns the stacked convolution's weights and biases from a
// folded linear step's secrets (per = weights per output channel).
func (fm foldMap) stack(sec *SecretStep, per int) (w, bias []uint64) {
	w = make([]uint64, 0, len(fm.src)*per)
	bias = make([]uint64, len(fm.src))
	for q, ch := range fm.src {
		ws, bs := sec.W, sec.Bias
		if fm.folded[q] {
			ws, bs = sec.FoldW, sec.FoldBias
		}
		w = append(w, ws[ch*per:(ch+1)*per]...)
		bias[q] = bs[ch]
	}
	return w, bias
}

// gather selects, from the stacked convolution's output y (n images of
// len(src) channels of hw positions), each position of st's output from
// its channel's ReLU or polynomial copy by the public mask.
func (fm foldMap) gather(st *Step, n int, y []uint64) []uint64 {
	per := st.Positions()
	k := len(fm.relu)
	hw := per / k
	kq := len(fm.src)
	out := make([]uint64, n*per)
	for img := range n {
		for p := range per {
			q := fm.relu[p/hw]
			if !st.Mask.At(p) {
				q = fm.poly[p/hw]
			}
			out[img*per+p] = y[(img*kq+q)*hw+p%hw]
		}
	}
	return out
}

// foldable tells whether activation step i of the compiled plan can be
// folded into its input: a degree-1 step with polynomial positions that
// reads, alone, an ungrouped linear step's output of divisor 1 whose real
// weights the compiler kept.
func (c *compiler) foldable(i int, readers []int) (j int, ok bool) {
	st := &c.pub.Steps[i]
	if st.Op != OpAct || st.PolyDeg != 1 || st.ReLUs == st.Positions() {
		return 0, false
	}
	j = st.In[0]
	if j < 0 || readers[j] != 1 {
		return 0, false
	}
	lin := &c.pub.Steps[j]
	_, kept := c.real[j]
	return j, kept && lin.Op == OpLinear && !lin.Fold && lin.Conv.Groups <= 1 && lin.Div == 1 && c.coefs[i] != nil
}

// fold folds every foldable degree-1 activation step into its linear step
// (see foldMap): the folded weights C1·W and biases C1·bias + C0 of the
// channels with polynomial positions are computed in float64 from the
// model's weights (batch norm folded) and coefficients, then quantized
// like any weights, shift bits finer (W at f + shift, the bias at the
// output's 2f + shift).
func (c *compiler) fold(shift uint) error {
	readers := make([]int, len(c.pub.Steps))
	for i := range c.pub.Steps {
		for _, v := range c.pub.Steps[i].In {
			if v >= 0 {
				readers[v]++
			}
		}
	}
	for i := range c.pub.Steps {
		j, ok := c.foldable(i, readers)
		if !ok {
			continue
		}
		act, lin := &c.pub.Steps[i], &c.pub.Steps[j]
		r := c.real[j]
		k := lin.Conv.K
		per := len(r.w) / k
		hw := act.Positions() / k
		fw, fb := make([]float64, len(r.w)), make([]float64, k)
		for ch := range k {
			poly := false
			for p := ch * hw; p < (ch+1)*hw && !poly; p++ {
				poly = !act.Mask.At(p)
			}
			if !poly { // unused: zero, so that it widens no bound
				continue
			}
			row := append(c.coefs[i][ch], 0, 0) // C1 of a constant row is 0
			c1, c0 := row[1], row[0]
			for q := ch * per; q < (ch+1)*per; q++ {
				fw[q] = c1 * r.w[q]
			}
			fb[ch] = c0
			if r.bias != nil {
				fb[ch] += c1 * r.bias[ch]
			}
		}
		sec := &c.sec.Steps[j]
		sec.FoldW, sec.FoldBias = make([]uint64, len(fw)), make([]uint64, k)
		for q, v := range fw {
			e, err := encodeScaled(v, c.f+shift, 1)
			if err != nil {
				return fmt.Errorf("%s folded weight %d: %w", lin.Name, q, err)
			}
			sec.FoldW[q] = e
		}
		for ch, v := range fb {
			e, err := encodeScaled(v, r.x.frac+c.f+shift, r.x.div)
			if err != nil {
				return fmt.Errorf("%s folded bias %d: %w", lin.Name, ch, err)
			}
			sec.FoldBias[ch] = e
		}
		if sec.Bias == nil { // the W channels get zero biases beside the folded ones
			sec.Bias = make([]uint64, k)
			lin.Bias = true
		}
		lin.Fold, lin.FoldShift, lin.Mask = true, shift, slices.Clone(act.Mask)
		act.Folded = true
	}
	return nil
}

// checkFold checks the public fold marks (Step.Fold, Step.Folded): only
// in the PolyHE form, a Fold linear step ungrouped, with its reader's mask
// and read by exactly one step, a Folded activation with polynomial
// positions reading a Fold step.
func (p *Public) checkFold() error {
	readers, folded := make([]int, len(p.Steps)), make([]int, len(p.Steps))
	for i := range p.Steps {
		s := &p.Steps[i]
		for _, v := range s.In {
			if v >= 0 {
				readers[v]++
			}
		}
		if s.Folded && s.In[0] >= 0 {
			folded[s.In[0]]++
		}
	}
	for i := range p.Steps {
		s := &p.Steps[i]
		if (s.Fold || s.Folded) && p.Poly != PolyHE {
			return fmt.Errorf("pi: step %d %q: folded activation outside the %q form", i, s.Name, PolyHE)
		}
		switch {
		case s.Fold:
			if s.Op != OpLinear || s.Conv.Groups > 1 || !s.Bias || readers[i] != 1 || folded[i] != 1 {
				return fmt.Errorf("pi: step %d %q: fold mark on a step that is not an ungrouped linear step with bias read by one folded activation", i, s.Name)
			}
		case s.Op == OpLinear && s.Mask != nil, s.FoldShift != 0:
			return fmt.Errorf("pi: step %d %q: mask or fold shift on a step without the fold mark", i, s.Name)
		}
		if s.FoldShift > maxFoldShift || (s.Fold && int(p.Frac+s.FoldShift)+2 > effEll(p.Ell)) {
			return fmt.Errorf("pi: step %d %q: fold shift %d", i, s.Name, s.FoldShift)
		}
		if s.Folded {
			if s.Op != OpAct || s.ReLUs == s.Positions() || s.In[0] < 0 {
				return fmt.Errorf("pi: step %d %q: folded mark on a step that is not an activation with polynomial positions", i, s.Name)
			}
			if lin := &p.Steps[s.In[0]]; !lin.Fold || !slices.Equal(lin.Mask, s.Mask) {
				return fmt.Errorf("pi: step %d %q: folded activation whose input step %q does not carry its fold", i, s.Name, lin.Name)
			}
		}
	}
	return nil
}

// foldTrunc is the truncation of a Folded activation step's polynomial
// positions: f plus its linear step's FoldShift.
func (p *Public) foldTrunc(st *Step) uint {
	return p.Frac + p.Steps[st.In[0]].FoldShift
}
