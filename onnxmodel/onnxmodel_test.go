package onnxmodel

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/onnx"
	"github.com/autorep/autorep/tensor"
)

// readPB reads a TensorProto file as a float tensor.
func readPB(t testing.TB, path string) *tensor.Tensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := onnx.UnmarshalTensor(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	v, err := tp.Floats()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	shape := make([]int, len(tp.Dims))
	for i, d := range tp.Dims {
		shape[i] = int(d)
	}
	return tensor.FromData(v, shape...)
}

// forward runs m in evaluation mode without gradients.
func forward(t testing.TB, m *models.Model, x *tensor.Tensor) *tensor.Tensor {
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

// maxDiff is the largest |a−b|; shapes must agree. A NaN or infinity on
// either side counts as an infinite difference (it would hide any error).
func maxDiff(t testing.TB, a, b *tensor.Tensor) float64 {
	t.Helper()
	if len(a.Data) != len(b.Data) {
		t.Fatalf("shapes %v and %v", a.Shape, b.Shape)
	}
	d := 0.0
	for i := range a.Data {
		x, y := float64(a.Data[i]), float64(b.Data[i])
		if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
			return math.Inf(1)
		}
		d = math.Max(d, math.Abs(x-y))
	}
	return d
}

func importFixture(t testing.TB, name, arch string) (*models.Model, *Report) {
	t.Helper()
	om, err := onnx.ReadFile(filepath.Join("testdata", name+".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	m, rep, err := Import(om, arch)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m, rep
}

// TestImportMatchesPyTorch imports the torch.onnx.export fixtures of
// scripts/onnx-fixtures.py and compares the logits with PyTorch's.
func TestImportMatchesPyTorch(t *testing.T) {
	for _, tc := range []struct {
		name, arch      string
		sites, foldedBN int
	}{
		{"lenet", "lenet", 4, 0},
		{"resnet20", "resnet20", 19, 21},
		{"resnet20-bn", "resnet20", 19, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, rep := importFixture(t, tc.name, "")
			if rep.Arch != tc.arch || rep.Sites != tc.sites || rep.FoldedBN != tc.foldedBN || rep.Mixed != 0 {
				t.Errorf("report %+v, want arch %s, %d sites, %d folded batch norms", rep, tc.arch, tc.sites, tc.foldedBN)
			}
			x := readPB(t, filepath.Join("testdata", tc.name+".input.pb"))
			want := readPB(t, filepath.Join("testdata", tc.name+".logits.pb"))
			got := forward(t, m, x)
			if d := maxDiff(t, got, want); d > 1e-4 {
				t.Errorf("logits differ from PyTorch's by %g (> 1e-4)", d)
			} else {
				t.Logf("max |logit − PyTorch| = %.2g", d)
			}
			// The same through a model file.
			viaFile(t, m, x, got)
		})
	}
}

// TestImportArchMismatch: asking for the wrong architecture is an error.
func TestImportArchMismatch(t *testing.T) {
	om, err := onnx.ReadFile("testdata/lenet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Import(om, "resnet20"); err == nil || !strings.Contains(err.Error(), "does not match architecture resnet20") {
		t.Errorf("lenet as resnet20: %v", err)
	}
	if _, _, err := Import(om, "nosuch"); err == nil {
		t.Error("unknown architecture accepted")
	}
}

// TestImportGenericGraph: a network of no known architecture imports as a
// models.GraphArch model that matches PyTorch, survives a model file and
// an export → import round trip, reduced or not.
func TestImportGenericGraph(t *testing.T) {
	m, rep := importFixture(t, "avgnet", "")
	if rep.Arch != models.GraphArch || rep.Sites != 2 || m.Arch != models.GraphArch {
		t.Fatalf("report %+v", rep)
	}
	x := readPB(t, "testdata/avgnet.input.pb")
	want := readPB(t, "testdata/avgnet.logits.pb")
	got := forward(t, m, x)
	if d := maxDiff(t, got, want); d > 1e-4 {
		t.Errorf("logits differ from PyTorch's by %g", d)
	}
	m2 := viaFile(t, m, x, got)
	randomReduce(m2, 2, 3)
	m3, rep3, _ := reimport(t, m2, "")
	if rep3.Arch != models.GraphArch || rep3.Mixed != 2 {
		t.Errorf("re-import report %+v", rep3)
	}
	if d := maxDiff(t, forward(t, m3, x), forward(t, m2, x)); d > 1e-5 {
		t.Errorf("reduced generic model: logits differ by %g after export → import", d)
	}
}

// TestGenericGraphMatchesPyTorch runs the converted graph of a network of
// no known architecture (Pad + AveragePool, MatMul + Add, batch norm after
// a biased conv) against PyTorch's logits.
func TestGenericGraphMatchesPyTorch(t *testing.T) {
	om, err := onnx.ReadFile("testdata/avgnet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	g, in, classes, _, err := toGraph(om, nil)
	if err != nil {
		t.Fatal(err)
	}
	if in != [3]int{3, 16, 16} || classes != 5 || len(nn.Sites(g)) != 2 {
		t.Fatalf("input %v, %d classes, %d sites", in, classes, len(nn.Sites(g)))
	}
	if ap, ok := g.Find("pool1.averagepool").Op.(*nn.AvgPool2d); !ok || ap.Pad != 1 || ap.Kernel != 3 || ap.Stride != 2 {
		t.Errorf("Pad + AveragePool became %+v", g.Find("pool1.averagepool"))
	}
	x := readPB(t, "testdata/avgnet.input.pb")
	want := readPB(t, "testdata/avgnet.logits.pb")
	nn.SetTraining(g, false)
	var y *autograd.Var
	autograd.NoGrad(func() { y, err = g.Run(autograd.Const(x)) })
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(t, y.Value, want); d > 1e-4 {
		t.Errorf("logits differ from PyTorch's by %g", d)
	}
}

// viaFile saves m to a model file and loads it back; the loaded model
// must give the logits got on x exactly.
func viaFile(t *testing.T, m *models.Model, x, got *tensor.Tensor) *models.Model {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	m2, err := models.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(t, forward(t, m2, x), got); d != 0 {
		t.Errorf("saved and loaded model differs by %g", d)
	}
	return m2
}

// reimport exports m, encodes and decodes the ONNX model and imports it
// (onto arch, "" = detect); it also returns the decoded ONNX model.
func reimport(t *testing.T, m *models.Model, arch string) (*models.Model, *Report, *onnx.Model) {
	t.Helper()
	om, err := Export(m)
	if err != nil {
		t.Fatal(err)
	}
	b, err := onnx.Marshal(om)
	if err != nil {
		t.Fatal(err)
	}
	om2, err := onnx.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	m2, rep, err := Import(om2, arch)
	if err != nil {
		t.Fatalf("re-import: %v", err)
	}
	return m2, rep, om2
}

// randomReduce installs degree-deg PolyMasks dropping about half the ReLUs.
func randomReduce(m *models.Model, deg int, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	for _, s := range m.Sites {
		pm := nn.NewPolyMask(s.Shape, deg)
		for i := range pm.Mask {
			if rng.Intn(2) == 0 {
				pm.Mask[i] = 0
			}
		}
		// Near a linear fit of ReLU (c0 ≈ 0.2, c1 ≈ 0.5, small c2) so
		// 19 sites of ResNet-20 keep the activations finite.
		for _, row := range pm.Coef {
			for d := range row {
				row[d] = float32([]float64{0.2, 0.5, 0.02}[min(d, 2)] * (1 + 0.3*rng.NormFloat64()))
			}
		}
		s.Act = pm
	}
}

// arch names the fixtures' architectures (detection is tested once, in
// TestImportMatchesPyTorch: it builds every candidate architecture).
var arch = map[string]string{"lenet": "lenet", "resnet20": "resnet20", "resnet20-bn": "resnet20"}

// TestExportRoundTrip: export → bytes → import gives the same logits, for
// plain and reduced models (degrees 1 and 2), and the same masks.
func TestExportRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		deg     int
	}{{"lenet", 0}, {"lenet", 2}, {"resnet20", 2}, {"resnet20-bn", 1}} {
		m, _ := importFixture(t, tc.fixture, arch[tc.fixture])
		if tc.deg > 0 {
			randomReduce(m, tc.deg, 5)
		}
		m2, rep, om2 := reimport(t, m, m.Arch)
		if om2.Opset() != ExportOpset || om2.Meta("autorep.arch") != m.Arch {
			t.Errorf("opset %d, metadata %v", om2.Opset(), om2.Metadata)
		}
		for _, n := range om2.Graph.Nodes {
			if n.OpType == "Pow" || n.OpType == "Where" {
				t.Errorf("exported graph uses %s", n.OpType)
			}
		}
		wantMixed := 0
		if tc.deg > 0 {
			wantMixed = len(m.Sites)
		}
		if rep.Arch != m.Arch || rep.Mixed != wantMixed {
			t.Errorf("%s deg %d: re-import report %+v", tc.fixture, tc.deg, rep)
		}
		_, total := m.ReLUCount()
		_, total2 := m2.ReLUCount()
		if total != total2 {
			t.Errorf("%s deg %d: %d ReLUs after the round trip, want %d", tc.fixture, tc.deg, total2, total)
		}
		x := readPB(t, filepath.Join("testdata", tc.fixture+".input.pb"))
		if d := maxDiff(t, forward(t, m2, x), forward(t, m, x)); d > 1e-5 {
			t.Errorf("%s deg %d: logits differ by %g after export → import", tc.fixture, tc.deg, d)
		}
	}
}

