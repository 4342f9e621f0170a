package models

import (
	"encoding/json"
	"maps"
	"math"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
)

// parityFixture is written by scripts/torch-parity-fixture.py (PyTorch,
// float64 reference rounded to float32); the script's doc string describes
// the networks and the tensor names.
const parityFixture = "testdata/torch-parity.safetensors"

// parityTol bounds autorep's float32 error relative to each tensor's scale
// max(1, max|want|). PyTorch's own float32 pass is within 2e-7 of the same
// reference (metadata "torch_f32_err").
const parityTol = 1e-5

// parityNet builds the fixture's network net with autorep's layers: LeNet
// as New("lenet") does, and a two-block CIFAR ResNet from the same
// builders as cifarResNet (16 and 32 channels, so the blocked layouts and
// fused batch-norm paths run).
func parityNet(t *testing.T, net string) *nn.Graph {
	t.Helper()
	switch net {
	case "lenet":
		m, err := New("lenet", 10, [3]int{1, 28, 28})
		if err != nil {
			t.Fatal(err)
		}
		return m.Net
	case "resnet":
		b := &graphBuilder{g: &nn.Graph{}, rng: rand.New(rand.NewSource(1))}
		b.conv("conv1", -1, 3, 16, 3, 1, 1, false)
		b.bn("bn1", b.last(), 16)
		x := b.relu("relu", b.last())
		x = b.basicBlock("layer1.0", x, 16, 16, 1)
		x = b.basicBlock("layer2.0", x, 16, 32, 2)
		b.head(x, 32, 10)
		if err := b.g.FillSiteShapes([]int{1, 3, 8, 8}); err != nil {
			t.Fatal(err)
		}
		return b.g
	}
	t.Fatalf("fixture names unknown network %q", net)
	return nil
}

// prefixed returns the fixture's tensors under prefix, keyed by the rest
// of their name.
func prefixed(f *modelfile.File, prefix string) map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{}
	for name, v := range f.Tensors {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

// scaleOf is max(1, max|want|), the scale errors are measured against.
func scaleOf(want *tensor.Tensor) float64 {
	scale := 1.0
	for _, v := range want.Data {
		scale = max(scale, math.Abs(float64(v)))
	}
	return scale
}

// TestTorchParity runs one forward and backward pass of LeNet and a small
// ResNet (batch norm in training and in evaluation mode; and with two ReLU
// sites reduced to PolyMask activations) on the fixture's
// weights and inputs, with cross-entropy (label smoothing) plus the KD
// loss, and requires PyTorch's loss, logits, parameter gradients and
// updated running statistics, with and without autorep's fused paths (and,
// in evaluation mode, the logits of a no-gradient pass with folded batch
// norms).
func TestTorchParity(t *testing.T) {
	f, err := modelfile.Read(parityFixture)
	if err != nil {
		t.Fatalf("%v (regenerate with scripts/torch-parity-fixture.py)", err)
	}
	var cases map[string]struct {
		Net      string
		Extra    string // prefix of PolyMask masks and coefficients to add
		Training bool
	}
	if err := json.Unmarshal([]byte(f.Metadata["cases"]), &cases); err != nil || len(cases) == 0 {
		t.Fatalf("fixture metadata \"cases\" %q: %v", f.Metadata["cases"], err)
	}
	smoothing, err1 := strconv.ParseFloat(f.Metadata["smoothing"], 32)
	temp, err2 := strconv.ParseFloat(f.Metadata["temperature"], 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("fixture metadata: smoothing %v, temperature %v", err1, err2)
	}
	t.Logf("fixture from torch %s; PyTorch float32 error vs the float64 reference: %s", f.Metadata["torch"], f.Metadata["torch_f32_err"])
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		c := cases[name]
		for _, fused := range []bool{true, false} {
			mode := "fused"
			if !fused {
				mode = "plain"
			}
			t.Run(name+"/"+mode, func(t *testing.T) {
				g := parityNet(t, c.Net)
				g.NoFusion = !fused
				sd := prefixed(f, c.Net+"/param/")
				if c.Extra != "" {
					maps.Copy(sd, prefixed(f, c.Extra+"/param/"))
				}
				if err := nn.LoadStateDict(g, sd); err != nil {
					t.Fatal(err)
				}
				nn.SetTraining(g, c.Training)
				checkParity(t, f, name, g, float32(smoothing), float32(temp), c.Training)
			})
		}
	}
}

func checkParity(t *testing.T, f *modelfile.File, name string, g *nn.Graph, smoothing, temp float32, training bool) {
	get := func(key string) *tensor.Tensor {
		v := f.Tensors[name+"/"+key]
		if v == nil {
			t.Fatalf("fixture has no %s/%s", name, key)
		}
		return v
	}
	x, teacher, labelsF := get("input"), get("teacher"), get("labels")
	labels := make([]int32, labelsF.Len())
	for i, v := range labelsF.Data {
		labels[i] = int32(v)
	}
	logits, err := g.Run(autograd.Const(x))
	if err != nil {
		t.Fatal(err)
	}
	ce, err := nn.CrossEntropy(logits, labels, smoothing)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := nn.KDLoss(logits, autograd.Const(teacher), temp)
	if err != nil {
		t.Fatal(err)
	}
	loss := nn.Plus(ce, kd)
	loss.Backward()

	worst := map[string]float64{}
	check := func(kind, key string, got, want *tensor.Tensor) {
		scale := scaleOf(want)
		worst[kind] = max(worst[kind], tensor.MaxAbsDiff(got, want)/scale)
		if err := tensor.Close(got, want, parityTol*scale, 0); err != nil {
			t.Errorf("%s %s (scale %.3g): %v", kind, key, scale, err)
		}
	}
	check("loss", "", loss.Value, get("loss"))
	check("logits", "", logits.Value, get("logits"))
	if !training {
		// Inference without gradients folds each batch norm into its
		// convolution (the path eval and serve take).
		var folded *autograd.Var
		autograd.NoGrad(func() { folded, err = g.Run(autograd.Const(x)) })
		if err != nil {
			t.Fatal(err)
		}
		check("inference logits", "", folded.Value, get("logits"))
	}
	grads := prefixed(f, name+"/grad/")
	params := nn.NamedParameters(g)
	if len(params) != len(grads) {
		t.Errorf("%d parameters, fixture has %d gradients", len(params), len(grads))
	}
	for _, p := range params {
		want := grads[p.Name]
		if want == nil {
			t.Errorf("fixture has no gradient for %s", p.Name)
			continue
		}
		check("grad", p.Name, p.Var.Grad, want)
	}
	after := prefixed(f, name+"/after/")
	if training && len(after) == 0 && len(nn.NamedBuffers(g)) > 0 {
		t.Errorf("fixture has no running statistics after the training-mode pass")
	}
	for _, b := range nn.NamedBuffers(g) {
		if want := after[b.Name]; want != nil {
			check("running stats", b.Name, b.Tensor, want)
		}
	}
	t.Logf("loss %.7f (PyTorch %.7f); max error relative to scale: %v", loss.Value.Data[0], get("loss").Data[0], worst)
}
