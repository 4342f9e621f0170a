package nn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/autorep/autorep/autograd"
)

// TestReleaseBuffers trains two copies of blockedGraph for a few SGD
// steps, one returning its buffers to the pool after every step (poisoned
// with NaN first, so an op that does not overwrite all of a reused buffer
// shows), and checks that outputs and parameters stay bit-identical and
// that buffers were in fact reused.
func TestReleaseBuffers(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	plain, pooled := blockedGraph(), blockedGraph()
	reused := 0
	seen := map[*float32]bool{}
	for step := 0; step < 4; step++ {
		x := autograd.Const(randTensor(rng, 8, 3, 6, 6))
		seed := randTensor(rng, 8, 32)
		var outs [2][]float32
		for k, g := range []*Graph{plain, pooled} {
			y, err := g.Run(x)
			if err != nil {
				t.Fatal(err)
			}
			y.Backward(seed.Clone())
			outs[k] = y.Value.Data
			for _, p := range NamedParameters(g) {
				if p.Var.Grad != nil {
					for i, d := range p.Var.Grad.Data {
						p.Var.Value.Data[i] -= 0.05 * d
					}
					p.Var.ZeroGrad()
				}
			}
		}
		for i, v := range outs[0] {
			if math.Float32bits(v) != math.Float32bits(outs[1][i]) {
				t.Fatalf("step %d: output %d = %g with reused buffers, %g without", step, i, outs[1][i], v)
			}
		}
		if s := pooled.bufs; s != nil {
			for _, b := range s.used {
				if seen[&b[0]] {
					reused++
				}
				seen[&b[0]] = true
				for i := range b {
					b[i] = float32(math.NaN())
				}
			}
		}
		pooled.ReleaseBuffers()
	}
	pp, qp := NamedParameters(plain), NamedParameters(pooled)
	for i := range pp {
		for j, v := range pp[i].Var.Value.Data {
			if math.Float32bits(v) != math.Float32bits(qp[i].Var.Value.Data[j]) {
				t.Fatalf("%s[%d] = %g with reused buffers, %g without", qp[i].Name, j, qp[i].Var.Value.Data[j], v)
			}
		}
	}
	if reused == 0 {
		t.Error("no buffer was reused across steps")
	}
}

// TestReleaseBuffersInputGrad checks that a graph input needing a
// gradient gets its own buffer, not a pooled one.
func TestReleaseBuffersInputGrad(t *testing.T) {
	rng := rand.New(rand.NewSource(22))
	g := blockedGraph()
	g.ReleaseBuffers()
	x := autograd.Param(randTensor(rng, 8, 3, 6, 6))
	y, err := g.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	y.Backward(randTensor(rng, 8, 32))
	if x.Grad == nil {
		t.Fatal("no input gradient")
	}
	if n := len(g.bufs.used); n != 0 {
		t.Errorf("%d buffers tracked for a run whose input needs a gradient", n)
	}
}