// TestExportPassesChecker runs python3-onnx's checker on exported files
// (plain and reduced) when /usr/bin/python3 has onnx.
func TestExportPassesChecker(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onnx").Run(); err != nil {
		t.Skipf("%s with onnx not available (apt-get install python3-onnx): %v", py, err)
	}
	dir := t.TempDir()
	var paths []string
	for _, deg := range []int{0, 2} {
		m, _ := importFixture(t, "resnet20", "resnet20")
		if deg > 0 {
			randomReduce(m, deg, 9)
		}
		om, err := Export(m)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "r20-"+string(rune('0'+deg))+".onnx")
		if err := onnx.WriteFile(p, om); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	script := "import onnx, sys\nfor p in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(p), full_check=True)\n"
	out, err := exec.Command(py, append([]string{"-c", script}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker: %v\n%s", err, out)
	}
}

// TestCorruptFiles: truncated and damaged fixtures are errors, not panics.
func TestCorruptFiles(t *testing.T) {
	b, err := os.ReadFile("testdata/lenet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 10, 100, len(b) / 2, len(b) - 40, len(b) - 1} {
		om, err := onnx.Unmarshal(b[:n])
		if err == nil {
			_, _, err = Import(om, "")
		}
		if err == nil {
			t.Errorf("truncated to %d bytes: accepted", n)
		}
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		c := append([]byte(nil), b...)
		for j := 0; j < 4; j++ {
			c[rng.Intn(len(c))] = byte(rng.Intn(256))
		}
		if om, err := onnx.Unmarshal(c); err == nil {
			Import(om, "lenet") // may succeed (weights damaged) but must not panic
		}
	}
}

// tinyModel is a hand-built graph: input [1,1,4,4] → nodes → output.
func tinyModel(opset int64, nodes []*onnx.Node, inits ...*onnx.Tensor) *onnx.Model {
	return &onnx.Model{IRVersion: 7, OpsetImports: []onnx.OpsetID{{Version: opset}}, Graph: &onnx.Graph{
		Nodes: nodes, Initializers: inits,
		Inputs:  []*onnx.ValueInfo{{Name: "x", ElemType: onnx.Float, HasShape: true, Shape: []onnx.Dim{{Param: "N"}, {Value: 1}, {Value: 4}, {Value: 4}}}},
		Outputs: []*onnx.ValueInfo{{Name: "y", ElemType: onnx.Float}},
	}}
}

