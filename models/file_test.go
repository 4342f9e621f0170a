package models

import (
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
)

// maskedLeNet returns a LeNet with random BN-free weights perturbed and a
// PolyMask on two of its sites.
func maskedLeNet(t *testing.T) *Model {
	t.Helper()
	m, err := NewSeeded("lenet", 10, [3]int{1, 28, 28}, 7)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(3))
	for i, s := range m.Sites[:2] {
		pm := nn.NewPolyMask(s.Shape, 2)
		for j := range pm.Mask {
			if rng.Intn(3) == 0 {
				pm.Mask[j] = 0
			}
		}
		for c := range pm.Coef {
			pm.Coef[c] = []float32{0.1 * float32(i+1), 0.5, float32(c) * 0.01}
		}
		s.Act = pm
	}
	m.Meta.Dataset = "mnist"
	m.Meta.Mean, m.Meta.Std = []float32{0.1307}, []float32{0.3081}
	if err := m.Meta.SetJSON(modelfile.KeyReduce, map[string]any{"method": "test"}); err != nil {
		t.Fatal(err)
	}
	return m
}

func forward(t *testing.T, m *Model, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	m.SetTraining(false)
	var y *autograd.Var
	var err error
	autograd.NoGrad(func() { y, err = m.Forward(autograd.Const(x)) })
	if err != nil {
		t.Fatal(err)
	}
	return y.Value
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m := maskedLeNet(t)
	p := filepath.Join(t.TempDir(), "lenet.safetensors")
	if err := m.Save(p); err != nil {
		t.Fatal(err)
	}
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Arch != "lenet" || got.Classes != 10 || got.Input != m.Input || got.Meta.Dataset != "mnist" || got.Meta.Std[0] != 0.3081 {
		t.Fatalf("metadata not restored: %+v", got.Meta)
	}
	var rec map[string]string
	if ok, err := got.Meta.GetJSON(modelfile.KeyReduce, &rec); !ok || err != nil || rec["method"] != "test" {
		t.Fatalf("reduce record: %v %v %v", ok, err, rec)
	}
	perA, totA := m.ReLUCount()
	perB, totB := got.ReLUCount()
	if totA != totB || totA == 0 || totA == 4704+1600+120+84 {
		t.Fatalf("ReLU count %d after load, %d before (must be masked)", totB, totA)
	}
	for i := range perA {
		if perA[i] != perB[i] {
			t.Fatalf("site %d: %d ReLUs after load, %d before", i, perB[i], perA[i])
		}
	}
	for i, s := range got.Sites {
		_, masked := s.Act.(*nn.PolyMask)
		if masked != (i < 2) {
			t.Fatalf("site %s: PolyMask installed = %v", s.Name, masked)
		}
	}
	x := tensor.New(3, 1, 28, 28)
	rng := rand.New(rand.NewSource(5))
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	ya, yb := forward(t, m, x), forward(t, got, x)
	if d := tensor.MaxAbsDiff(ya, yb); d != 0 {
		t.Fatalf("loaded model differs from saved one by %g", d)
	}
	// Saving the loaded model gives the same tensors again.
	p2 := filepath.Join(t.TempDir(), "again.safetensors")
	if err := got.Save(p2); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(p)
	b, _ := os.ReadFile(p2)
	if string(a) != string(b) {
		t.Fatal("save(load(file)) differs from file")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	m := maskedLeNet(t)
	good := filepath.Join(dir, "good.safetensors")
	if err := m.Save(good); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ts, err := m.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	withMeta := func(name string, mod func(map[string]*tensor.Tensor, map[string]string)) string {
		cp := map[string]*tensor.Tensor{}
		for k, v := range ts {
			cp[k] = v.Clone()
		}
		md := m.Meta.Map()
		md[modelfile.KeyArch], md[modelfile.KeyClasses], md[modelfile.KeyInput] = "lenet", "10", "1,28,28"
		mod(cp, md)
		p := filepath.Join(dir, name)
		if err := modelfile.Write(p, cp, md); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := map[string]string{
		"missing":   filepath.Join(dir, "nope.safetensors"),
		"truncated": write("trunc.safetensors", raw[:len(raw)-10]),
		"garbage":   write("garbage.safetensors", []byte("this is not a model file at all")),
		"no arch":   withMeta("noarch.safetensors", func(_ map[string]*tensor.Tensor, md map[string]string) { delete(md, modelfile.KeyArch) }),
		"bad arch":  withMeta("badarch.safetensors", func(_ map[string]*tensor.Tensor, md map[string]string) { md[modelfile.KeyArch] = "vgg99" }),
		"wrong arch": withMeta("wrongarch.safetensors", func(_ map[string]*tensor.Tensor, md map[string]string) {
			md[modelfile.KeyArch], md[modelfile.KeyInput] = "resnet20", "3,32,32"
		}),
		"wrong classes":  withMeta("classes.safetensors", func(_ map[string]*tensor.Tensor, md map[string]string) { md[modelfile.KeyClasses] = "100" }),
		"missing tensor": withMeta("missingt.safetensors", func(ts map[string]*tensor.Tensor, _ map[string]string) { delete(ts, "fc1.weight") }),
		"extra tensor": withMeta("extra.safetensors", func(ts map[string]*tensor.Tensor, _ map[string]string) {
			ts["bogus.weight"] = tensor.New(2)
		}),
		"bad shape": withMeta("shape.safetensors", func(ts map[string]*tensor.Tensor, _ map[string]string) {
			ts["conv1.bias"] = tensor.New(7)
		}),
		"mask without poly": withMeta("nopoly.safetensors", func(ts map[string]*tensor.Tensor, _ map[string]string) {
			delete(ts, m.Sites[0].Name+".poly")
		}),
		"mask wrong shape": withMeta("maskshape.safetensors", func(ts map[string]*tensor.Tensor, _ map[string]string) {
			ts[m.Sites[0].Name+".mask"] = tensor.Full(1, 6, 28)
		}),
		"mask not binary": withMeta("maskval.safetensors", func(ts map[string]*tensor.Tensor, _ map[string]string) {
			ts[m.Sites[0].Name+".mask"].Data[0] = 0.5
		}),
		"poly wrong channels": withMeta("polyc.safetensors", func(ts map[string]*tensor.Tensor, _ map[string]string) {
			ts[m.Sites[0].Name+".poly"] = tensor.New(5, 3)
		}),
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Load(p)
			if err == nil {
				t.Fatalf("loaded %s (%s ReLUs)", p, got.Arch)
			}
			t.Log(err)
			if name != "missing" && !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q does not name the file", err)
			}
		})
	}
}

