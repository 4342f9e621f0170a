package nn

import (
	"math"
	"math/rand"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

// ReLU returns max(x, 0) elementwise.
func ReLU(x *autograd.Var) *autograd.Var {
	xd := x.Value.Data
	out := tensor.New(x.Value.Shape...)
	od := out.Data
	parallelFor(len(xd), 1, func(lo, hi int) {
		reluSlice(od[lo:hi], xd[lo:hi])
	})
	return autograd.Result(out, func(g *tensor.Tensor) {
		// Reuse g: it belongs to this op's output and is dropped after.
		gd := g.Data
		parallelFor(len(gd), 1, func(lo, hi int) {
			reluMaskSlice(gd[lo:hi], od[lo:hi])
		})
		x.AccumGrad(g)
	}, x)
}

// Plus returns a + b; the shapes must be equal.
func Plus(a, b *autograd.Var) *autograd.Var { return plus(a, b, false) }

// PlusReLU returns relu(a + b) in one pass.
func PlusReLU(a, b *autograd.Var) *autograd.Var { return plus(a, b, true) }

func plus(a, b *autograd.Var, relu bool) *autograd.Var {
	if !tensor.SameShape(a.Value, b.Value) {
		shapePanic("add", "shapes %v and %v differ", a.Value.Shape, b.Value.Shape)
	}
	ad, bd := a.Value.Data, b.Value.Data
	out := tensor.New(a.Value.Shape...)
	od := out.Data
	parallelFor(len(od), 1, func(lo, hi int) {
		o, x, y := od[lo:hi], ad[lo:hi], bd[lo:hi]
		y = y[:len(x)]
		o = o[:len(x)]
		if relu {
			for i, v := range x {
				s := math.Float32bits(v + y[i])
				o[i] = math.Float32frombits(s &^ uint32(int32(s)>>31))
			}
			return
		}
		for i, v := range x {
			o[i] = v + y[i]
		}
	})
	return autograd.Result(out, func(g *tensor.Tensor) {
		if relu {
			gd := g.Data
			parallelFor(len(gd), 1, func(lo, hi int) { reluMaskSlice(gd[lo:hi], od[lo:hi]) })
		}
		ga, gb := a.RequiresGrad(), b.RequiresGrad()
		switch {
		case ga && gb:
			b.AccumGrad(g.Clone())
			a.AccumGrad(g)
		case ga:
			a.AccumGrad(g)
		case gb:
			b.AccumGrad(g)
		}
	}, a, b)
}

// Scale returns s·x.
func Scale(x *autograd.Var, s float32) *autograd.Var {
	out := x.Value.Clone()
	out.Scale(s)
	return autograd.Result(out, func(g *tensor.Tensor) {
		g.Scale(s)
		x.AccumGrad(g)
	}, x)
}

// Sum returns the sum of all elements as a one-element tensor of shape [1].
func Sum(x *autograd.Var) *autograd.Var {
	out := tensor.FromData([]float32{float32(x.Value.Sum())}, 1)
	return autograd.Result(out, func(g *tensor.Tensor) {
		x.AccumGrad(tensor.Full(g.Data[0], x.Value.Shape...))
	}, x)
}

// Mean returns the mean of all elements as a tensor of shape [1].
func Mean(x *autograd.Var) *autograd.Var {
	n := float32(x.Value.Len())
	if n == 0 {
		shapePanic("mean", "empty input")
	}
	return Scale(Sum(x), 1/n)
}

// Reshape returns x viewed with a new shape (one dimension may be -1).
// The data is shared, not copied.
func Reshape(x *autograd.Var, shape ...int) *autograd.Var {
	n, infer := 1, -1
	for i, s := range shape {
		switch {
		case s == -1 && infer < 0:
			infer = i
		case s <= 0:
			shapePanic("reshape", "bad target shape %v", shape)
		default:
			n *= s
		}
	}
	total := x.Value.Len()
	if infer >= 0 {
		if n == 0 || total%n != 0 {
			shapePanic("reshape", "cannot view %v as %v", x.Value.Shape, shape)
		}
	} else if n != total {
		shapePanic("reshape", "cannot view %v as %v", x.Value.Shape, shape)
	}
	out := x.Value.Reshape(shape...)
	inShape := x.Value.Shape
	return autograd.Result(out, func(g *tensor.Tensor) {
		x.AccumGrad(tensor.FromData(g.Data, inShape...))
	}, x)
}

// FlattenOp reshapes [N, ...] to [N, prod(...)].
func FlattenOp(x *autograd.Var) *autograd.Var {
	if len(x.Value.Shape) < 1 || x.Value.Shape[0] <= 0 {
		shapePanic("flatten", "bad input shape %v", x.Value.Shape)
	}
	return Reshape(x, x.Value.Shape[0], -1)
}

// DropoutOp zeroes each element with probability p and scales the others
// by 1/(1−p), drawing from rng. p must be in [0, 1).
func DropoutOp(x *autograd.Var, p float32, rng *rand.Rand) *autograd.Var {
	if p <= 0 {
		return x
	}
	if p >= 1 {
		shapePanic("dropout", "probability %v not in [0, 1)", p)
	}
	keep := 1 / (1 - p)
	mask := make([]float32, x.Value.Len())
	for i := range mask {
		if rng.Float32() >= p {
			mask[i] = keep
		}
	}
	out := tensor.New(x.Value.Shape...)
	for i, v := range x.Value.Data {
		out.Data[i] = v * mask[i]
	}
	return autograd.Result(out, func(g *tensor.Tensor) {
		for i := range g.Data {
			g.Data[i] *= mask[i]
		}
		x.AccumGrad(g)
	}, x)
}

// reluSlice writes max(x, 0) into o without branches (random signs make
// a branch mispredict half the time); −0 and negative values become +0.
func reluSlice(o, x []float32) {
	o = o[:len(x)]
	for i, v := range x {
		b := math.Float32bits(v)
		o[i] = math.Float32frombits(b &^ uint32(int32(b)>>31))
	}
}

// reluMaskSlice zeroes g where the ReLU output y is 0 (y ≥ 0 always).
func reluMaskSlice(g, y []float32) {
	g = g[:len(y)]
	for i, v := range y {
		b := math.Float32bits(v)
		keep := uint32(int32(b|-b) >> 31) // all ones iff y != +0
		g[i] = math.Float32frombits(math.Float32bits(g[i]) & keep)
	}
}