// TestUnsupportedErrors: unsupported operators and attributes are errors
// naming the node, its operator and what is supported.
func TestUnsupportedErrors(t *testing.T) {
	w := onnx.FloatTensor("w", []int64{2, 1, 3, 3}, make([]float32, 18))
	conv := func(attrs ...*onnx.Attribute) *onnx.Node {
		return &onnx.Node{Name: "/c/Conv", OpType: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"y"}, Attributes: attrs}
	}
	for _, tc := range []struct {
		name string
		m    *onnx.Model
		want []string
	}{
		{"operator", tinyModel(13, []*onnx.Node{{Name: "/s/Sigmoid", OpType: "Sigmoid", Inputs: []string{"x"}, Outputs: []string{"y"}}}),
			[]string{`"/s/Sigmoid"`, "(Sigmoid)", "operator not supported", "Conv", "Relu"}},
		{"dilation too wide", tinyModel(13, []*onnx.Node{conv(intsAttr("dilations", 2, 2))}, w), []string{`"/c/Conv"`, "(Conv)", "window 5×5", "larger than the padded 4×4 input"}},
		{"asymmetric pads", tinyModel(13, []*onnx.Node{conv(intsAttr("pads", 0, 1, 0, 1))}, w), []string{"(Conv)", "pads [0 1 0 1]", "no equivalent square kernel", "supported: square kernels with equal padding"}},
		{"unequal strides", tinyModel(13, []*onnx.Node{conv(intsAttr("strides", 1, 2))}, w), []string{"(Conv)", "strides [1 2]", "same positive stride"}},
		{"auto_pad", tinyModel(13, []*onnx.Node{conv(&onnx.Attribute{Name: "auto_pad", Type: onnx.AttrString, S: []byte("SAME")})}, w), []string{"(Conv)", `auto_pad "SAME"`, "SAME_UPPER"}},
		{"max pool ceil_mode", tinyModel(13, []*onnx.Node{{Name: "mp", OpType: "MaxPool", Inputs: []string{"x"}, Outputs: []string{"y"},
			Attributes: []*onnx.Attribute{intsAttr("kernel_shape", 3, 3), intsAttr("strides", 2, 2), intAttrOf("ceil_mode", 1)}}}), []string{`"mp" (MaxPool)`, "ceil_mode 1", "partial window", "supported: ceil_mode 0"}},
		{"max pool same_upper", tinyModel(13, []*onnx.Node{{Name: "mp", OpType: "MaxPool", Inputs: []string{"x"}, Outputs: []string{"y"},
			Attributes: []*onnx.Attribute{intsAttr("kernel_shape", 2, 2), {Name: "auto_pad", Type: onnx.AttrString, S: []byte("SAME_UPPER")}}}}), []string{"(MaxPool)", "pads [0 0 1 1]", "same padding on all four sides"}},
		{"max pool dilation", tinyModel(13, []*onnx.Node{{Name: "mp", OpType: "MaxPool", Inputs: []string{"x"}, Outputs: []string{"y"},
			Attributes: []*onnx.Attribute{intsAttr("kernel_shape", 2, 2), intsAttr("dilations", 2, 2)}}}), []string{"(MaxPool)", "dilations [2 2]", "only for Conv"}},
		{"constant / tensor", tinyModel(13, []*onnx.Node{{Name: "d", OpType: "Div", Inputs: []string{"k", "x"}, Outputs: []string{"y"}}},
			onnx.FloatTensor("k", nil, []float32{2})), []string{`"d" (Div)`, "not affine"}},
		{"divide by zero", tinyModel(13, []*onnx.Node{{Name: "d", OpType: "Div", Inputs: []string{"x", "k"}, Outputs: []string{"y"}}},
			onnx.FloatTensor("k", nil, []float32{0})), []string{`"d" (Div)`, "divisor 0", "non-zero"}},
		{"spatial constant", tinyModel(13, []*onnx.Node{{Name: "s", OpType: "Sub", Inputs: []string{"x", "k"}, Outputs: []string{"y"}}},
			onnx.FloatTensor("k", []int64{4}, []float32{1, 2, 3, 4})), []string{`"s" (Sub)`, `constant "k" of dims [4]`, "[C,1,1]"}},
		{"constant overflow", tinyModel(13, []*onnx.Node{{Name: "m1", OpType: "Mul", Inputs: []string{"x", "k"}, Outputs: []string{"m"}},
			{Name: "m2", OpType: "Mul", Inputs: []string{"m", "k"}, Outputs: []string{"y"}}},
			onnx.FloatTensor("k", nil, []float32{1e30})), []string{`"m2" (Mul)`, "overflows"}},
		{"sub of tensors", tinyModel(13, []*onnx.Node{{Name: "s", OpType: "Sub", Inputs: []string{"x", "x"}, Outputs: []string{"y"}}}), []string{"Sub of two computed tensors"}},
		{"unknown attribute", tinyModel(13, []*onnx.Node{conv(intsAttr("output_padding", 1))}, w), []string{`attribute "output_padding"`}},
		{"opset 9", tinyModel(9, []*onnx.Node{{OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"y"}}}), []string{"opset 9", "11 to 17"}},
		{"opset 18", tinyModel(18, []*onnx.Node{{OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"y"}}}), []string{"opset 18"}},
		{"lone Mul", tinyModel(13, []*onnx.Node{{Name: "m", OpType: "Mul", Inputs: []string{"x", "x"}, Outputs: []string{"y"}}}), []string{"(Mul)", "mixed activation"}},
		{"edge pad", tinyModel(13, []*onnx.Node{{Name: "p", OpType: "Pad", Inputs: []string{"x", "pads"}, Outputs: []string{"y"},
			Attributes: []*onnx.Attribute{{Name: "mode", Type: onnx.AttrString, S: []byte("edge")}}}}), []string{"(Pad)", `mode "edge"`}},
		{"other domain", tinyModel(13, []*onnx.Node{{Name: "q", OpType: "Relu", Domain: "com.microsoft", Inputs: []string{"x"}, Outputs: []string{"y"}}}), []string{`domain "com.microsoft"`}},
		{"4-D output", tinyModel(13, []*onnx.Node{{Name: "r", OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"y"}}}), []string{"want [N, classes]"}},
		{"gather axis 1", tinyModel(13, []*onnx.Node{{Name: "s", OpType: "Shape", Inputs: []string{"x"}, Outputs: []string{"sh"}},
			{Name: "g", OpType: "Gather", Inputs: []string{"sh", "i"}, Outputs: []string{"y"}, Attributes: []*onnx.Attribute{intAttrOf("axis", 1)}}},
			onnx.Int64Tensor("i", nil, []int64{0})), []string{`"g" (Gather)`, "axis 0"}},
		{"reshape computed", tinyModel(13, []*onnx.Node{{Name: "r", OpType: "Reshape", Inputs: []string{"x", "x"}, Outputs: []string{"y"}}}),
			[]string{"(Reshape)", "shape arithmetic"}},
		{"cyclic mixed pattern", tinyModel(13, []*onnx.Node{
			{Name: "r", OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"r"}},
			{Name: "m", OpType: "Mul", Inputs: []string{"r", "k"}, Outputs: []string{"a"}},
			{Name: "mk", OpType: "Mul", Inputs: []string{"t", "k"}, Outputs: []string{"b"}},
			{Name: "f", OpType: "Add", Inputs: []string{"a", "b"}, Outputs: []string{"y"}},
			{Name: "t", OpType: "Add", Inputs: []string{"u", "k"}, Outputs: []string{"t"}},
			{Name: "u", OpType: "Mul", Inputs: []string{"t", "x"}, Outputs: []string{"u"}}},
			onnx.FloatTensor("k", []int64{1}, []float32{1})), []string{"onnx node"}},
		{"weight not constant", tinyModel(13, []*onnx.Node{{Name: "c", OpType: "Conv", Inputs: []string{"x", "x"}, Outputs: []string{"y"}}}), []string{"must be a constant"}},
	} {
		_, _, err := Import(tc.m, "")
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
}

