package pi

import (
	"fmt"
	"math"
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/tensor"
)

// backend evaluates the interactive steps of a plan on a batch of n
// images: in the clear (fixedBackend) or on shares (secureBackend).
type backend interface {
	linear(i int, st *Step, n int, x []uint64) ([]uint64, error)
	act(i int, st *Step, n int, x []uint64) ([]uint64, error)
	maxPool(i int, st *Step, n int, x []uint64) ([]uint64, error)
	trunc(i int, st *Step, x []uint64) ([]uint64, error)
}

// stepHook is called after each step with its index and duration.
type stepHook func(i int, d time.Duration)

// execute runs the plan's steps on x (n images, the plan's input at Frac
// bits) and returns the last step's output. Local steps run here so that
// both backends share them.
func execute(p *Public, b backend, n int, x []uint64, hook stepHook) ([]uint64, error) {
	if len(x) != n*p.InputLen() {
		return nil, fmt.Errorf("pi: input of %d values for %d images of %v", len(x), n, p.Input)
	}
	out := make([][]uint64, len(p.Steps))
	last := make([]int, len(p.Steps)) // last reader of each value, to free memory
	for i := range p.Steps {
		for _, j := range p.Steps[i].In {
			if j >= 0 {
				last[j] = i
			}
		}
	}
	get := func(v int) []uint64 {
		if v < 0 {
			return x
		}
		return out[v]
	}
	for i := range p.Steps {
		st := &p.Steps[i]
		if bb, ok := b.(interface{ begin(st *Step) }); ok {
			bb.begin(st)
		}
		t0 := time.Now()
		in := get(st.In[0])
		if in == nil {
			return nil, fmt.Errorf("pi: step %q reads a freed value", st.Name)
		}
		var y []uint64
		var err error
		switch st.Op {
		case OpLinear:
			y, err = b.linear(i, st, n, in)
		case OpAct:
			y, err = b.act(i, st, n, in)
		case OpMaxPool:
			y, err = b.maxPool(i, st, n, in)
		case OpTrunc:
			y, err = b.trunc(i, st, in)
		case OpSumPool:
			y, err = mpc.SumPool(poolSpec(st, n), in)
		case OpGlobalSum:
			c, h, w := chw(st.InShape)
			y, err = mpc.GlobalSumPool(n, c, h*w, in)
		case OpAdd:
			y, err = mpc.Add(in, get(st.In[1]))
		case OpScale:
			y = mpc.Scale(in, uint64(1)<<st.Shift)
		default:
			err = fmt.Errorf("unknown operation %q", st.Op)
		}
		if err != nil {
			return nil, fmt.Errorf("pi: step %d %q (%s): %w", i, st.Name, st.Op, err)
		}
		if len(y) != n*st.Positions() {
			return nil, fmt.Errorf("pi: step %q produced %d values, want %d", st.Name, len(y), n*st.Positions())
		}
		out[i] = y
		for _, j := range st.In {
			if j >= 0 && last[j] == i && j != len(p.Steps)-1 {
				out[j] = nil
			}
		}
		if hook != nil {
			hook(i, time.Since(t0))
		}
	}
	return out[len(out)-1], nil
}

// poolSpec is the mpc geometry of a pooling step for n images.
func poolSpec(st *Step, n int) mpc.PoolSpec {
	c, h, w := chw(st.InShape)
	return mpc.PoolSpec{N: n, C: c, H: h, W: w, K: st.Pool.K, Stride: st.Pool.Stride, Pad: st.Pool.Pad}
}

// EncodeInput encodes normalised images x [N, C, H, W] at the plan's
// fractional bits (saturating large values; NaN or infinite values are an
// error) and returns the number of images.
func (p *Public) EncodeInput(x *tensor.Tensor) ([]uint64, int, error) {
	if x == nil || len(x.Shape) != 4 || x.Shape[0] < 1 || x.Shape[1] != p.Input[0] || x.Shape[2] != p.Input[1] || x.Shape[3] != p.Input[2] {
		var s []int
		if x != nil {
			s = x.Shape
		}
		return nil, 0, fmt.Errorf("pi: input of shape %v, want [N %d %d %d]", s, p.Input[0], p.Input[1], p.Input[2])
	}
	if len(x.Data) != numel(x.Shape) {
		return nil, 0, fmt.Errorf("pi: input tensor has %d values for shape %v", len(x.Data), x.Shape)
	}
	for i, f := range x.Data {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return nil, 0, fmt.Errorf("pi: input value %d is %v", i, f)
		}
	}
	v := make([]uint64, len(x.Data))
	ring.EncodeVec(v, x.Data, p.Frac)
	return v, x.Shape[0], nil
}

// DecodeOutput turns the plan's revealed output (n images) into logits
// [n, Classes], applying the output's fractional bits and divisor.
func (p *Public) DecodeOutput(y []uint64, n int) (*tensor.Tensor, error) {
	if len(y) != n*p.Classes {
		return nil, fmt.Errorf("pi: output of %d values for %d images of %d classes", len(y), n, p.Classes)
	}
	frac, div := p.Output()
	t := tensor.New(n, p.Classes)
	for i, v := range y {
		t.Data[i] = float32(ring.Decode(v, frac) / float64(div))
	}
	return t, nil
}
