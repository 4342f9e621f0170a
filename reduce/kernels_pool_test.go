package reduce

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/internal/testutil"
	"github.com/autorep/autorep/kernel"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
)

var (
	_ nn.PooledLayoutActivation = (*Masked)(nil)
	_ nn.PooledLayoutActivation = (*SNLAct)(nil)
)

// poisoned fills the buffer the graph hands a site with NaN before the
// activation writes it, and counts such calls.
type poisoned struct {
	nn.PooledLayoutActivation
	calls *int
}

func (p poisoned) ApplyLayoutInto(x *autograd.Var, l kernel.Layout, y []float32) *autograd.Var {
	if y != nil {
		*p.calls++
		for i := range y {
			y[i] = float32(math.NaN())
		}
	}
	return p.PooledLayoutActivation.ApplyLayoutInto(x, l, y)
}

// TestPooledSiteOutputs runs two training steps (different batches) of a
// ResNet-20 with AutoReP and with SNL sites twice: with the graph's buffer
// pool on (ReleaseBuffers before and between the steps; the sites' pooled
// outputs poisoned with NaN before they are written) and off. The second
// step's logits and every gradient must be bit-identical.
func TestPooledSiteOutputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	xs := []*tensor.Tensor{randTensor(rng, 1, 4, 3, 32, 32), randTensor(rng, 1, 4, 3, 32, 32)}
	labels := []int32{1, 2, 3, 4}
	for _, method := range []string{MethodAutoReP, MethodSNL} {
		var got [2]map[string]*tensor.Tensor
		calls := 0
		for k, pool := range []bool{true, false} {
			m, r := resNet20Sites(t, method, rand.New(rand.NewPCG(53, 54)))
			m.SetTraining(true)
			params := nn.NamedParameters(m.Net)
			for _, a := range r.masked {
				params = append(params, nn.Named{Name: a.Name + ".score", Var: a.Score}, nn.Named{Name: a.Name + ".coef", Var: a.Coef})
			}
			for _, a := range r.snl {
				params = append(params, nn.Named{Name: a.Name + ".alpha", Var: a.Alpha})
			}
			if pool {
				for _, n := range m.Net.Nodes {
					if s, ok := n.Op.(*nn.Site); ok {
						if pa, ok := s.Act.(nn.PooledLayoutActivation); ok {
							s.Act = poisoned{pa, &calls}
						}
					}
				}
				m.Net.ReleaseBuffers()
			}
			out := map[string]*tensor.Tensor{}
			for step, x := range xs {
				for _, p := range params {
					p.Var.ZeroGrad()
				}
				y, err := m.Forward(autograd.Const(x))
				if err != nil {
					t.Fatal(err)
				}
				loss, err := nn.CrossEntropy(y, labels, 0)
				if err != nil {
					t.Fatal(err)
				}
				loss.Backward()
				out[fmt.Sprintf("logits%d", step)] = y.Value.Clone()
				if pool {
					m.Net.ReleaseBuffers()
				}
			}
			for _, p := range params {
				if p.Var.Grad == nil {
					t.Fatalf("%s: no gradient for %s", method, p.Name)
				}
				out[p.Name] = p.Var.Grad
			}
			got[k] = out
		}
		if calls == 0 {
			t.Fatalf("%s: no site output came from the pool", method)
		}
		if err := testutil.SameTensors(got[1], got[0]); err != nil {
			t.Errorf("%s: pooled site outputs, vs fresh: %v", method, err)
		}
	}
}

// resNet20Sites returns a ResNet-20 with method's activations installed at
// every site (degree 2), about half of each AutoReP mask replaced and SNL's
// α uniform in [0, 1), drawn from rr, and its runner.
func resNet20Sites(t *testing.T, method string, rr *rand.Rand) (*models.Model, *runner) {
	t.Helper()
	m, err := models.New("resnet20", 10, [3]int{3, 32, 32})
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{cfg: Config{Method: method, Degree: 2, Threshold: DefaultThreshold, Lambda: 1}, student: m}
	if err := r.install(); err != nil {
		t.Fatal(err)
	}
	for _, a := range r.masked {
		for i := range a.Mask {
			a.Mask[i] = float32(rr.IntN(2))
			a.Score.Value.Data[i] = 2*a.Mask[i] - 1
		}
	}
	for _, a := range r.snl {
		for i := range a.Alpha.Value.Data {
			a.Alpha.Value.Data[i] = rr.Float32()
		}
	}
	return m, r
}
