package autograd

import (
	"testing"

	"github.com/autorep/autorep/tensor"
)

// mul is a tiny op used to exercise the graph machinery.
func mul(a, b *Var) *Var {
	out := tensor.New(a.Value.Shape...)
	for i := range out.Data {
		out.Data[i] = a.Value.Data[i] * b.Value.Data[i]
	}
	return Result(out, func(g *tensor.Tensor) {
		ga, gb := tensor.New(g.Shape...), tensor.New(g.Shape...)
		for i := range g.Data {
			ga.Data[i] = g.Data[i] * b.Value.Data[i]
			gb.Data[i] = g.Data[i] * a.Value.Data[i]
		}
		a.AccumGrad(ga)
		b.AccumGrad(gb)
	}, a, b)
}

func TestDiamondAccumulates(t *testing.T) {
	x := Param(tensor.FromData([]float32{3}, 1))
	y := mul(x, x) // x^2
	z := mul(y, x) // x^3
	w := mul(z, y) // x^5
	w.Backward()
	if got, want := x.Grad.Data[0], float32(5*81); got != want {
		t.Fatalf("d(x^5)/dx at 3 = %v, want %v", got, want)
	}
}

func TestNoGradAndConst(t *testing.T) {
	x := Param(tensor.FromData([]float32{2}, 1))
	c := Const(tensor.FromData([]float32{5}, 1))
	var y *Var
	NoGrad(func() { y = mul(x, c) })
	if y.RequiresGrad() {
		t.Fatal("NoGrad result requires grad")
	}
	y = mul(x, c)
	y.Backward()
	if x.Grad.Data[0] != 5 || c.Grad != nil {
		t.Fatalf("grads x=%v c=%v", x.Grad, c.Grad)
	}
}

// TestAccumGradLarge checks the parallel sum of large gradients against
// element-by-element addition, for sizes around the chunk boundaries.
func TestAccumGradLarge(t *testing.T) {
	for _, n := range []int{parallelAddMin - 1, parallelAddMin, parallelAddMin + 17, 3*parallelAddMin + 5} {
		a, b := tensor.New(n), tensor.New(n)
		for i := range a.Data {
			a.Data[i] = float32(i%97) * 0.25
			b.Data[i] = float32(i%89) - 40
		}
		want := make([]float32, n)
		for i := range want {
			want[i] = a.Data[i] + b.Data[i]
		}
		v := Param(tensor.New(n))
		v.AccumGrad(a)
		v.AccumGrad(b)
		for i, w := range want {
			if v.Grad.Data[i] != w {
				t.Fatalf("n=%d: element %d = %g, want %g", n, i, v.Grad.Data[i], w)
			}
		}
	}
}