// TestBackendNodeTests runs the libonnx-testdata node tests of the
// supported operators whose inputs fit an image graph: inputs after the
// first become initializers, the converted graph runs on input_0 and must
// give output_0.
func TestBackendNodeTests(t *testing.T) {
	root := "/usr/share/libonnx-testdata/data/node"
	if _, err := os.Stat(root); err != nil {
		t.Skip("libonnx-testdata not installed (apt-get install libonnx-testdata)")
	}
	for _, name := range []string{
		"test_conv_with_strides_padding", "test_conv_with_strides_no_padding", "test_conv_with_autopad_same",
		"test_maxpool_2d_default", "test_maxpool_2d_strides", "test_maxpool_2d_precomputed_pads",
		"test_averagepool_2d_default", "test_averagepool_2d_strides",
		"test_averagepool_2d_precomputed_pads_count_include_pad", "test_globalaveragepool", "test_globalaveragepool_precomputed",
		"test_batchnorm_example", "test_batchnorm_epsilon", "test_flatten_axis1", "test_flatten_default_axis",
	} {
		t.Run(name, func(t *testing.T) {
			om := backendModel(t, filepath.Join(root, name))
			set := filepath.Join(root, name, "test_data_set_0")
			ng, _, _, err := convertGraph(om)
			if err != nil {
				t.Fatal(err)
			}
			x := readPB(t, filepath.Join(set, "input_0.pb"))
			want := readPB(t, filepath.Join(set, "output_0.pb"))
			nn.SetTraining(ng, false)
			var y *autograd.Var
			autograd.NoGrad(func() { y, err = ng.Run(autograd.Const(x)) })
			if err != nil {
				t.Fatal(err)
			}
			if tensor.Numel(y.Value.Shape) != tensor.Numel(want.Shape) {
				t.Fatalf("output shape %v, want %v", y.Value.Shape, want.Shape)
			}
			if d := maxDiff(t, y.Value, want); d > 1e-4*math.Max(1, maxAbs(want)) {
				t.Errorf("output differs by %g", d)
			}
		})
	}
	// Node tests of unsupported forms must be clear errors.
	for _, name := range []string{"test_constant_pad", "test_maxpool_2d_ceil", "test_maxpool_2d_dilations", "test_averagepool_2d_pads",
		"test_averagepool_2d_ceil", "test_maxpool_2d_same_upper", "test_maxpool_2d_same_lower", "test_averagepool_2d_same_upper",
		"test_averagepool_2d_same_lower", "test_conv_with_strides_and_asymmetric_padding"} {
		if _, _, _, err := convertGraph(backendModel(t, filepath.Join(root, name))); err == nil || !strings.Contains(err.Error(), "supported") {
			t.Errorf("%s: %v, want an error saying what is supported", name, err)
		}
	}
}

// backendModel reads a node test's model with the inputs after the first
// turned into initializers (from test_data_set_0), at opset ≥ MinOpset.
func backendModel(t *testing.T, dir string) *onnx.Model {
	t.Helper()
	om, err := onnx.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	g := om.Graph
	for k, in := range g.Inputs[1:] {
		tp, err := os.ReadFile(filepath.Join(dir, "test_data_set_0", "input_"+string(rune('1'+k))+".pb"))
		if err != nil {
			t.Fatal(err)
		}
		tt, err := onnx.UnmarshalTensor(tp)
		if err != nil {
			t.Fatal(err)
		}
		tt.Name = in.Name
		g.Initializers = append(g.Initializers, tt)
	}
	if om.Opset() < MinOpset {
		om.OpsetImports = []onnx.OpsetID{{Version: MinOpset}}
	}
	return om
}

