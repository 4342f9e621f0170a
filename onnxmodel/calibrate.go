package onnxmodel

import (
	"fmt"
	"math"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
)

// CalibrateFolded gives the batch norms Import made from torch-folded
// convolutions (Report.Folded) statistics of the data x [N,C,H,W]: with
// μ, σ² the per-channel mean and variance of the convolution's output on
// x, it sets running mean μ, running variance σ², weight √(σ²+ε) and bias
// μ + b. Evaluation mode computes the same function as before (conv + b,
// up to rounding); training mode, which normalises with batch statistics
// close to μ, σ², now starts from that function too, so reduce and
// fine-tuning do not begin by rescaling every activation.
func CalibrateFolded(m *models.Model, rep *Report, x *tensor.Tensor) error {
	if len(rep.Folded) == 0 {
		return nil
	}
	if err := m.CheckInput(x.Shape); err != nil {
		return err
	}
	g := m.Net
	m.SetTraining(false)
	for _, name := range rep.Folded {
		bi := -1
		for i, n := range g.Nodes {
			if n.Name == name {
				bi = i
			}
		}
		if bi < 0 {
			return fmt.Errorf("onnx calibrate: no node %q", name)
		}
		bn, ok := g.Nodes[bi].Op.(*nn.BatchNorm2d)
		ins := g.Nodes[bi].Inputs
		if !ok || len(ins) != 1 || ins[0] < 0 {
			return fmt.Errorf("onnx calibrate: node %q is not a batch norm after a layer", name)
		}
		// The graph up to the convolution: its output is the conv's.
		prefix := &nn.Graph{Nodes: g.Nodes[:ins[0]+1]}
		var y *autograd.Var
		var err error
		autograd.NoGrad(func() { y, err = prefix.Run(autograd.Const(x)) })
		if err != nil {
			return fmt.Errorf("onnx calibrate %s: %w", name, err)
		}
		n, c := y.Value.Shape[0], y.Value.Shape[1]
		hw := y.Value.Len() / (n * c)
		if c != bn.C {
			return fmt.Errorf("onnx calibrate %s: %d channels, batch norm has %d", name, c, bn.C)
		}
		for ch := 0; ch < c; ch++ {
			var s, s2 float64
			for i := 0; i < n; i++ {
				for _, v := range y.Value.Data[(i*c+ch)*hw : (i*c+ch+1)*hw] {
					s += float64(v)
					s2 += float64(v) * float64(v)
				}
			}
			cnt := float64(n * hw)
			mu := s / cnt
			v := math.Max(s2/cnt-mu*mu, 0)
			b := float64(bn.Bias.Value.Data[ch]) // the folded bias (mean 0, variance 1−ε so far)
			bn.RunningMean.Data[ch] = float32(mu)
			bn.RunningVar.Data[ch] = float32(v)
			bn.Weight.Value.Data[ch] = float32(math.Sqrt(v + float64(bn.Eps)))
			bn.Bias.Value.Data[ch] = float32(mu + b)
		}
	}
	return nil
}