// TestLoadReduceCheckpoint: a reduce checkpoint's training-only site
// tensors (score, DaPa statistics) are ignored on masked sites, as a plain
// file and inside a training checkpoint; misplaced or mis-shaped ones are
// still errors.
func TestLoadReduceCheckpoint(t *testing.T) {
	dir := t.TempDir()
	m := maskedLeNet(t)
	ts, err := m.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	s0, s2 := m.Sites[0], m.Sites[2] // masked, plain
	c := s0.Shape[0]
	write := func(name string, prefix string, mod func(map[string]*tensor.Tensor), md map[string]string) string {
		cp := map[string]*tensor.Tensor{}
		for k, v := range ts {
			cp[prefix+k] = v.Clone()
		}
		extra := map[string]*tensor.Tensor{
			s0.Name + ".score":      tensor.Full(0.5, s0.Shape...),
			s0.Name + ".dapa_mean":  tensor.New(c),
			s0.Name + ".dapa_var":   tensor.Full(1, c),
			s0.Name + ".dapa_steps": tensor.New(2),
		}
		mod(extra)
		for k, v := range extra {
			cp[prefix+k] = v
		}
		meta := m.Meta.Clone()
		meta.Arch, meta.Classes, meta.Input = m.Arch, m.Classes, m.Input
		mm := meta.Map()
		for k, v := range md {
			mm[k] = v
		}
		p := filepath.Join(dir, name)
		if err := modelfile.Write(p, cp, mm); err != nil {
			t.Fatal(err)
		}
		return p
	}
	x := tensor.New(2, 1, 28, 28)
	for i := range x.Data {
		x.Data[i] = float32(i%13) / 13
	}
	want := forward(t, m, x)
	_, wantReLUs := m.ReLUCount()
	for _, p := range []string{
		write("best.safetensors", "", func(map[string]*tensor.Tensor) {}, nil),
		write("search.safetensors", modelfile.CheckpointModelPrefix, func(map[string]*tensor.Tensor) {},
			map[string]string{modelfile.KeyCheckpoint: `{"version":1}`}),
	} {
		got, err := Load(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if _, n := got.ReLUCount(); n != wantReLUs {
			t.Fatalf("%s: %d ReLUs, want %d", p, n, wantReLUs)
		}
		if d := tensor.MaxAbsDiff(forward(t, got, x), want); d != 0 {
			t.Fatalf("%s: output differs by %g", p, d)
		}
	}
	bad := map[string]func(map[string]*tensor.Tensor){
		"score wrong shape":   func(e map[string]*tensor.Tensor) { e[s0.Name+".score"] = tensor.New(c) },
		"dapa wrong shape":    func(e map[string]*tensor.Tensor) { e[s0.Name+".dapa_mean"] = tensor.New(c + 1) },
		"score on plain site": func(e map[string]*tensor.Tensor) { e[s2.Name+".score"] = tensor.New(s2.Shape...) },
		"unknown site key":    func(e map[string]*tensor.Tensor) { e[s0.Name+".dapa_foo"] = tensor.New(c) },
		"score of no site":    func(e map[string]*tensor.Tensor) { e["nosuch.score"] = tensor.New(c) },
		"snl alpha (no mask)": func(e map[string]*tensor.Tensor) { e[s2.Name+".alpha"] = tensor.New(s2.Shape...) },
	}
	for name, mod := range bad {
		p := write(strings.ReplaceAll(name, " ", "_")+".safetensors", "", mod, nil)
		if _, err := Load(p); err == nil {
			t.Errorf("%s: loaded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