func maxAbs(t *tensor.Tensor) float64 {
	m := 0.0
	for _, v := range t.Data {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}

// TestCalibrateFolded: after calibration on a batch, the imported ResNet-20
// (all 21 batch norms folded by torch) still matches PyTorch in evaluation
// mode, and in training mode on that batch computes the same logits (batch
// statistics = calibrated statistics); uncalibrated it does not.
func TestCalibrateFolded(t *testing.T) {
	m, rep := importFixture(t, "resnet20", "resnet20")
	if len(rep.Folded) != 21 {
		t.Fatalf("%d folded batch norms named", len(rep.Folded))
	}
	x := readPB(t, "testdata/resnet20.input.pb")
	want := readPB(t, "testdata/resnet20.logits.pb")
	trainLogits := func() *tensor.Tensor {
		m.SetTraining(true)
		defer m.SetTraining(false)
		var y *autograd.Var
		var err error
		autograd.NoGrad(func() { y, err = m.Forward(autograd.Const(x)) })
		if err != nil {
			t.Fatal(err)
		}
		return y.Value
	}
	before := maxDiff(t, trainLogits(), want)
	m, rep = importFixture(t, "resnet20", "resnet20") // fresh running statistics
	if err := CalibrateFolded(m, rep, x); err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(t, forward(t, m, x), want); d > 1e-4 {
		t.Errorf("calibrated model: eval logits differ from PyTorch's by %g", d)
	}
	after := maxDiff(t, trainLogits(), want)
	if after > 1e-3 || before < 100*after {
		t.Errorf("training-mode logits differ from PyTorch's eval logits by %g (uncalibrated: %g)", after, before)
	}
	t.Logf("training-mode logit error: %.3g uncalibrated, %.3g calibrated", before, after)
}

// TestTrainedModelLogits: the committed trained ResNet-20
// (models/resnet20-cifar10-lossless.safetensors) loaded into PyTorch and
// exported by torch.onnx.export (testdata/resnet20-trained.onnx, with the
// first 8 CIFAR-10 test images and PyTorch's logits, written by
//
//	/usr/bin/python3 scripts/torch-onnx-roundtrip.py --model models/resnet20-cifar10-lossless.safetensors \
//	    --data DIR --out onnxmodel/testdata/resnet20-trained.onnx --skip-eval
//
// ) imports with logits within 1e-4 of PyTorch's and of the original
// file's, and the same labels; with CIFAR-10 in AUTOREP_DATA also on the
// first 500 test images. AUTOREP_ONNX_CHECK=OUT.onnx adds any file that
// script wrote (OUT.input.pb and OUT.logits.pb next to it).
func TestTrainedModelLogits(t *testing.T) {
	files := []struct{ onnx, orig string }{{"testdata/resnet20-trained.onnx", "../models/resnet20-cifar10-lossless.safetensors"}}
	if p := os.Getenv("AUTOREP_ONNX_CHECK"); p != "" {
		files = append(files, struct{ onnx, orig string }{p, ""})
	}
	for _, f := range files {
		t.Run(filepath.Base(f.onnx), func(t *testing.T) {
			om, err := onnx.ReadFile(f.onnx)
			if err != nil {
				t.Fatal(err)
			}
			m, rep, err := Import(om, "")
			if err != nil {
				t.Fatal(err)
			}
			stem := strings.TrimSuffix(f.onnx, filepath.Ext(f.onnx))
			x := readPB(t, stem+".input.pb")
			want := readPB(t, stem+".logits.pb")
			if err := CalibrateFolded(m, rep, x); err != nil {
				t.Fatal(err)
			}
			got := forward(t, m, x)
			d := maxDiff(t, got, want)
			t.Logf("%s: imported as %s (%d folded batch norms); max |logit − PyTorch| over %d images = %.3g", f.onnx, rep.Arch, rep.FoldedBN, x.Shape[0], d)
			if d > 1e-4 {
				t.Errorf("logits differ from PyTorch's by %g (> 1e-4)", d)
			}
			if f.orig == "" {
				return
			}
			orig, err := models.Load(f.orig)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(t, forward(t, orig, x), want); d > 1e-4 {
				t.Fatalf("%s gives logits %g from the fixture's PyTorch logits: re-run scripts/torch-onnx-roundtrip.py (see the test's comment)", f.orig, d)
			}
			for i, l := range labels(got) {
				if w := labels(want)[i]; l != w {
					t.Errorf("image %d: label %d, PyTorch %d", i, l, w)
				}
			}
			t.Run("cifar10-test-500", func(t *testing.T) {
				set, err := data.Load(data.Dir(""), "cifar10", false)
				if err != nil {
					t.Skipf("CIFAR-10 test split not available (set AUTOREP_DATA): %v", err)
				}
				const n = 500
				xs := tensor.New(n, set.C, set.H, set.W)
				for i := 0; i < n; i++ {
					copy(xs.Data[i*set.ImageSize():], set.Normalized(i).Data)
				}
				a, b := labels(forward(t, orig, xs)), labels(forward(t, m, xs))
				same, correct := 0, 0
				for i := range a {
					if a[i] == b[i] {
						same++
					}
					if b[i] == int(set.Labels[i]) {
						correct++
					}
				}
				t.Logf("first %d test images: %d labels equal to the original file's; imported model correct on %d", n, same, correct)
				if same != n {
					t.Errorf("imported model's labels differ from the original's on %d of %d images", n-same, n)
				}
			})
		})
	}
}

// labels returns the argmax of each row of logits [N, classes].
func labels(y *tensor.Tensor) []int {
	n, k := y.Shape[0], y.Shape[1]
	out := make([]int, n)
	for i := range out {
		for j := 1; j < k; j++ {
			if y.Data[i*k+j] > y.Data[i*k+out[i]] {
				out[i] = j
			}
		}
	}
	return out
}

// TestExportMatchesOnnxRuntime runs exported models — reduced LeNet,
// ResNet-20, the generic avgnet, tvnet and padnet — and the fixtures
// tvnet, padnet and lenet-norm themselves in onnxruntime-node, an
// independent ONNX implementation, and compares its logits with autorep's
// (for the fixtures: with the import of constants and rewritten windows).
// It runs when
// AUTOREP_ORT_NODE_PATH names a node_modules directory holding
// onnxruntime-node (npm install --ignore-scripts onnxruntime-node@1.17.0).
func TestExportMatchesOnnxRuntime(t *testing.T) {
	nodePath := os.Getenv("AUTOREP_ORT_NODE_PATH")
	if nodePath == "" {
		t.Skip("AUTOREP_ORT_NODE_PATH not set (a node_modules directory with onnxruntime-node)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("node not found: %v", err)
	}
	dir := t.TempDir()
	// deg −1: onnxruntime runs the fixture itself, an independent reading
	// of its Sub/Div/Mul, auto_pad, asymmetric pads, dilations and
	// ceil_mode against the import's rewrites.
	for _, tc := range []struct {
		fixture string
		deg     int
	}{{"lenet", 2}, {"resnet20", 2}, {"resnet20-bn", 1}, {"avgnet", 2}, {"lenet", 0},
		{"tvnet", -1}, {"padnet", -1}, {"lenet-norm", -1}, {"tvnet", 2}, {"padnet", 1}} {
		m, _ := importFixture(t, tc.fixture, "")
		if tc.deg > 0 {
			randomReduce(m, tc.deg, 11)
		}
		mp := filepath.Join("testdata", tc.fixture+".onnx")
		if tc.deg >= 0 {
			om, err := Export(m)
			if err != nil {
				t.Fatal(err)
			}
			mp = filepath.Join(dir, tc.fixture+".onnx")
			if err := onnx.WriteFile(mp, om); err != nil {
				t.Fatal(err)
			}
		}
		x := readPB(t, filepath.Join("testdata", tc.fixture+".input.pb"))
		raw := make([]byte, 4*len(x.Data))
		for i, v := range x.Data {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		ip := filepath.Join(dir, tc.fixture+".f32")
		if err := os.WriteFile(ip, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		shape := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(x.Shape)), ","), "[]")
		cmd := exec.Command(node, filepath.Join("..", "scripts", "onnx-ort-check.mjs"), mp, ip, shape)
		cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: onnxruntime: %v\n%s", tc.fixture, err, out)
		}
		var res struct {
			Dims []int
			Data []float32
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%s: %v\n%s", tc.fixture, err, out)
		}
		got := forward(t, m, x)
		d := maxDiff(t, got, tensor.FromData(res.Data, res.Dims...))
		t.Logf("%s, degree %d: max |logit(autorep) − logit(onnxruntime)| = %.3g (max |logit| %.3g)", tc.fixture, tc.deg, d, maxAbs(got))
		if d > 1e-4*math.Max(1, maxAbs(got)) {
			t.Errorf("%s degree %d: onnxruntime's logits differ by %g", tc.fixture, tc.deg, d)
		}
	}
}

