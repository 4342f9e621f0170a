package onnx

import (
	"errors"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Marshal encodes m as a ModelProto (repeated numbers packed, as proto3
// writes them).
func Marshal(m *Model) ([]byte, error) {
	if m == nil || m.Graph == nil {
		return nil, errors.New("onnx: Marshal: model without a graph")
	}
	var b []byte
	b = appendVarint(b, 1, uint64(m.IRVersion))
	b = appendString(b, 2, m.ProducerName)
	b = appendString(b, 3, m.ProducerVersion)
	b = appendString(b, 4, m.Domain)
	b = appendVarint(b, 5, uint64(m.ModelVersion))
	b = appendString(b, 6, m.DocString)
	b = appendMessage(b, 7, encodeGraph(m.Graph))
	for _, o := range m.OpsetImports {
		var s []byte
		s = appendString(s, 1, o.Domain)
		s = appendVarint(s, 2, uint64(o.Version))
		b = appendMessage(b, 8, s)
	}
	for _, e := range m.Metadata {
		var s []byte
		s = appendString(s, 1, e.Key)
		s = appendString(s, 2, e.Value)
		b = appendMessage(b, 14, s)
	}
	return b, nil
}

func encodeGraph(g *Graph) []byte {
	var b []byte
	for _, n := range g.Nodes {
		b = appendMessage(b, 1, encodeNode(n))
	}
	b = appendString(b, 2, g.Name)
	for _, t := range g.Initializers {
		b = appendMessage(b, 5, encodeTensor(t))
	}
	b = appendString(b, 10, g.DocString)
	for _, v := range g.Inputs {
		b = appendMessage(b, 11, encodeValueInfo(v))
	}
	for _, v := range g.Outputs {
		b = appendMessage(b, 12, encodeValueInfo(v))
	}
	for _, v := range g.ValueInfo {
		b = appendMessage(b, 13, encodeValueInfo(v))
	}
	return b
}

func encodeNode(n *Node) []byte {
	var b []byte
	for _, s := range n.Inputs {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, s) // empty strings mark omitted inputs
	}
	for _, s := range n.Outputs {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	b = appendString(b, 3, n.Name)
	b = appendString(b, 4, n.OpType)
	for _, a := range n.Attributes {
		b = appendMessage(b, 5, encodeAttribute(a))
	}
	b = appendString(b, 6, n.DocString)
	b = appendString(b, 7, n.Domain)
	return b
}

func encodeAttribute(a *Attribute) []byte {
	var b []byte
	b = appendString(b, 1, a.Name)
	switch a.Type {
	case AttrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.F))
	case AttrInt:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.I))
	case AttrString:
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, a.S)
	case AttrTensor:
		if a.T != nil {
			b = appendMessage(b, 5, encodeTensor(a.T))
		}
	case AttrFloats:
		b = appendPackedFloats(b, 7, a.Floats)
	case AttrInts:
		b = appendPackedInt64s(b, 8, a.Ints)
	case AttrStrings:
		for _, s := range a.Strings {
			b = protowire.AppendTag(b, 9, protowire.BytesType)
			b = protowire.AppendBytes(b, s)
		}
	case AttrTensors:
		for _, t := range a.Tensors {
			b = appendMessage(b, 10, encodeTensor(t))
		}
	}
	b = appendString(b, 13, a.DocString)
	b = appendVarint(b, 20, uint64(a.Type))
	return b
}

func encodeTensor(t *Tensor) []byte {
	var b []byte
	b = appendPackedInt64s(b, 1, t.Dims)
	b = appendVarint(b, 2, uint64(t.DataType))
	b = appendPackedFloats(b, 4, t.FloatData)
	if len(t.Int32Data) > 0 {
		v := make([]int64, len(t.Int32Data))
		for i, x := range t.Int32Data {
			v[i] = int64(x)
		}
		b = appendPackedInt64s(b, 5, v)
	}
	b = appendPackedInt64s(b, 7, t.Int64Data)
	b = appendString(b, 8, t.Name)
	if t.RawData != nil {
		b = protowire.AppendTag(b, 9, protowire.BytesType)
		b = protowire.AppendBytes(b, t.RawData)
	}
	if len(t.DoubleData) > 0 {
		b = protowire.AppendTag(b, 10, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(8*len(t.DoubleData)))
		for _, v := range t.DoubleData {
			b = protowire.AppendFixed64(b, math.Float64bits(v))
		}
	}
	b = appendString(b, 12, t.DocString)
	return b
}

func encodeValueInfo(v *ValueInfo) []byte {
	var b []byte
	b = appendString(b, 1, v.Name)
	if !v.NotTensor {
		var tt []byte
		tt = appendVarint(tt, 1, uint64(v.ElemType))
		if v.HasShape {
			var sh []byte
			for _, d := range v.Shape {
				var db []byte
				if d.Param != "" {
					db = appendString(db, 2, d.Param)
				} else {
					db = protowire.AppendTag(db, 1, protowire.VarintType)
					db = protowire.AppendVarint(db, uint64(d.Value))
				}
				sh = appendMessage(sh, 1, db)
			}
			tt = appendMessage(tt, 2, sh)
		}
		var ty []byte
		ty = appendMessage(ty, 1, tt)
		b = appendMessage(b, 2, ty)
	} else {
		// Only the fact that the type is not a tensor is kept: write it as
		// an (empty) sequence type.
		b = appendMessage(b, 2, appendMessage(nil, 4, nil))
	}
	b = appendString(b, 3, v.DocString)
	return b
}

// appendVarint appends a varint field, omitting zero (the proto3 default).
func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// appendString appends a string field, omitting "".
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func appendPackedFloats(b []byte, num protowire.Number, v []float32) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(4*len(v)))
	for _, x := range v {
		b = protowire.AppendFixed32(b, math.Float32bits(x))
	}
	return b
}

func appendPackedInt64s(b []byte, num protowire.Number, v []int64) []byte {
	if len(v) == 0 {
		return b
	}
	size := 0
	for _, x := range v {
		size += protowire.SizeVarint(uint64(x))
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	for _, x := range v {
		b = protowire.AppendVarint(b, uint64(x))
	}
	return b
}
