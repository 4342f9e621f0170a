package nn

import (
	"fmt"
	"math"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

// logSoftmaxRow writes log softmax(z·invT) of one row into out (float64)
// and returns it.
func logSoftmaxRow(z []float32, invT float64, out []float64) []float64 {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = math.Max(mx, float64(v)*invT)
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v)*invT - mx)
	}
	lse := mx + math.Log(s)
	for i, v := range z {
		out[i] = float64(v)*invT - lse
	}
	return out
}

// logits2D validates a [N, K] logits tensor.
func logits2D(op string, x *autograd.Var) (n, k int, err error) {
	s := x.Value.Shape
	if len(s) != 2 || s[0] <= 0 || s[1] <= 0 {
		return 0, 0, fmt.Errorf("nn: %s: want [N, classes] logits, got shape %v", op, s)
	}
	return s[0], s[1], nil
}

// CrossEntropy is the softmax cross-entropy of logits [N, K] against
// labels, averaged over the batch, with label smoothing ε (PyTorch's
// convention: the target is (1−ε)·onehot + ε/K). It returns an error for
// malformed logits, a label count other than N, or labels outside [0, K).
func CrossEntropy(logits *autograd.Var, labels []int32, smoothing float32) (*autograd.Var, error) {
	n, k, err := logits2D("cross-entropy", logits)
	if err != nil {
		return nil, err
	}
	if len(labels) != n {
		return nil, fmt.Errorf("nn: cross-entropy: %d labels for %d rows", len(labels), n)
	}
	if smoothing < 0 || smoothing >= 1 {
		return nil, fmt.Errorf("nn: cross-entropy: label smoothing %v not in [0, 1)", smoothing)
	}
	for i, y := range labels {
		if y < 0 || int(y) >= k {
			return nil, fmt.Errorf("nn: cross-entropy: label %d of row %d not in [0, %d)", y, i, k)
		}
	}
	eps := float64(smoothing)
	zd := logits.Value.Data
	grad := make([]float32, n*k)
	ls := make([]float64, k)
	var total float64
	for i := 0; i < n; i++ {
		row := zd[i*k : (i+1)*k]
		logSoftmaxRow(row, 1, ls)
		y := int(labels[i])
		var sumLS float64
		for _, v := range ls {
			sumLS += v
		}
		total += -(1-eps)*ls[y] - eps/float64(k)*sumLS
		g := grad[i*k : (i+1)*k]
		for j, v := range ls {
			q := eps / float64(k)
			if j == y {
				q += 1 - eps
			}
			g[j] = float32((math.Exp(v) - q) / float64(n))
		}
	}
	out := tensor.FromData([]float32{float32(total / float64(n))}, 1)
	return autograd.Result(out, func(g *tensor.Tensor) {
		d := tensor.FromData(grad, n, k)
		d.Scale(g.Data[0])
		logits.AccumGrad(d)
	}, logits), nil
}

// KDLoss is the distillation loss KL(softmax(t/T) ‖ softmax(s/T))·T²,
// averaged over the batch, for student logits s and teacher logits t
// (both [N, K]). The teacher is treated as a constant.
func KDLoss(student, teacher *autograd.Var, temperature float32) (*autograd.Var, error) {
	n, k, err := logits2D("kd", student)
	if err != nil {
		return nil, err
	}
	if !tensor.SameShape(student.Value, teacher.Value) {
		return nil, fmt.Errorf("nn: kd: student %v and teacher %v shapes differ", student.Value.Shape, teacher.Value.Shape)
	}
	if !(temperature > 0) {
		return nil, fmt.Errorf("nn: kd: temperature %v must be positive", temperature)
	}
	T := float64(temperature)
	sd, td := student.Value.Data, teacher.Value.Data
	grad := make([]float32, n*k)
	ls, lt := make([]float64, k), make([]float64, k)
	var total float64
	for i := 0; i < n; i++ {
		logSoftmaxRow(sd[i*k:(i+1)*k], 1/T, ls)
		logSoftmaxRow(td[i*k:(i+1)*k], 1/T, lt)
		g := grad[i*k : (i+1)*k]
		for j := range ls {
			pt := math.Exp(lt[j])
			if pt > 0 {
				total += pt * (lt[j] - ls[j])
			}
			// d/ds_j of T²·KL = T·(p_s − p_t).
			g[j] = float32(T * (math.Exp(ls[j]) - pt) / float64(n))
		}
	}
	out := tensor.FromData([]float32{float32(total * T * T / float64(n))}, 1)
	return autograd.Result(out, func(g *tensor.Tensor) {
		d := tensor.FromData(grad, n, k)
		d.Scale(g.Data[0])
		student.AccumGrad(d)
	}, student), nil
}

// Accuracy counts the rows of logits [N, K] whose arg-max equals the label.
func Accuracy(logits *tensor.Tensor, labels []int32) int {
	if len(logits.Shape) != 2 || logits.Shape[0] != len(labels) || logits.Shape[0] == 0 {
		return 0
	}
	correct := 0
	for i, p := range logits.ArgMaxRows() {
		if int32(p) == labels[i] {
			correct++
		}
	}
	return correct
}
