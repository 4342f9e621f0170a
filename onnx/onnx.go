// Package onnx reads and writes the subset of the ONNX protobuf format
// (onnx.proto, IR version 3 and later) that convolutional networks use:
// ModelProto with its opset imports and graph; GraphProto with nodes,
// initializers, inputs, outputs and value infos; NodeProto with attributes;
// TensorProto with dims, data type, raw_data and the typed data fields;
// ValueInfoProto with tensor types and shapes.
//
// It is written on google.golang.org/protobuf/encoding/protowire, so a
// build needs neither protoc nor cgo. Fields outside the subset are
// skipped when reading (sub-graphs of control-flow attributes, sparse
// tensors, training info, functions, metadata); a malformed or truncated
// message is an error naming the message and field, never a panic.
package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Model is an ONNX ModelProto.
type Model struct {
	IRVersion       int64
	OpsetImports    []OpsetID
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	Graph           *Graph
	// Metadata is metadata_props: free key/value pairs.
	Metadata []StringEntry
}

// StringEntry is a StringStringEntryProto.
type StringEntry struct {
	Key, Value string
}

// Meta returns the metadata value of key ("" if absent).
func (m *Model) Meta(key string) string {
	for _, e := range m.Metadata {
		if e.Key == key {
			return e.Value
		}
	}
	return ""
}

// OpsetID is an OperatorSetIdProto: the operator set version a model uses
// for a domain ("" or "ai.onnx" is the default domain).
type OpsetID struct {
	Domain  string
	Version int64
}

// Graph is a GraphProto. Nodes are in topological order (the ONNX rule).
type Graph struct {
	Name         string
	Nodes        []*Node
	Initializers []*Tensor
	Inputs       []*ValueInfo
	Outputs      []*ValueInfo
	ValueInfo    []*ValueInfo
	DocString    string
}

// Node is a NodeProto: one operator call.
type Node struct {
	Name       string
	OpType     string
	Domain     string
	Inputs     []string // "" marks an omitted optional input
	Outputs    []string
	Attributes []*Attribute
	DocString  string
}

// AttrType is AttributeProto.AttributeType.
type AttrType int32

// Attribute types.
const (
	AttrUndefined    AttrType = 0
	AttrFloat        AttrType = 1
	AttrInt          AttrType = 2
	AttrString       AttrType = 3
	AttrTensor       AttrType = 4
	AttrGraph        AttrType = 5
	AttrFloats       AttrType = 6
	AttrInts         AttrType = 7
	AttrStrings      AttrType = 8
	AttrTensors      AttrType = 9
	AttrGraphs       AttrType = 10
	AttrSparseTensor AttrType = 11
)

// Attribute is an AttributeProto. Graph-valued, sparse-tensor and type
// attributes are kept only as their Type (their payload is skipped).
type Attribute struct {
	Name      string
	Type      AttrType
	F         float32
	I         int64
	S         []byte
	T         *Tensor
	Floats    []float32
	Ints      []int64
	Strings   [][]byte
	Tensors   []*Tensor
	DocString string
}

// DataType is TensorProto.DataType.
type DataType int32

// Tensor element types.
const (
	Undefined DataType = 0
	Float     DataType = 1
	Uint8     DataType = 2
	Int8      DataType = 3
	Uint16    DataType = 4
	Int16     DataType = 5
	Int32     DataType = 6
	Int64     DataType = 7
	String    DataType = 8
	Bool      DataType = 9
	Float16   DataType = 10
	Double    DataType = 11
	Uint32    DataType = 12
	Uint64    DataType = 13
)

var dataTypeNames = map[DataType]string{
	Undefined: "UNDEFINED", Float: "FLOAT", Uint8: "UINT8", Int8: "INT8", Uint16: "UINT16", Int16: "INT16",
	Int32: "INT32", Int64: "INT64", String: "STRING", Bool: "BOOL", Float16: "FLOAT16", Double: "DOUBLE",
	Uint32: "UINT32", Uint64: "UINT64",
}

func (d DataType) String() string {
	if s, ok := dataTypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("DataType(%d)", int32(d))
}

// Tensor is a TensorProto. Exactly one of the data fields holds the
// values (RawData: little-endian, as ONNX specifies); External is set when
// the values live in an external file, which this package does not read.
type Tensor struct {
	Name       string
	Dims       []int64
	DataType   DataType
	RawData    []byte
	FloatData  []float32
	Int32Data  []int32
	Int64Data  []int64
	DoubleData []float64
	External   bool
	DocString  string
}

// ValueInfo is a ValueInfoProto of a tensor type: a name, an element type
// and a shape (absent when HasShape is false).
type ValueInfo struct {
	Name      string
	ElemType  DataType
	Shape     []Dim
	HasShape  bool
	NotTensor bool // the type is a sequence, map, optional or sparse tensor
	DocString string
}

// Dim is one dimension of a ValueInfo shape: a value, a symbolic name
// (Param), or neither (unknown).
type Dim struct {
	Value int64
	Param string
}

// maxElements bounds the element count a tensor may declare, so corrupt
// dims cannot make a caller allocate without limit (2^31 floats = 8 GiB).
const maxElements = 1 << 31

// NumElements returns the product of the dims (1 for a scalar), or an
// error for negative dims or a count beyond 2^31.
func (t *Tensor) NumElements() (int, error) {
	n := int64(1)
	for _, d := range t.Dims {
		if d < 0 {
			return 0, fmt.Errorf("onnx: tensor %q: negative dimension in %v", t.Name, t.Dims)
		}
		if d > 0 && n > maxElements/d {
			return 0, fmt.Errorf("onnx: tensor %q: dims %v exceed %d elements", t.Name, t.Dims, maxElements)
		}
		n *= d
	}
	return int(n), nil
}