// FuzzImport: whatever bytes decode as an ONNX model, Import returns a
// model or an error, never panics.
func FuzzImport(f *testing.F) {
	if b, err := os.ReadFile("testdata/avgnet.onnx"); err == nil {
		f.Add(b)
	}
	w := onnx.FloatTensor("w", []int64{2, 1, 3, 3}, make([]float32, 18))
	for _, m := range []*onnx.Model{
		tinyModel(13, []*onnx.Node{{Name: "c", OpType: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"c"}},
			{Name: "r", OpType: "Relu", Inputs: []string{"c"}, Outputs: []string{"r"}},
			{Name: "f", OpType: "Flatten", Inputs: []string{"r"}, Outputs: []string{"y"}}}, w),
		tinyModel(13, []*onnx.Node{{Name: "s", OpType: "Sub", Inputs: []string{"x", "k"}, Outputs: []string{"s"}},
			{Name: "d", OpType: "Div", Inputs: []string{"s", "k"}, Outputs: []string{"d"}},
			{Name: "c", OpType: "Conv", Inputs: []string{"d", "w"}, Outputs: []string{"c"}, Attributes: []*onnx.Attribute{
				intsAttr("dilations", 1, 2), {Name: "auto_pad", Type: onnx.AttrString, S: []byte("SAME_UPPER")}}},
			{Name: "m", OpType: "Mul", Inputs: []string{"c", "k"}, Outputs: []string{"m"}},
			{Name: "f", OpType: "Flatten", Inputs: []string{"m"}, Outputs: []string{"y"}}}, w, onnx.FloatTensor("k", nil, []float32{0.5})),
		tinyModel(13, []*onnx.Node{{Name: "p", OpType: "Pad", Inputs: []string{"x", "pads"}, Outputs: []string{"p"}},
			{Name: "a", OpType: "AveragePool", Inputs: []string{"p"}, Outputs: []string{"y"}, Attributes: []*onnx.Attribute{intsAttr("kernel_shape", 2, 2)}}},
			onnx.Int64Tensor("pads", []int64{8}, []int64{0, 0, 1, 1, 0, 0, 1, 1})),
	} {
		b, err := onnx.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		om, err := onnx.Unmarshal(data)
		if err != nil {
			return
		}
		Import(om, "lenet")
		convertGraph(om)
	})
}

// TestConstantsAndWindows imports the fixtures with constant Mul/Sub/Div
// and the window forms autorep rewrites (dilation, a 1×3 kernel, auto_pad,
// asymmetric pads, ceil_mode without a partial window, asymmetric average
// pooling) and compares the logits with PyTorch's; each model also
// survives a model file and an export → import round trip.
func TestConstantsAndWindows(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sites int
		// layers: the converted graph's node kinds, in order
		layers string
		// rewrites: layers added and windows rewritten (Report.Rewrites)
		rewrites int
	}{
		// (x − 0.1307)/0.3081 cannot fold into conv1 (padding 2): a depthwise 1×1 conv.
		{"lenet-norm", 4, "conv conv relu maxpool conv relu maxpool flatten linear relu linear relu linear", 1},
		// The input normalisation becomes a layer (conv a pads 1); Mul by
		// the gain folds into conv c, Sub of the offset into the unpadded
		// conv d, Div by 2 into conv d, the final Mul 0.5 into the Gemm.
		{"tvnet", 4, "conv conv relu conv relu conv relu maxpool conv relu avgpool flatten linear", 3},
		// SAME_UPPER stride 2, pads [0,0,2,2], asymmetric AveragePool (a
		// depthwise conv), SAME_LOWER 2×2, then a Pad node before a Relu:
		// a depthwise identity conv with that padding.
		{"padnet", 3, "conv relu conv relu conv conv conv relu flatten linear", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, rep := importFixture(t, tc.name, "")
			if rep.Arch != models.GraphArch || rep.Sites != tc.sites || len(rep.Rewrites) != tc.rewrites {
				t.Errorf("report %+v, want a generic graph with %d sites and %d rewrites", rep, tc.sites, tc.rewrites)
			}
			for _, r := range rep.Rewrites {
				t.Log(r)
			}
			var kinds []string
			for _, n := range m.Net.Nodes {
				spec, err := models.SpecOf(&nn.Graph{Nodes: []*nn.Node{n}})
				if err != nil {
					t.Fatal(err)
				}
				kinds = append(kinds, spec[0].Op)
			}
			if got := strings.Join(kinds, " "); got != tc.layers {
				t.Errorf("layers\n%s\nwant\n%s", got, tc.layers)
			}
			x := readPB(t, filepath.Join("testdata", tc.name+".input.pb"))
			want := readPB(t, filepath.Join("testdata", tc.name+".logits.pb"))
			got := forward(t, m, x)
			d := maxDiff(t, got, want)
			t.Logf("max |logit − PyTorch| = %.2g (max |logit| %.3g)", d, maxAbs(want))
			if d > 1e-4*maxAbs(want) {
				t.Errorf("logits differ from PyTorch's by %g", d)
			}
			m3, _, _ := reimport(t, viaFile(t, m, x, got), "")
			if d := maxDiff(t, forward(t, m3, x), got); d > 1e-5*maxAbs(got) {
				t.Errorf("export → import changes the logits by %g", d)
			}
		})
	}
}

