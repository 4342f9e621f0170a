package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// testdataNode is where Debian's libonnx-testdata keeps the backend node tests.
const testdataNode = "/usr/share/libonnx-testdata/data/node"

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdataNode, name))
	if err != nil {
		t.Skipf("libonnx-testdata not installed (apt-get install libonnx-testdata): %v", err)
	}
	return b
}

// TestDecodeConvTestdata checks every field of a backend-test model
// against what python3-onnx prints for it.
func TestDecodeConvTestdata(t *testing.T) {
	m, err := Unmarshal(readTestdata(t, "test_conv_with_strides_padding/model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if m.IRVersion != 6 || m.Opset() != 11 || m.ProducerName != "backend-test" {
		t.Fatalf("ir %d opset %d producer %q", m.IRVersion, m.Opset(), m.ProducerName)
	}
	g := m.Graph
	if g.Name != "test_conv_with_strides_padding" || len(g.Nodes) != 1 || len(g.Inputs) != 2 || len(g.Outputs) != 1 {
		t.Fatalf("graph %q: %d nodes, %d inputs, %d outputs", g.Name, len(g.Nodes), len(g.Inputs), len(g.Outputs))
	}
	n := g.Nodes[0]
	if n.OpType != "Conv" || !slices.Equal(n.Inputs, []string{"x", "W"}) || !slices.Equal(n.Outputs, []string{"y"}) {
		t.Fatalf("node %+v", n)
	}
	for name, want := range map[string][]int64{"kernel_shape": {3, 3}, "pads": {1, 1, 1, 1}, "strides": {2, 2}} {
		a := n.Attr(name)
		if a == nil || a.Type != AttrInts || !slices.Equal(a.Ints, want) {
			t.Errorf("attribute %s = %+v, want ints %v", name, a, want)
		}
	}
	x := g.Inputs[0]
	if x.Name != "x" || x.ElemType != Float || !x.HasShape || !reflect.DeepEqual(x.Shape, []Dim{{Value: 1}, {Value: 1}, {Value: 7}, {Value: 5}}) {
		t.Errorf("input %+v", x)
	}
	y := g.Outputs[0]
	if y.Name != "y" || !reflect.DeepEqual(y.Shape, []Dim{{Value: 1}, {Value: 1}, {Value: 4}, {Value: 3}}) {
		t.Errorf("output %+v", y)
	}

	out, err := UnmarshalTensor(readTestdata(t, "test_conv_with_strides_padding/test_data_set_0/output_0.pb"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := out.Floats()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Dims, []int64{1, 1, 4, 3}) || len(v) != 12 || !slices.Equal(v[:5], []float32{12, 27, 24, 63, 108}) {
		t.Errorf("output tensor dims %v values %v", out.Dims, v)
	}
}

// TestTestdataRoundTrip decodes the backend-test models of the operators
// autorep imports, re-encodes them and decodes again: the same model.
func TestTestdataRoundTrip(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(testdataNode, "test_*"))
	if len(dirs) == 0 {
		t.Skip("libonnx-testdata not installed (apt-get install libonnx-testdata)")
	}
	ops := []string{"conv", "relu", "add", "gemm", "matmul", "maxpool", "averagepool", "globalaveragepool",
		"flatten", "reshape", "pad", "identity", "constant", "mul", "batchnorm"}
	count := 0
	for _, d := range dirs {
		base := strings.TrimPrefix(filepath.Base(d), "test_")
		if !slices.ContainsFunc(ops, func(op string) bool { return strings.HasPrefix(base, op) }) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "model.onnx"))
		if err != nil {
			continue
		}
		m, err := Unmarshal(b)
		if err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		enc, err := Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Unmarshal(enc)
		if err != nil {
			t.Fatalf("%s: re-encoded model: %v", base, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Errorf("%s: round trip changed the model", base)
		}
		count++
	}
	if count < 50 {
		t.Errorf("only %d backend-test models decoded", count)
	}
}

