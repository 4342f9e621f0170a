package modelfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autorep/autorep/internal/testutil"
	"github.com/autorep/autorep/tensor"
)

func sample() map[string]*tensor.Tensor {
	return map[string]*tensor.Tensor{
		"conv.weight": tensor.FromData([]float32{1, -2, 3.5, float32(math.Inf(1)), 0, -0.25}, 1, 2, 3),
		"fc.bias":     tensor.FromData([]float32{7, 8}, 2),
		"scalar":      tensor.FromData([]float32{42}),
		"empty":       tensor.FromData([]float32{}, 0, 3),
	}
}

func encode(t *testing.T, ts map[string]*tensor.Tensor, md map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, ts, md); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	md := map[string]string{"autorep.arch": "lenet", "x": "y"}
	want := sample()
	big := tensor.New(7, 6007) // spans several encoder chunks
	for i := range big.Data {
		big.Data[i] = float32(i)*0.5 - 3
	}
	want["big"] = big
	b := encode(t, want, md)
	if hl := binary.LittleEndian.Uint64(b); hl%8 != 0 {
		t.Errorf("header length %d not padded to 8", hl)
	}
	f, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.SameTensors(want, f.Tensors); err != nil {
		t.Fatal(err)
	}
	if f.Metadata["autorep.arch"] != "lenet" || f.Metadata["x"] != "y" || len(f.Metadata) != 2 {
		t.Fatalf("metadata %v", f.Metadata)
	}
	if got := f.Names(); strings.Join(got, ",") != "big,conv.weight,empty,fc.bias,scalar" {
		t.Fatalf("names %v", got)
	}
}

func TestWriteReadAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.safetensors")
	if err := Write(p, sample(), nil); err != nil {
		t.Fatal(err)
	}
	// Overwrite with different content; no temp files may remain.
	ts := sample()
	ts["fc.bias"].Data[0] = 9
	if err := Write(p, ts, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.SameTensors(ts, f.Tensors); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want only the file", len(ents))
	}
	// A failing encode must leave the old file intact and no temp file.
	bad := map[string]*tensor.Tensor{"x": {Shape: []int{3}, Data: []float32{1}}}
	if err := Write(p, bad, nil); err == nil {
		t.Fatal("Write accepted a tensor whose shape disagrees with its data")
	}
	if f2, err := Read(p); err != nil || f2.Metadata["k"] != "v" {
		t.Fatalf("old file damaged: %v", err)
	}
	ents, _ = os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temp file left behind: %d entries", len(ents))
	}
	if _, err := Read(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("reading a missing file succeeded")
	}
}

// handMade builds a file from a literal header and data section.
func handMade(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func TestDtypes(t *testing.T) {
	data := []byte{}
	le := binary.LittleEndian
	data = le.AppendUint64(data, math.Float64bits(-1.5))     // F64 [0,8)
	data = le.AppendUint16(data, 0x3c00)                     // F16 1.0 [8,10)
	data = le.AppendUint16(data, 0xc000)                     // F16 -2.0 [10,12)
	data = le.AppendUint16(data, 0x0001)                     // F16 smallest subnormal [12,14)
	data = le.AppendUint16(data, 0x3f80)                     // BF16 1.0 [14,16)
	data = le.AppendUint64(data, uint64(0xffffffffffffffff)) // I64 -1 [16,24)
	data = append(data, 0, 1, 200)                           // BOOL [24,26), U8 [26,27)
	h := `{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},` +
		`"b":{"dtype":"F16","shape":[3],"data_offsets":[8,14]},` +
		`"c":{"dtype":"BF16","shape":[],"data_offsets":[14,16]},` +
		`"d":{"dtype":"I64","shape":[1],"data_offsets":[16,24]},` +
		`"e":{"dtype":"BOOL","shape":[2],"data_offsets":[24,26]},` +
		`"f":{"dtype":"U8","shape":[1],"data_offsets":[26,27]}}`
	f, err := Decode(handMade(h, data))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, want ...float32) {
		got := f.Tensors[name].Data
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s = %v, want %v", name, got, want)
				return
			}
		}
	}
	check("a", -1.5)
	check("b", 1, -2, float32(math.Ldexp(1, -24)))
	check("c", 1)
	check("d", -1)
	check("e", 0, 1)
	check("f", 200)
}