// TestPixelInput: a model normalising [0,1] pixels itself, imported for
// inputs normalised with the same constants (Options.PixelMean/Std), loses
// its normalisation exactly — the committed trained LeNet comes back as
// architecture lenet with the same weights, bit for bit — and with other
// constants keeps a layer computing the difference.
func TestPixelInput(t *testing.T) {
	om, err := onnx.ReadFile("testdata/lenet-norm.onnx")
	if err != nil {
		t.Fatal(err)
	}
	m, rep, err := ImportWith(om, Options{PixelMean: []float32{0.1307}, PixelStd: []float32{0.3081}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Arch != "lenet" {
		t.Fatalf("imported as %s, want lenet", rep.Arch)
	}
	orig, err := models.Load("../models/lenet-mnist.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	a, err := nn.StateDict(orig.Net)
	if err != nil {
		t.Fatal(err)
	}
	b, err := nn.StateDict(m.Net)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range a {
		if w := b[k]; w == nil || !slices.Equal(w.Data, v.Data) {
			t.Errorf("%s differs from models/lenet-mnist.safetensors", k)
		}
	}
	x := readPB(t, "testdata/lenet-norm.input.pb")
	want := readPB(t, "testdata/lenet-norm.logits.pb")
	z := x.Clone()
	for i, v := range z.Data {
		z.Data[i] = (v - 0.1307) / 0.3081
	}
	if d := maxDiff(t, forward(t, m, z), want); d > 1e-4 {
		t.Errorf("logits on normalised inputs differ from PyTorch's on pixels by %g", d)
	}
	// Normalised as if the mean were 0.5 and the std 0.25: the graph must
	// turn z back into pixels and then normalise them its own way.
	m2, rep2, err := ImportWith(om, Options{PixelMean: []float32{0.5}, PixelStd: []float32{0.25}})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range x.Data {
		z.Data[i] = (v - 0.5) / 0.25
	}
	if d := maxDiff(t, forward(t, m2, z), want); rep2.Arch != models.GraphArch || d > 1e-4 {
		t.Errorf("other constants: arch %s, logits differ by %g", rep2.Arch, d)
	}
	if _, _, err := ImportWith(om, Options{PixelMean: []float32{0.1, 0.2}, PixelStd: []float32{0.3, 0.3}}); err == nil || !strings.Contains(err.Error(), "2 pixel mean/std values for 1 input channels") {
		t.Errorf("two channels of constants for one: %v", err)
	}
	if _, _, err := ImportWith(om, Options{PixelMean: []float32{0.1}, PixelStd: []float32{0}}); err == nil || !strings.Contains(err.Error(), "positive") {
		t.Errorf("std 0: %v", err)
	}
}

// TestWindowRewrite: for random windows (kernel sizes, stride, dilations,
// pads, input size) a Conv node converts to a graph whose output equals a
// direct ONNX-semantics convolution, or to an error saying what is
// supported; never to a wrong result.
func TestWindowRewrite(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	converted := 0
	for trial := 0; trial < 300; trial++ {
		kh, kw, s := 1+rng.Intn(3), 1+rng.Intn(3), 1+rng.Intn(2)
		dh, dw := 1+rng.Intn(2), 1+rng.Intn(2)
		pd := []int64{int64(rng.Intn(3)), int64(rng.Intn(3)), int64(rng.Intn(3)), int64(rng.Intn(3))}
		h, w := 4+rng.Intn(5), 4+rng.Intn(5)
		wt := make([]float32, 2*kh*kw)
		for i := range wt {
			wt[i] = float32(rng.NormFloat64())
		}
		node := &onnx.Node{Name: "c", OpType: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"c"}, Attributes: []*onnx.Attribute{
			intsAttr("strides", int64(s), int64(s)), intsAttr("dilations", int64(dh), int64(dw)), intsAttr("pads", pd...)}}
		m := tinyModel(13, []*onnx.Node{node, {Name: "f", OpType: "Flatten", Inputs: []string{"c"}, Outputs: []string{"y"}}},
			onnx.FloatTensor("w", []int64{2, 1, int64(kh), int64(kw)}, wt))
		m.Graph.Inputs[0].Shape[2].Value, m.Graph.Inputs[0].Shape[3].Value = int64(h), int64(w)
		g, _, _, err := convertGraph(m)
		if err != nil {
			if !strings.Contains(err.Error(), "supported") && !strings.Contains(err.Error(), "larger than the padded") {
				t.Errorf("kernel %dx%d stride %d dilations %d,%d pads %v on %dx%d: unclear error %v", kh, kw, s, dh, dw, pd, h, w, err)
			}
			continue
		}
		converted++
		x := tensor.New(1, 1, h, w)
		for i := range x.Data {
			x.Data[i] = float32(rng.NormFloat64())
		}
		nn.SetTraining(g, false)
		var y *autograd.Var
		autograd.NoGrad(func() { y, err = g.Run(autograd.Const(x)) })
		if err != nil {
			t.Fatal(err)
		}
		eh, ew := (kh-1)*dh+1, (kw-1)*dw+1
		oh, ow := (h+int(pd[0]+pd[2])-eh)/s+1, (w+int(pd[1]+pd[3])-ew)/s+1
		if len(y.Value.Data) != 2*oh*ow {
			t.Fatalf("kernel %dx%d stride %d dilations %d,%d pads %v on %dx%d: %d outputs, want %d", kh, kw, s, dh, dw, pd, h, w, len(y.Value.Data), 2*oh*ow)
		}
		for o := 0; o < 2; o++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					var sum float64
					for r := 0; r < kh; r++ {
						for c := 0; c < kw; c++ {
							yy, xx := i*s-int(pd[0])+r*dh, j*s-int(pd[1])+c*dw
							if yy >= 0 && yy < h && xx >= 0 && xx < w {
								sum += float64(wt[(o*kh+r)*kw+c]) * float64(x.Data[yy*w+xx])
							}
						}
					}
					if got := float64(y.Value.Data[(o*oh+i)*ow+j]); math.Abs(got-sum) > 1e-4 {
						t.Fatalf("kernel %dx%d stride %d dilations %d,%d pads %v on %dx%d: output %d,%d,%d = %v, want %v", kh, kw, s, dh, dw, pd, h, w, o, i, j, got, sum)
					}
				}
			}
		}
	}
	t.Logf("%d of 300 random windows converted (the others: clear errors)", converted)
	if converted < 50 {
		t.Errorf("only %d of 300 random windows converted", converted)
	}
}

