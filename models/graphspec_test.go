package models

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
)

// TestGraphSpecRoundTrip: a built-in architecture described as a
// GraphSpec, rebuilt, given the same tensors, saved and loaded computes
// the same logits.
func TestGraphSpecRoundTrip(t *testing.T) {
	a, err := New("lenet", 10, [3]int{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := SpecOf(a.Net)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewFromSpec(spec, 10, [3]int{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := a.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.LoadTensors(sd); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "g.safetensors")
	if err := g.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Arch != GraphArch || len(back.Sites) != 4 {
		t.Fatalf("loaded %s with %d sites", back.Arch, len(back.Sites))
	}
	x := tensor.New(2, 1, 28, 28)
	for i := range x.Data {
		x.Data[i] = float32(i%17) / 17
	}
	run := func(m *Model) []float32 {
		m.SetTraining(false)
		var y *autograd.Var
		autograd.NoGrad(func() { y, err = m.Forward(autograd.Const(x)) })
		if err != nil {
			t.Fatal(err)
		}
		return y.Value.Data
	}
	if !slices.Equal(run(a), run(back)) {
		t.Error("graph-spec model computes other logits than the architecture")
	}
}

// TestGraphSpecErrors: bad specs are errors, not panics or huge
// allocations.
func TestGraphSpecErrors(t *testing.T) {
	in := [3]int{1, 8, 8}
	for name, spec := range map[string]GraphSpec{
		"empty":      {},
		"unknown op": {{Name: "a", Op: "sigmoid", Inputs: []int{-1}}},
		"huge conv":  {{Name: "c", Op: "conv", Inputs: []int{-1}, In: 1, Out: 1 << 20, Kernel: 64, Stride: 1, Groups: 1}},
		"bad groups": {{Name: "c", Op: "conv", Inputs: []int{-1}, In: 1, Out: 3, Kernel: 3, Stride: 1, Groups: 2}},
		"forward":    {{Name: "a", Op: "relu", Inputs: []int{3}}},
		"no inputs":  {{Name: "a", Op: "relu"}},
		"channels":   {{Name: "c", Op: "conv", Inputs: []int{-1}, In: 3, Out: 4, Kernel: 3, Stride: 1, Groups: 1}},
		"not logits": {{Name: "a", Op: "relu", Inputs: []int{-1}}},
		"negative":   {{Name: "p", Op: "maxpool", Inputs: []int{-1}, Kernel: -2}},
		"classes":    {{Name: "f", Op: "flatten", Inputs: []int{-1}}, {Name: "l", Op: "linear", Inputs: []int{0}, In: 64, Out: 3}},
	} {
		if _, err := NewFromSpec(spec, 10, in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	meta := modelfile.Meta{Arch: GraphArch, Classes: 10, Input: in}
	if _, err := newForMeta(meta); err == nil || !strings.Contains(err.Error(), KeyGraph) {
		t.Errorf("graph model without spec: %v", err)
	}
	meta.Extra = map[string]string{KeyGraph: "[{"}
	if _, err := newForMeta(meta); err == nil {
		t.Error("truncated spec accepted")
	}
	ok, _ := json.Marshal(GraphSpec{{Name: "f", Op: "flatten", Inputs: []int{-1}}, {Name: "l", Op: "linear", Inputs: []int{0}, In: 64, Out: 10, Bias: true}})
	meta.Extra[KeyGraph] = string(ok)
	m, err := newForMeta(meta)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Net.Nodes[1].Op.(*nn.Linear); !ok {
		t.Errorf("node 1 is %T", m.Net.Nodes[1].Op)
	}
}
