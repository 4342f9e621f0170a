package onnx

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Unmarshal decodes a serialized ModelProto. The returned tensors' RawData
// alias b. A model without a graph is an error.
func Unmarshal(b []byte) (*Model, error) {
	m := &Model{}
	err := fields(b, "ModelProto", func(f *field) error {
		var err error
		switch f.num {
		case 1:
			m.IRVersion, err = f.int64()
		case 2:
			m.ProducerName, err = f.string()
		case 3:
			m.ProducerVersion, err = f.string()
		case 4:
			m.Domain, err = f.string()
		case 5:
			m.ModelVersion, err = f.int64()
		case 6:
			m.DocString, err = f.string()
		case 7:
			var sub []byte
			if sub, err = f.bytes(); err == nil {
				m.Graph, err = decodeGraph(sub)
			}
		case 8:
			var sub []byte
			if sub, err = f.bytes(); err == nil {
				var o OpsetID
				o, err = decodeOpset(sub)
				m.OpsetImports = append(m.OpsetImports, o)
			}
		case 14:
			var sub []byte
			if sub, err = f.bytes(); err == nil {
				var e StringEntry
				err = fields(sub, "StringStringEntryProto", func(f *field) error {
					var err error
					switch f.num {
					case 1:
						e.Key, err = f.string()
					case 2:
						e.Value, err = f.string()
					default:
						f.skip = true
					}
					return err
				})
				m.Metadata = append(m.Metadata, e)
			}
		default:
			f.skip = true
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if m.Graph == nil {
		return nil, errors.New("onnx: ModelProto has no graph (not an ONNX model file?)")
	}
	return m, nil
}

func decodeOpset(b []byte) (OpsetID, error) {
	var o OpsetID
	err := fields(b, "OperatorSetIdProto", func(f *field) error {
		var err error
		switch f.num {
		case 1:
			o.Domain, err = f.string()
		case 2:
			o.Version, err = f.int64()
		default:
			f.skip = true
		}
		return err
	})
	return o, err
}

func decodeGraph(b []byte) (*Graph, error) {
	g := &Graph{}
	err := fields(b, "GraphProto", func(f *field) error {
		var err error
		var sub []byte
		switch f.num {
		case 1, 5, 11, 12, 13:
			if sub, err = f.bytes(); err != nil {
				return err
			}
		}
		switch f.num {
		case 1:
			var n *Node
			n, err = decodeNode(sub)
			g.Nodes = append(g.Nodes, n)
		case 2:
			g.Name, err = f.string()
		case 5:
			var t *Tensor
			t, err = decodeTensor(sub)
			g.Initializers = append(g.Initializers, t)
		case 10:
			g.DocString, err = f.string()
		case 11, 12, 13:
			var v *ValueInfo
			v, err = decodeValueInfo(sub)
			switch f.num {
			case 11:
				g.Inputs = append(g.Inputs, v)
			case 12:
				g.Outputs = append(g.Outputs, v)
			default:
				g.ValueInfo = append(g.ValueInfo, v)
			}
		default:
			f.skip = true
		}
		return err
	})
	return g, err
}

func decodeNode(b []byte) (*Node, error) {
	n := &Node{}
	err := fields(b, "NodeProto", func(f *field) error {
		var err error
		var s string
		switch f.num {
		case 1:
			s, err = f.string()
			n.Inputs = append(n.Inputs, s)
		case 2:
			s, err = f.string()
			n.Outputs = append(n.Outputs, s)
		case 3:
			n.Name, err = f.string()
		case 4:
			n.OpType, err = f.string()
		case 5:
			var sub []byte
			if sub, err = f.bytes(); err == nil {
				var a *Attribute
				a, err = decodeAttribute(sub)
				n.Attributes = append(n.Attributes, a)
			}
		case 6:
			n.DocString, err = f.string()
		case 7:
			n.Domain, err = f.string()
		default:
			f.skip = true
		}
		return err
	})
	if err != nil && n.Name != "" {
		err = fmt.Errorf("node %q: %w", n.Name, err)
	}
	return n, err
}

func decodeAttribute(b []byte) (*Attribute, error) {
	a := &Attribute{}
	err := fields(b, "AttributeProto", func(f *field) error {
		var err error
		switch f.num {
		case 1:
			a.Name, err = f.string()
		case 2:
			var v uint32
			v, err = f.fixed32()
			a.F = math.Float32frombits(v)
		case 3:
			a.I, err = f.int64()
		case 4:
			a.S, err = f.bytes()
		case 5:
			var sub []byte
			if sub, err = f.bytes(); err == nil {
				a.T, err = decodeTensor(sub)
			}
		case 7:
			a.Floats, err = f.packedFloats(a.Floats)
		case 8:
			a.Ints, err = f.packedInt64s(a.Ints)
		case 9:
			var s []byte
			s, err = f.bytes()
			a.Strings = append(a.Strings, s)
		case 10:
			var sub []byte
			if sub, err = f.bytes(); err == nil {
				var t *Tensor
				t, err = decodeTensor(sub)
				a.Tensors = append(a.Tensors, t)
			}
		case 13:
			a.DocString, err = f.string()
		case 20:
			var v int64
			v, err = f.int64()
			a.Type = AttrType(v)
		default:
			f.skip = true // graphs, sparse tensors, type protos, ref_attr_name
		}
		return err
	})
	if err != nil && a.Name != "" {
		err = fmt.Errorf("attribute %q: %w", a.Name, err)
	}
	return a, err
}

func decodeTensor(b []byte) (*Tensor, error) {
	t := &Tensor{}
	err := fields(b, "TensorProto", func(f *field) error {
		var err error
		switch f.num {
		case 1:
			t.Dims, err = f.packedInt64s(t.Dims)
		case 2:
			var v int64
			v, err = f.int64()
			t.DataType = DataType(v)
		case 4:
			t.FloatData, err = f.packedFloats(t.FloatData)
		case 5:
			var v []int64
			v, err = f.packedInt64s(nil)
			for _, x := range v {
				t.Int32Data = append(t.Int32Data, int32(x))
			}
		case 7:
			t.Int64Data, err = f.packedInt64s(t.Int64Data)
		case 8:
			t.Name, err = f.string()
		case 9:
			t.RawData, err = f.bytes()
			if t.RawData == nil {
				t.RawData = []byte{}
			}
		case 10:
			t.DoubleData, err = f.packedDoubles(t.DoubleData)
		case 12:
			t.DocString, err = f.string()
		case 14:
			var v int64
			v, err = f.int64()
			t.External = v == 1
		default:
			f.skip = true // segment, string_data, external_data entries, uint64_data
		}
		return err
	})
	if err != nil && t.Name != "" {
		err = fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return t, err
}

func decodeValueInfo(b []byte) (*ValueInfo, error) {
	v := &ValueInfo{}
	err := fields(b, "ValueInfoProto", func(f *field) error {
		var err error
		switch f.num {
		case 1:
			v.Name, err = f.string()
		case 2:
			var sub []byte
			if sub, err = f.bytes(); err == nil {
				err = decodeType(sub, v)
			}
		case 3:
			v.DocString, err = f.string()
		default:
			f.skip = true
		}
		return err
	})
	if err != nil && v.Name != "" {
		err = fmt.Errorf("value %q: %w", v.Name, err)
	}
	return v, err
}

// decodeType reads a TypeProto into v: a tensor type's element type and
// shape; other types only set NotTensor.
func decodeType(b []byte, v *ValueInfo) error {
	return fields(b, "TypeProto", func(f *field) error {
		switch f.num {
		case 1:
			sub, err := f.bytes()
			if err != nil {
				return err
			}
			return fields(sub, "TypeProto.Tensor", func(f *field) error {
				switch f.num {
				case 1:
					e, err := f.int64()
					v.ElemType = DataType(e)
					return err
				case 2:
					sub, err := f.bytes()
					if err != nil {
						return err
					}
					v.HasShape = true
					return fields(sub, "TensorShapeProto", func(f *field) error {
						if f.num != 1 {
							f.skip = true
							return nil
						}
						sub, err := f.bytes()
						if err != nil {
							return err
						}
						var d Dim
						err = fields(sub, "TensorShapeProto.Dimension", func(f *field) error {
							var err error
							switch f.num {
							case 1:
								d.Value, err = f.int64()
							case 2:
								d.Param, err = f.string()
							default:
								f.skip = true
							}
							return err
						})
						v.Shape = append(v.Shape, d)
						return err
					})
				}
				f.skip = true
				return nil
			})
		case 4, 5, 8, 9:
			v.NotTensor = true
		}
		f.skip = true
		return nil
	})
}

// field is the current field of a message being decoded. A handler reads
// its value with one of the typed methods (which check the wire type and
// record how many bytes were consumed) or sets skip.
type field struct {
	msg  string
	num  protowire.Number
	typ  protowire.Type
	b    []byte // from the value to the end of the message
	n    int    // bytes consumed by the value
	skip bool
}

// fields calls h for every field of the message in b.
func fields(b []byte, msg string, h func(*field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("onnx: %s: bad field tag: %w", msg, protowire.ParseError(n))
		}
		b = b[n:]
		f := &field{msg: msg, num: num, typ: typ, b: b, n: -1}
		if err := h(f); err != nil {
			return err
		}
		if f.skip || f.n < 0 {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("onnx: %s: field %d: %w", msg, num, protowire.ParseError(n))
			}
			f.n = n
		}
		b = b[f.n:]
	}
	return nil
}

func (f *field) wrongType(want protowire.Type) error {
	return fmt.Errorf("onnx: %s: field %d has wire type %d, want %d", f.msg, f.num, f.typ, want)
}

func (f *field) parseErr(n int) error {
	return fmt.Errorf("onnx: %s: field %d: %w", f.msg, f.num, protowire.ParseError(n))
}

func (f *field) bytes() ([]byte, error) {
	if f.typ != protowire.BytesType {
		return nil, f.wrongType(protowire.BytesType)
	}
	v, n := protowire.ConsumeBytes(f.b)
	if n < 0 {
		return nil, f.parseErr(n)
	}
	f.n = n
	return v, nil
}

func (f *field) string() (string, error) {
	v, err := f.bytes()
	return string(v), err
}

func (f *field) int64() (int64, error) {
	if f.typ != protowire.VarintType {
		return 0, f.wrongType(protowire.VarintType)
	}
	v, n := protowire.ConsumeVarint(f.b)
	if n < 0 {
		return 0, f.parseErr(n)
	}
	f.n = n
	return int64(v), nil
}

func (f *field) fixed32() (uint32, error) {
	if f.typ != protowire.Fixed32Type {
		return 0, f.wrongType(protowire.Fixed32Type)
	}
	v, n := protowire.ConsumeFixed32(f.b)
	if n < 0 {
		return 0, f.parseErr(n)
	}
	f.n = n
	return v, nil
}

// packedFloats appends a repeated float field's values, packed or not.
func (f *field) packedFloats(dst []float32) ([]float32, error) {
	if f.typ == protowire.Fixed32Type {
		v, err := f.fixed32()
		return append(dst, math.Float32frombits(v)), err
	}
	b, err := f.bytes()
	if err != nil {
		return dst, err
	}
	if len(b)%4 != 0 {
		return dst, fmt.Errorf("onnx: %s: field %d: packed floats of %d bytes", f.msg, f.num, len(b))
	}
	for i := 0; i < len(b); i += 4 {
		v, _ := protowire.ConsumeFixed32(b[i:])
		dst = append(dst, math.Float32frombits(v))
	}
	return dst, nil
}

// packedDoubles appends a repeated double field's values, packed or not.
func (f *field) packedDoubles(dst []float64) ([]float64, error) {
	if f.typ == protowire.Fixed64Type {
		v, n := protowire.ConsumeFixed64(f.b)
		if n < 0 {
			return dst, f.parseErr(n)
		}
		f.n = n
		return append(dst, math.Float64frombits(v)), nil
	}
	b, err := f.bytes()
	if err != nil {
		return dst, err
	}
	if len(b)%8 != 0 {
		return dst, fmt.Errorf("onnx: %s: field %d: packed doubles of %d bytes", f.msg, f.num, len(b))
	}
	for i := 0; i < len(b); i += 8 {
		v, _ := protowire.ConsumeFixed64(b[i:])
		dst = append(dst, math.Float64frombits(v))
	}
	return dst, nil
}

// packedInt64s appends a repeated varint field's values, packed or not.
func (f *field) packedInt64s(dst []int64) ([]int64, error) {
	if f.typ == protowire.VarintType {
		v, err := f.int64()
		return append(dst, v), err
	}
	b, err := f.bytes()
	if err != nil {
		return dst, err
	}
	for len(b) > 0 {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return dst, f.parseErr(n)
		}
		dst = append(dst, int64(v))
		b = b[n:]
	}
	return dst, nil
}

// UnmarshalTensor decodes a serialized TensorProto (the input_N.pb and
// output_N.pb files of the ONNX backend test data).
func UnmarshalTensor(b []byte) (*Tensor, error) {
	return decodeTensor(b)
}