// TestRoundTripAllFields encodes a model using every field this package
// knows and decodes it back unchanged.
func TestRoundTripAllFields(t *testing.T) {
	m := &Model{
		IRVersion: 8, ProducerName: "autorep", ProducerVersion: "1", Domain: "d", ModelVersion: 3, DocString: "doc",
		OpsetImports: []OpsetID{{Domain: "", Version: 13}, {Domain: "com.x", Version: 1}},
		Metadata:     []StringEntry{{Key: "autorep.dataset", Value: "mnist"}, {Key: "k", Value: ""}},
		Graph: &Graph{
			Name: "g", DocString: "gd",
			Nodes: []*Node{{
				Name: "n", OpType: "Op", Domain: "dom", Inputs: []string{"a", "", "b"}, Outputs: []string{"c"}, DocString: "nd",
				Attributes: []*Attribute{
					{Name: "f", Type: AttrFloat, F: -1.5},
					{Name: "i", Type: AttrInt, I: -7},
					{Name: "s", Type: AttrString, S: []byte("constant")},
					{Name: "t", Type: AttrTensor, T: FloatTensor("tt", []int64{2}, []float32{1, 2})},
					{Name: "fs", Type: AttrFloats, Floats: []float32{0.5, -2}},
					{Name: "is", Type: AttrInts, Ints: []int64{1, -1, 1 << 40}},
					{Name: "ss", Type: AttrStrings, Strings: [][]byte{[]byte("x"), []byte("yz")}},
					{Name: "ts", Type: AttrTensors, Tensors: []*Tensor{Int64Tensor("a", []int64{1}, []int64{-3})}},
				},
			}},
			Initializers: []*Tensor{
				FloatTensor("w", []int64{2, 2}, []float32{1, 2, 3, 4}),
				{Name: "fd", Dims: []int64{3}, DataType: Float, FloatData: []float32{1, -2, 3}},
				{Name: "id", Dims: []int64{2}, DataType: Int64, Int64Data: []int64{-1, 5}},
				{Name: "i32", Dims: []int64{2}, DataType: Int32, Int32Data: []int32{-1, 7}},
				{Name: "dd", Dims: []int64{1}, DataType: Double, DoubleData: []float64{2.5}, DocString: "td"},
			},
			Inputs:    []*ValueInfo{{Name: "a", ElemType: Float, HasShape: true, Shape: []Dim{{Param: "N"}, {Value: 3}, {}}}},
			Outputs:   []*ValueInfo{{Name: "c", ElemType: Float, DocString: "od"}},
			ValueInfo: []*ValueInfo{{Name: "b", ElemType: Int64, HasShape: true}},
		},
	}
	b, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	// An unknown dimension decodes as the zero Dim, which encodes as value 0.
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got.Graph, m.Graph)
	}
	for _, init := range got.Graph.Initializers {
		if init.DataType == Float || init.DataType == Double {
			if _, err := init.Floats(); err != nil {
				t.Error(err)
			}
		} else if _, err := init.Ints(); err != nil {
			t.Error(err)
		}
	}
	if got.Meta("autorep.dataset") != "mnist" || got.Meta("absent") != "" {
		t.Errorf("metadata %v", got.Metadata)
	}
	v, _ := got.Graph.Initializers[4].Floats()
	if !slices.Equal(v, []float32{2.5}) {
		t.Errorf("double tensor as floats: %v", v)
	}
	v, _ = got.Graph.Initializers[3].Floats()
	if v != nil {
		t.Errorf("int32 tensor read as floats")
	}
}