// TestConstantEdges: a shift after a Pad (the padded zeros shift too), a
// per-feature constant between Flatten and Gemm (folded into the Gemm), and
// a scale at the graph output compute what ONNX defines; a constant on a
// [N,F] tensor that folds nowhere is a clear error.
func TestConstantEdges(t *testing.T) {
	run := func(m *onnx.Model, x *tensor.Tensor) *tensor.Tensor {
		t.Helper()
		g, _, _, err := convertGraph(m)
		if err != nil {
			t.Fatal(err)
		}
		var y *autograd.Var
		autograd.NoGrad(func() { y, err = g.Run(autograd.Const(x)) })
		if err != nil {
			t.Fatal(err)
		}
		return y.Value
	}
	x := tensor.New(1, 1, 4, 4)
	for i := range x.Data {
		x.Data[i] = float32(i%5) - 2
	}
	// Pad (H begin 1, W end 1) → Add −0.5 → Relu → Flatten → Mul 3.
	m := tinyModel(13, []*onnx.Node{{Name: "p", OpType: "Pad", Inputs: []string{"x", "pads"}, Outputs: []string{"p"}},
		{Name: "a", OpType: "Add", Inputs: []string{"p", "k"}, Outputs: []string{"a"}},
		{Name: "r", OpType: "Relu", Inputs: []string{"a"}, Outputs: []string{"r"}},
		{Name: "f", OpType: "Flatten", Inputs: []string{"r"}, Outputs: []string{"f"}},
		{Name: "m", OpType: "Mul", Inputs: []string{"three", "f"}, Outputs: []string{"y"}}},
		onnx.Int64Tensor("pads", []int64{8}, []int64{0, 0, 1, 0, 0, 0, 0, 1}), onnx.FloatTensor("k", nil, []float32{-0.5}),
		onnx.FloatTensor("three", nil, []float32{3}))
	if _, _, _, err := convertGraph(m); err == nil || !strings.Contains(err.Error(), `"y" (graph output)`) || !strings.Contains(err.Error(), "Gemm") {
		t.Errorf("scale of a [N,F] output after a Relu: %v, want an error naming the output and Gemm", err)
	}
	m.Graph.Nodes[4] = &onnx.Node{Name: "m", OpType: "Mul", Inputs: []string{"three", "r"}, Outputs: []string{"m"}}
	m.Graph.Nodes = append(m.Graph.Nodes, &onnx.Node{Name: "f2", OpType: "Flatten", Inputs: []string{"m"}, Outputs: []string{"y"}})
	y := run(m, x)
	for i := 0; i < 5; i++ {
		for j := 0; j < 5; j++ {
			v := float32(0)
			if i >= 1 && j < 4 {
				v = x.Data[(i-1)*4+j]
			}
			if want := 3 * max(v-0.5, 0); y.Data[i*5+j] != want {
				t.Fatalf("pad, add, relu, mul: output %d,%d = %v, want %v", i, j, y.Data[i*5+j], want)
			}
		}
	}
	// Flatten → Sub per-feature → Div 2 → Gemm: folds into the Gemm.
	sub := make([]float32, 16)
	w := make([]float32, 2*16)
	for i := range sub {
		sub[i] = float32(i) / 8
		w[i], w[16+i] = float32(i%3)-1, 0.25
	}
	m = tinyModel(13, []*onnx.Node{{Name: "f", OpType: "Flatten", Inputs: []string{"x"}, Outputs: []string{"f"}},
		{Name: "s", OpType: "Sub", Inputs: []string{"f", "c"}, Outputs: []string{"s"}},
		{Name: "d", OpType: "Div", Inputs: []string{"s", "two"}, Outputs: []string{"d"}},
		{Name: "g", OpType: "Gemm", Inputs: []string{"d", "w"}, Outputs: []string{"y"}, Attributes: []*onnx.Attribute{intAttrOf("transB", 1)}}},
		onnx.FloatTensor("c", []int64{16}, sub), onnx.FloatTensor("two", nil, []float32{2}), onnx.FloatTensor("w", []int64{2, 16}, w))
	g, _, _, err := convertGraph(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 2 {
		t.Errorf("%d layers, want flatten and linear (the constants folded)", len(g.Nodes))
	}
	y = run(m, x)
	for o := 0; o < 2; o++ {
		var want float64
		for i := 0; i < 16; i++ {
			want += float64(w[o*16+i]) * float64(x.Data[i]-sub[i]) / 2
		}
		if math.Abs(float64(y.Data[o])-want) > 1e-5 {
			t.Errorf("output %d = %v, want %v", o, y.Data[o], want)
		}
	}
}