// Floats returns the values of a FLOAT (or DOUBLE, rounded) tensor from
// whichever data field holds them; a count that disagrees with the dims,
// another type or external data is an error.
func (t *Tensor) Floats() ([]float32, error) {
	n, err := t.NumElements()
	if err != nil {
		return nil, err
	}
	if t.External {
		return nil, fmt.Errorf("onnx: tensor %q: external data is not supported (save the model with its weights inside)", t.Name)
	}
	switch t.DataType {
	case Float:
		if t.RawData != nil {
			if len(t.RawData) != 4*n {
				return nil, fmt.Errorf("onnx: tensor %q: raw_data has %d bytes, dims %v need %d", t.Name, len(t.RawData), t.Dims, 4*n)
			}
			out := make([]float32, n)
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.RawData[4*i:]))
			}
			return out, nil
		}
		if len(t.FloatData) != n {
			return nil, fmt.Errorf("onnx: tensor %q: float_data has %d values, dims %v need %d", t.Name, len(t.FloatData), t.Dims, n)
		}
		return append([]float32(nil), t.FloatData...), nil
	case Double:
		var v []float64
		if t.RawData != nil {
			if len(t.RawData) != 8*n {
				return nil, fmt.Errorf("onnx: tensor %q: raw_data has %d bytes, dims %v need %d", t.Name, len(t.RawData), t.Dims, 8*n)
			}
			v = make([]float64, n)
			for i := range v {
				v[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.RawData[8*i:]))
			}
		} else {
			if len(t.DoubleData) != n {
				return nil, fmt.Errorf("onnx: tensor %q: double_data has %d values, dims %v need %d", t.Name, len(t.DoubleData), t.Dims, n)
			}
			v = t.DoubleData
		}
		out := make([]float32, n)
		for i, x := range v {
			out[i] = float32(x)
		}
		return out, nil
	}
	return nil, fmt.Errorf("onnx: tensor %q: data type %v, want FLOAT", t.Name, t.DataType)
}

// Ints returns the values of an INT64 or INT32 tensor.
func (t *Tensor) Ints() ([]int64, error) {
	n, err := t.NumElements()
	if err != nil {
		return nil, err
	}
	if t.External {
		return nil, fmt.Errorf("onnx: tensor %q: external data is not supported", t.Name)
	}
	switch t.DataType {
	case Int64:
		if t.RawData != nil {
			if len(t.RawData) != 8*n {
				return nil, fmt.Errorf("onnx: tensor %q: raw_data has %d bytes, dims %v need %d", t.Name, len(t.RawData), t.Dims, 8*n)
			}
			out := make([]int64, n)
			for i := range out {
				out[i] = int64(binary.LittleEndian.Uint64(t.RawData[8*i:]))
			}
			return out, nil
		}
		if len(t.Int64Data) != n {
			return nil, fmt.Errorf("onnx: tensor %q: int64_data has %d values, dims %v need %d", t.Name, len(t.Int64Data), t.Dims, n)
		}
		return append([]int64(nil), t.Int64Data...), nil
	case Int32:
		out := make([]int64, n)
		if t.RawData != nil {
			if len(t.RawData) != 4*n {
				return nil, fmt.Errorf("onnx: tensor %q: raw_data has %d bytes, dims %v need %d", t.Name, len(t.RawData), t.Dims, 4*n)
			}
			for i := range out {
				out[i] = int64(int32(binary.LittleEndian.Uint32(t.RawData[4*i:])))
			}
			return out, nil
		}
		if len(t.Int32Data) != n {
			return nil, fmt.Errorf("onnx: tensor %q: int32_data has %d values, dims %v need %d", t.Name, len(t.Int32Data), t.Dims, n)
		}
		for i, v := range t.Int32Data {
			out[i] = int64(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("onnx: tensor %q: data type %v, want INT64 or INT32", t.Name, t.DataType)
}

// FloatTensor returns a FLOAT tensor holding values as raw_data.
func FloatTensor(name string, dims []int64, values []float32) *Tensor {
	raw := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return &Tensor{Name: name, Dims: append([]int64(nil), dims...), DataType: Float, RawData: raw}
}

// Int64Tensor returns an INT64 tensor holding values as raw_data.
func Int64Tensor(name string, dims []int64, values []int64) *Tensor {
	raw := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return &Tensor{Name: name, Dims: append([]int64(nil), dims...), DataType: Int64, RawData: raw}
}

// Attr returns the node's attribute with the given name, or nil.
func (n *Node) Attr(name string) *Attribute {
	for _, a := range n.Attributes {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Opset returns the version the model imports for the default domain
// ("" or "ai.onnx"), or 0 if it imports none.
func (m *Model) Opset() int64 {
	for _, o := range m.OpsetImports {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			return o.Version
		}
	}
	return 0
}

// ReadFile reads and decodes an ONNX model file.
func ReadFile(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	m, err := Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid ONNX model: %w", path, err)
	}
	return m, nil
}

// WriteFile encodes m and writes it to path atomically (temporary file in
// the same directory, then rename).
func WriteFile(path string, m *Model) error {
	b, err := Marshal(m)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".onnx-*")
	if err != nil {
		return fmt.Errorf("onnx: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("onnx: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("onnx: writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("onnx: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("onnx: %w", err)
	}
	return nil
}
