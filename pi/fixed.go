package pi

import (
	"fmt"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/tensor"
)

// EvalFixed runs the plan in the clear with exactly the ring arithmetic of
// the secure protocols and returns the logits [N, Classes] for normalised
// images x [N, C, H, W]. Linear layers (a Fold step's with the folded
// weights at its polynomial positions), additions, pooling sums, exact
// truncations and max pooling are bit-identical to the secure run. An
// activation position computes floor(z/2^f) then ReLU, or floor(p(x)·2^f)
// for a polynomial (in the plan's form, Public.Poly; floor(z/2^(f+s)) at
// a Folded step's polynomial positions, s its FoldShift); the secure protocols (mpc.Session.Act: the fused
// ReLU+truncation gate, the polynomial opening) give that or one unit
// (2^−f) more (docs/PROTOCOLS.md), so secure logits differ from these only
// by the propagation of such one-unit differences through later layers.
func (p *Plan) EvalFixed(x *tensor.Tensor) (*tensor.Tensor, error) {
	y, n, err := p.EvalFixedRaw(x)
	if err != nil {
		return nil, err
	}
	return p.Public.DecodeOutput(y, n)
}

// EvalFixedRaw is EvalFixed returning the ring values of the output (scale
// Public.Output) and the number of images.
func (p *Plan) EvalFixedRaw(x *tensor.Tensor) ([]uint64, int, error) {
	if err := p.check(); err != nil {
		return nil, 0, err
	}
	in, n, err := p.Public.EncodeInput(x)
	if err != nil {
		return nil, 0, err
	}
	b := &fixedBackend{plan: p}
	y, err := execute(p.Public, b, n, in, nil)
	if err != nil {
		return nil, 0, err
	}
	return y, n, nil
}

// check verifies that the secrets fit the public description.
func (p *Plan) check() error {
	if p == nil || p.Public == nil || p.Secret == nil {
		return fmt.Errorf("pi: incomplete plan")
	}
	if len(p.Secret.Steps) != len(p.Public.Steps) {
		return fmt.Errorf("pi: plan has %d public and %d secret steps", len(p.Public.Steps), len(p.Secret.Steps))
	}
	for i := range p.Public.Steps {
		st, sec := &p.Public.Steps[i], &p.Secret.Steps[i]
		switch st.Op {
		case OpLinear:
			pr := st.Conv.Params(1)
			if len(sec.W) != pr.WLen() {
				return fmt.Errorf("pi: step %q: %d weights, want %d", st.Name, len(sec.W), pr.WLen())
			}
			if st.Bias != (sec.Bias != nil) || (sec.Bias != nil && len(sec.Bias) != pr.K) {
				return fmt.Errorf("pi: step %q: bias does not match the public description", st.Name)
			}
			if st.Fold != (sec.FoldW != nil) || (st.Fold && (len(sec.FoldW) != pr.WLen() || len(sec.FoldBias) != pr.K)) {
				return fmt.Errorf("pi: step %q: folded weights do not match the public description", st.Name)
			}
		case OpAct:
			c, _, _ := chw(st.Shape)
			if st.ReLUs < st.Positions() && sec.Coef.Channels() != c {
				return fmt.Errorf("pi: step %q: coefficients of %d channels for %d", st.Name, sec.Coef.Channels(), c)
			}
			for ch := range c {
				if st.PolyDeg == 1 && st.ReLUs < st.Positions() && sec.Coef[3*ch+2] != 0 {
					return fmt.Errorf("pi: step %q: marked degree 1 but channel %d has an x² coefficient", st.Name, ch)
				}
			}
		}
	}
	return p.checkWeightBound()
}

// ReferenceLogits runs the float model in evaluation mode (the plaintext
// reference for the secure logits' error).
func ReferenceLogits(m *models.Model, x *tensor.Tensor) (*tensor.Tensor, error) {
	m.SetTraining(false)
	var y *autograd.Var
	var err error
	autograd.NoGrad(func() { y, err = m.Forward(autograd.Const(x)) })
	if err != nil {
		return nil, fmt.Errorf("pi: float forward: %w", err)
	}
	return y.Value, nil
}

// fixedBackend evaluates steps in the clear on ring values.
type fixedBackend struct {
	plan *Plan
}

// linear is W·x + bias; a Fold step runs the stacked convolution of its
// W and folded weights, then selects each position's copy (foldMap).
func (b *fixedBackend) linear(i int, st *Step, n int, x []uint64) ([]uint64, error) {
	sec := &b.plan.Secret.Steps[i]
	if !st.Fold {
		return convBias(st.Conv.Params(n), x, sec.W, sec.Bias)
	}
	fm := foldChannels(st)
	w, bias := fm.stack(sec, st.Conv.Params(1).WLen()/st.Conv.K)
	y, err := convBias(fm.geom(st).Params(n), x, w, bias)
	if err != nil {
		return nil, err
	}
	return fm.gather(st, n, y), nil
}

// convBias is the convolution pr of x by w plus the per-channel bias (nil:
// none) in Z_2^64.
func convBias(pr ring.ConvParams, x, w, bias []uint64) ([]uint64, error) {
	y := make([]uint64, pr.YLen())
	if err := ring.Conv2d(pr, x, w, y); err != nil {
		return nil, err
	}
	if bias != nil {
		hw := pr.OutH() * pr.OutW()
		for j := range y {
			y[j] += bias[(j/hw)%pr.K]
		}
	}
	return y, nil
}

func (b *fixedBackend) act(i int, st *Step, n int, x []uint64) ([]uint64, error) {
	f := b.plan.Public.Frac
	mask := st.Mask
	per := st.Positions()
	c, _, _ := chw(st.Shape)
	hw := per / c
	coef := b.plan.Secret.Steps[i].Coef
	narrow := b.plan.Public.Poly == PolyNarrow
	y := make([]uint64, len(x))
	for j, v := range x {
		t := uint64(int64(v) >> f) // exact truncation
		pos := j % per
		if mask.At(pos) {
			if int64(t) > 0 {
				y[j] = t
			}
			continue
		}
		if st.Folded { // the polynomial ran in the linear step before
			y[j] = uint64(int64(v) >> b.plan.Public.foldTrunc(st))
			continue
		}
		if narrow {
			a, b, c := narrowCoef(coef, pos/hw, f)
			y[j] = evalNarrow(a, b, c, t, f)
		} else { // the default form, also PolyHE's value
			y[j] = coef.Eval(pos/hw, t, f)
		}
	}
	return y, nil
}

func (b *fixedBackend) maxPool(i int, st *Step, n int, x []uint64) ([]uint64, error) {
	return b.maxPoolWith(st, n, x, nil)
}

// maxPoolWith is maxPool calling see (if set) on each round's pairs
// before they are compared.
func (b *fixedBackend) maxPoolWith(st *Step, n int, x []uint64, see func(a, c []uint64)) ([]uint64, error) {
	return mpc.Tournament(poolSpec(st, n), x, func(a, c []uint64) ([]uint64, error) {
		if see != nil {
			see(a, c)
		}
		for j := range a {
			if int64(c[j]) > int64(a[j]) {
				a[j] = c[j]
			}
		}
		return a, nil
	})
}

func (b *fixedBackend) trunc(i int, st *Step, x []uint64) ([]uint64, error) {
	y := make([]uint64, len(x))
	for j, v := range x {
		y[j] = uint64(int64(v*st.Mul) >> st.Shift)
	}
	return y, nil
}