func TestCorrupt(t *testing.T) {
	good := encode(t, sample(), map[string]string{"a": "b"})
	cases := map[string][]byte{
		"empty":            {},
		"short length":     {1, 2, 3},
		"huge header len":  append(binary.LittleEndian.AppendUint64(nil, 1<<40), good[8:]...),
		"header past end":  append(binary.LittleEndian.AppendUint64(nil, uint64(len(good))), good[8:]...),
		"truncated data":   good[:len(good)-3],
		"truncated header": good[:20],
		"not json":         handMade("not json!", nil),
		"json array":       handMade(`[1,2]`, nil),
		"bad dtype":        handMade(`{"a":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}}`, []byte{0}),
		"size mismatch":    handMade(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 8)),
		"reversed offsets": handMade(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 8)),
		"offset past end":  handMade(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 8)),
		"overlap": handMade(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},`+
			`"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
		"three offsets": handMade(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 8)),
		"negative dim":  handMade(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 8)),
		"huge shape":    handMade(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 8)),
		// 2^62 F32 elements need 2^64 bytes, which wraps to 0 in uint64.
		"wrapping size": handMade(`{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}`, nil),
		"wrapping dims": handMade(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil),
		"missing shape": handMade(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 8)),
		"unknown field": handMade(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"zz":1}}`, make([]byte, 8)),
		"duplicate key": handMade(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
		"metadata int":  handMade(`{"__metadata__":{"a":1}}`, nil),
		"trailing junk": handMade(`{} x`, nil),
		"float offsets": handMade(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4]}}`, make([]byte, 8)),
		"tiny header":   handMade(`{`, nil),
		"unclosed json": handMade(`{"a":`, nil),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(b)
			if err == nil {
				t.Fatal("accepted a corrupt file")
			}
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
		})
	}
	// Read names the file in its error.
	p := filepath.Join(t.TempDir(), "broken.safetensors")
	if err := os.WriteFile(p, good[:len(good)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Read(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("error %v should name %s and say truncated", err, p)
	}
	// Header padding with spaces is accepted.
	if _, err := Decode(handMade(`{}      `, nil)); err != nil {
		t.Fatalf("padded empty header: %v", err)
	}
}

func TestMeta(t *testing.T) {
	m := Meta{Arch: "resnet20", Classes: 10, Input: [3]int{3, 32, 32}, Dataset: "cifar10",
		Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.247, 0.2435, 0.2616}}
	if err := m.SetJSON(KeyTrain, map[string]any{"epochs": 3}); err != nil {
		t.Fatal(err)
	}
	if err := m.Set("user.note", "hi"); err != nil {
		t.Fatal(err)
	}
	raw := m.Map()
	if raw[KeyFormat] != "1" || raw[KeyInput] != "3,32,32" || raw[KeyMean] != "0.4914,0.4822,0.4465" || raw["user.note"] != "hi" {
		t.Fatalf("map %v", raw)
	}
	if _, ok := raw[KeyReduce]; ok {
		t.Fatal("unset reduce record written")
	}
	back, err := ParseMeta(raw)
	if err != nil {
		t.Fatal(err)
	}
	if back.Arch != m.Arch || back.Classes != 10 || back.Input != m.Input || back.Std[2] != m.Std[2] || back.Extra["user.note"] != "hi" {
		t.Fatalf("parsed %+v", back)
	}
	var rec struct{ Epochs int }
	if ok, err := back.GetJSON(KeyTrain, &rec); !ok || err != nil || rec.Epochs != 3 {
		t.Fatalf("train record %v %v %+v", ok, err, rec)
	}
	if ok, err := back.GetJSON(KeyReduce, &rec); ok || err != nil {
		t.Fatal("absent reduce record reported present")
	}
	c := back.Clone()
	c.Mean[0] = 9
	c.Extra["user.note"] = "changed"
	if back.Mean[0] == 9 || back.Extra["user.note"] != "hi" {
		t.Fatal("Clone shares memory")
	}
	for k, v := range map[string]string{
		KeyFormat: "2", KeyClasses: "ten", KeyInput: "3,32", KeyMean: "0.1,x", KeyTrain: "{bad",
	} {
		if _, err := ParseMeta(map[string]string{k: v}); err == nil {
			t.Errorf("%s=%q accepted", k, v)
		}
	}
}

// FuzzDecode checks that Decode never panics and that anything it accepts
// re-encodes to an equivalent file.
func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	Encode(&buf, sample(), map[string]string{"a": "b"})
	f.Add(buf.Bytes())
	f.Add(handMade(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(handMade(`{"__metadata__":{}}`, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Decode(b)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Encode(&out, file.Tensors, file.Metadata); err != nil {
			if strings.Contains(err.Error(), "reserved") {
				return
			}
			t.Fatalf("re-encode: %v", err)
		}
		again, err := Decode(out.Bytes())
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if err := testutil.SameTensors(file.Tensors, again.Tensors); err != nil {
			t.Fatalf("re-decoded: %v", err)
		}
	})
}