// TestTensorDataErrors checks that inconsistent tensors are errors.
func TestTensorDataErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    *Tensor
		want string
	}{
		{"short raw", &Tensor{Name: "a", Dims: []int64{3}, DataType: Float, RawData: make([]byte, 8)}, "raw_data has 8 bytes"},
		{"short float_data", &Tensor{Name: "a", Dims: []int64{3}, DataType: Float, FloatData: []float32{1}}, "float_data has 1"},
		{"negative dim", &Tensor{Name: "a", Dims: []int64{-1}, DataType: Float}, "negative dimension"},
		{"huge", &Tensor{Name: "a", Dims: []int64{1 << 20, 1 << 20}, DataType: Float}, "exceed"},
		{"external", &Tensor{Name: "a", Dims: []int64{1}, DataType: Float, External: true}, "external data"},
		{"type", &Tensor{Name: "a", Dims: []int64{1}, DataType: Float16, RawData: make([]byte, 2)}, "want FLOAT"},
	} {
		if _, err := tc.t.Floats(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := (&Tensor{Name: "i", Dims: []int64{2}, DataType: Int64, RawData: make([]byte, 9)}).Ints(); err == nil {
		t.Error("int64 raw_data of 9 bytes accepted")
	}
}

// TestTruncatedAndCorrupt checks that every truncation of a model that
// cuts into its graph, and assorted corruptions, are errors, not panics.
func TestTruncatedAndCorrupt(t *testing.T) {
	b := readTestdata(t, "test_conv_with_strides_padding/model.onnx")
	m, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := Marshal(m)
	// In our encoding the graph (field 7) precedes the opset imports (and
	// the metadata, none here), so a cut inside the graph's bytes is detected.
	graphEnd := len(full) - len(encodeOpsets(m))
	for n := 0; n < graphEnd; n++ {
		if _, err := Unmarshal(full[:n]); err == nil {
			t.Errorf("truncation to %d of %d bytes accepted", n, len(full))
		}
	}
	for _, bad := range [][]byte{
		{0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f},       // graph of length 2^32-1
		{0x3a, 0x02, 0x0a, 0x05},                   // node longer than its graph
		{0x08},                                     // varint missing
		{0x0f},                                     // field 1, wire type 7
		{0x3a, 0x00, 0x42, 0x02, 0x10},             // opset import with a truncated varint
		{0x3d, 0, 0, 0, 0},                         // graph sent as fixed32
		{0x3a, 0x04, 0x2a, 0x02, 0x08, 0x80},       // initializer with a cut dims varint
		{0x3a, 0x05, 0x0a, 0x03, 0x2a, 0x01, 0x15}, // attribute with a cut fixed32
	} {
		if _, err := Unmarshal(bad); err == nil {
			t.Errorf("corrupt input % x accepted", bad)
		}
	}
	if _, err := Unmarshal(nil); err == nil || !strings.Contains(err.Error(), "no graph") {
		t.Errorf("empty input: %v", err)
	}
}

func encodeOpsets(m *Model) []byte {
	var b []byte
	for _, o := range m.OpsetImports {
		var s []byte
		s = appendString(s, 1, o.Domain)
		s = appendVarint(s, 2, uint64(o.Version))
		b = appendMessage(b, 8, s)
	}
	return b
}

// FuzzUnmarshal: arbitrary bytes never panic, and whatever decodes
// re-encodes to a model that decodes to itself.
func FuzzUnmarshal(f *testing.F) {
	for _, name := range []string{"test_conv_with_strides_padding", "test_gemm_all_attributes", "test_constant_pad", "test_batchnorm_epsilon"} {
		if b, err := os.ReadFile(filepath.Join(testdataNode, name, "model.onnx")); err == nil {
			f.Add(b)
		}
	}
	m := &Model{IRVersion: 7, OpsetImports: []OpsetID{{Version: 13}}, Graph: &Graph{
		Nodes:        []*Node{{OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"y"}, Attributes: []*Attribute{{Name: "a", Type: AttrFloats, Floats: []float32{1}}}}},
		Initializers: []*Tensor{FloatTensor("w", []int64{1}, []float32{2})},
	}}
	b, _ := Marshal(m)
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Unmarshal(data)
		if err != nil {
			return
		}
		for _, init := range m.Graph.Initializers {
			init.Floats() // must not panic on any dims/data combination
			init.Ints()
		}
		enc, err := Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Unmarshal(enc)
		if err != nil {
			t.Fatalf("re-encoded model does not decode: %v", err)
		}
		// Stable: a second round trip gives the same bytes (compared as
		// bytes, since a NaN attribute is never DeepEqual to itself).
		enc2, _ := Marshal(m2)
		m3, err := Unmarshal(enc2)
		if err != nil {
			t.Fatalf("encoding is not stable: %v", err)
		}
		if enc3, _ := Marshal(m3); !bytes.Equal(enc2, enc3) {
			t.Fatal("encoding is not stable: a second round trip changed the bytes")
		}
	})
}
