package reduce

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

func TestSNLForwardAndGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	a, err := NewSNL("s", []int{2, 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Alpha.Value.Data {
		a.Alpha.Value.Data[i] = rng.Float32()
	}
	xt := randTensor(rng, 1, 4, 2, 3)
	for i, v := range xt.Data {
		if math.Abs(float64(v)) < 0.05 {
			xt.Data[i] = -0.4
		}
	}
	w := randTensor(rng, 1, 4, 2, 3)
	x := autograd.Param(xt)
	y := a.Apply(x)
	ref := func(xv, al *tensor.Tensor) float64 {
		var s float64
		for i, v := range xv.Data {
			al := float64(al.Data[i%6])
			s += float64(w.Data[i]) * (al*math.Max(float64(v), 0) + (1-al)*float64(v))
		}
		return s
	}
	if d := math.Abs(weightedSum(y.Value, w) - ref(xt, a.Alpha.Value)); d > 1e-5 {
		t.Fatalf("forward differs from α·relu(x)+(1−α)·x by %g", d)
	}
	y.Backward(w.Clone()) // the backward pass may reuse the seed's storage
	const h = 1e-2
	for i := range xt.Data {
		p, m := xt.Clone(), xt.Clone()
		p.Data[i] += h
		m.Data[i] -= h
		fd := (ref(p, a.Alpha.Value) - ref(m, a.Alpha.Value)) / (2 * h)
		if math.Abs(float64(x.Grad.Data[i])-fd) > 1e-3 {
			t.Errorf("dx[%d] = %g, fd %g", i, x.Grad.Data[i], fd)
		}
	}
	for i := range a.Alpha.Value.Data {
		p, m := a.Alpha.Value.Clone(), a.Alpha.Value.Clone()
		p.Data[i] += h
		m.Data[i] -= h
		fd := (ref(xt, p) - ref(xt, m)) / (2 * h)
		if math.Abs(float64(a.Alpha.Grad.Data[i])-fd) > 1e-3 {
			t.Errorf("dα[%d] = %g, fd %g", i, a.Alpha.Grad.Data[i], fd)
		}
	}
}

func TestSNLBinarize(t *testing.T) {
	a, _ := NewSNL("s", []int{2, 3})
	copy(a.Alpha.Value.Data, []float32{1, 0.0101, 0.01, 0.005, -0.3, 0.7})
	if a.Count() != 3 {
		t.Fatalf("Count = %d, want 3", a.Count())
	}
	m, err := a.Binarize()
	if err != nil {
		t.Fatal(err)
	}
	wantMask := []float32{1, 1, 0, 0, 0, 1}
	for i := range wantMask {
		if m.Mask[i] != wantMask[i] {
			t.Fatalf("mask %v, want %v", m.Mask, wantMask)
		}
	}
	if m.Count() != 3 || !m.Frozen || m.Coef.RequiresGrad() || m.Degree != 1 {
		t.Fatalf("binarised activation: count %d frozen %v coef trainable %v degree %d", m.Count(), m.Frozen, m.Coef.RequiresGrad(), m.Degree)
	}
	// Replaced elements are the identity, kept ones ReLU.
	x := tensor.FromData([]float32{-1, -2, -3, -4, -5, -6}, 1, 2, 3)
	y := m.Apply(autograd.Const(x)).Value.Data
	want := []float32{0, 0, -3, -4, -5, 0}
	for i := range want {
		if y[i] != want[i] {
			t.Fatalf("binarised forward %v, want %v", y, want)
		}
	}
}

func TestL1AndEtaSchedule(t *testing.T) {
	a, _ := NewSNL("s", []int{4})
	copy(a.Alpha.Value.Data, []float32{0.5, -0.25, 0, 1})
	l := L1([]*SNLAct{a}, 0.1)
	if math.Abs(float64(l.Value.Data[0])-0.175) > 1e-6 {
		t.Fatalf("L1 = %g, want 0.175", l.Value.Data[0])
	}
	l.Backward()
	want := []float32{0.1, -0.1, 0, 0.1}
	for i := range want {
		if math.Abs(float64(a.Alpha.Grad.Data[i]-want[i])) > 1e-7 {
			t.Fatalf("L1 grad %v, want %v", a.Alpha.Grad.Data, want)
		}
	}
	e := NewEtaSchedule()
	counts := []int{100, 90, 95, 95, 95, 80, 85}
	// Epochs 1..4 never grow η; 5: no new low -> ×1.1; 6: new low; 7: ×1.1.
	for i, c := range counts {
		e.EndEpoch(i+1, c)
	}
	if math.Abs(e.Eta-SNLEta0*1.1*1.1) > 1e-15 || e.Best != 80 {
		t.Fatalf("eta %g best %d", e.Eta, e.Best)
	}
}
