// Package modelfile reads and writes autorep model files: standard
// .safetensors files (an 8-byte little-endian header length, a JSON header
// naming each tensor's dtype, shape and byte range, then the raw
// little-endian data) whose "__metadata__" map carries the autorep keys
// (architecture, normalisation, training and reduction records).
//
// Tensors are written as F32. Reading accepts F32 and converts F64, F16,
// BF16, I64, I32, I16, I8, U8 and BOOL to float32 so files exported from
// PyTorch load too. Every malformed input (bad header length, invalid JSON,
// unknown dtype, shape/size disagreement, overlapping or out-of-range
// offsets, truncated data) is an error naming the file, never a panic.
package modelfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/autorep/autorep/tensor"
)

// MaxHeaderLen bounds the JSON header (100 MB, as the reference
// implementation does) so a corrupt length cannot trigger a huge allocation.
const MaxHeaderLen = 100 << 20

// metadataKey is the reserved header entry holding the string map.
const metadataKey = "__metadata__"

// ErrFormat is wrapped by every error about a malformed file, so callers
// can tell corruption from I/O failures with errors.Is.
var ErrFormat = errors.New("malformed safetensors")

// File is the decoded content of a model file.
type File struct {
	// Tensors by name; every tensor is float32.
	Tensors map[string]*tensor.Tensor
	// Metadata is the raw "__metadata__" string map (may be empty).
	Metadata map[string]string
}

// Meta parses f.Metadata into the typed autorep metadata.
func (f *File) Meta() (Meta, error) { return ParseMeta(f.Metadata) }

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for n := range f.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// dtypeSize is the element size of each dtype we can read.
var dtypeSize = map[string]int{
	"F32": 4, "F64": 8, "F16": 2, "BF16": 2,
	"I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}

// headerEntry is one tensor's description in the JSON header.
type headerEntry struct {
	Dtype       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

// Read loads and validates the file at path.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("modelfile: %w", err)
	}
	f, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("modelfile %s: %w", path, err)
	}
	return f, nil
}

// Decode parses a complete safetensors image held in memory.
func Decode(b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: file is %d bytes, shorter than the 8-byte header length (truncated?)", ErrFormat, len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n < 2 {
		return nil, fmt.Errorf("%w: header length %d is too small", ErrFormat, n)
	}
	if n > MaxHeaderLen {
		return nil, fmt.Errorf("%w: header length %d exceeds the %d-byte limit", ErrFormat, n, MaxHeaderLen)
	}
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("%w: header length %d but only %d bytes follow (truncated?)", ErrFormat, n, len(b)-8)
	}
	header := b[8 : 8+n]
	data := b[8+n:]
	entries, meta, err := parseHeader(header)
	if err != nil {
		return nil, err
	}
	f := &File{Tensors: make(map[string]*tensor.Tensor, len(entries)), Metadata: meta}
	type span struct {
		name       string
		begin, end uint64
	}
	spans := make([]span, 0, len(entries))
	for name, e := range entries {
		size, ok := dtypeSize[e.Dtype]
		if !ok {
			return nil, fmt.Errorf("%w: tensor %q has unsupported dtype %q", ErrFormat, name, e.Dtype)
		}
		if len(e.DataOffsets) != 2 {
			return nil, fmt.Errorf("%w: tensor %q: data_offsets must have 2 entries, has %d", ErrFormat, name, len(e.DataOffsets))
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin > end {
			return nil, fmt.Errorf("%w: tensor %q: data_offsets [%d, %d] are reversed", ErrFormat, name, begin, end)
		}
		if end > uint64(len(data)) {
			return nil, fmt.Errorf("%w: tensor %q: data ends at byte %d but the data section has %d bytes (truncated?)", ErrFormat, name, end, len(data))
		}
		nbytes, err := shapeBytes(e.Shape, uint64(size))
		if err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrFormat, name, err)
		}
		if nbytes != end-begin {
			return nil, fmt.Errorf("%w: tensor %q: shape %v of %s needs %d bytes, data_offsets give %d", ErrFormat, name, e.Shape, e.Dtype, nbytes, end-begin)
		}
		spans = append(spans, span{name, begin, end})
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	for i := 1; i < len(spans); i++ {
		if spans[i].begin < spans[i-1].end {
			return nil, fmt.Errorf("%w: tensors %q and %q overlap", ErrFormat, spans[i-1].name, spans[i].name)
		}
	}
	for name, e := range entries {
		shape := make([]int, len(e.Shape))
		for i, s := range e.Shape {
			shape[i] = int(s)
		}
		raw := data[e.DataOffsets[0]:e.DataOffsets[1]]
		f.Tensors[name] = &tensor.Tensor{Shape: shape, Data: convert(e.Dtype, raw)}
	}
	return f, nil
}

// shapeBytes validates a shape and returns the byte size of its elements
// at elemSize bytes each, refusing negative dimensions and any product that
// does not fit in 64 bits: a wrapped size could match small data_offsets
// and yield a tensor whose shape claims far more elements than its data.
func shapeBytes(shape []int64, elemSize uint64) (uint64, error) {
	n := uint64(1)
	for _, s := range shape {
		if s < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		hi, lo := bits.Mul64(n, uint64(s))
		if hi != 0 {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n = lo
	}
	hi, size := bits.Mul64(n, elemSize)
	if hi != 0 {
		return 0, fmt.Errorf("shape %v of %d-byte elements is too large", shape, elemSize)
	}
	return size, nil
}

// parseHeader decodes the JSON header, rejecting duplicate keys, unknown
// entry fields and non-string metadata values.
func parseHeader(h []byte) (map[string]headerEntry, map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(h))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: header is not JSON: %v", ErrFormat, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("%w: header is not a JSON object", ErrFormat)
	}
	entries := map[string]headerEntry{}
	meta := map[string]string{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("%w: header JSON: %v", ErrFormat, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("%w: header JSON: expected a key", ErrFormat)
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("%w: header has duplicate key %q", ErrFormat, key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("%w: header JSON at %q: %v", ErrFormat, key, err)
		}
		if key == metadataKey {
			if err := strictUnmarshal(raw, &meta); err != nil {
				return nil, nil, fmt.Errorf("%w: __metadata__ must be a string-to-string map: %v", ErrFormat, err)
			}
			if meta == nil {
				meta = map[string]string{}
			}
			continue
		}
		var e headerEntry
		if err := strictUnmarshal(raw, &e); err != nil {
			return nil, nil, fmt.Errorf("%w: tensor %q: %v", ErrFormat, key, err)
		}
		if e.Shape == nil || e.DataOffsets == nil || e.Dtype == "" {
			return nil, nil, fmt.Errorf("%w: tensor %q: needs dtype, shape and data_offsets", ErrFormat, key)
		}
		entries[key] = e
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("%w: header JSON: %v", ErrFormat, err)
	}
	// Only padding may follow the object.
	rest, _ := io.ReadAll(dec.Buffered())
	if len(bytes.TrimRight(rest, " \t\r\n\x00")) != 0 {
		return nil, nil, fmt.Errorf("%w: trailing bytes after the header JSON", ErrFormat)
	}
	return entries, meta, nil
}

func strictUnmarshal(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// convert decodes little-endian raw values of dtype into float32.
func convert(dtype string, raw []byte) []float32 {
	size := dtypeSize[dtype]
	out := make([]float32, len(raw)/size)
	le := binary.LittleEndian
	for i := range out {
		p := raw[i*size:]
		switch dtype {
		case "F32":
			out[i] = math.Float32frombits(le.Uint32(p))
		case "F64":
			out[i] = float32(math.Float64frombits(le.Uint64(p)))
		case "F16":
			out[i] = halfToFloat(le.Uint16(p))
		case "BF16":
			out[i] = math.Float32frombits(uint32(le.Uint16(p)) << 16)
		case "I64":
			out[i] = float32(int64(le.Uint64(p)))
		case "I32":
			out[i] = float32(int32(le.Uint32(p)))
		case "I16":
			out[i] = float32(int16(le.Uint16(p)))
		case "I8":
			out[i] = float32(int8(p[0]))
		case "U8":
			out[i] = float32(p[0])
		case "BOOL":
			if p[0] != 0 {
				out[i] = 1
			}
		}
	}
	return out
}

// halfToFloat converts an IEEE 754 binary16 value to float32.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf / NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0:
		if frac == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: value = frac * 2^-24.
		v := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	default:
		return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
	}
}

// Encode writes tensors (as F32) and metadata in safetensors format to w.
// Tensors are laid out contiguously in name order; the header is padded
// with spaces to a multiple of 8 bytes.
func Encode(w io.Writer, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	names := make([]string, 0, len(tensors))
	for n, t := range tensors {
		if n == metadataKey {
			return fmt.Errorf("modelfile: tensor name %q is reserved", n)
		}
		if t == nil {
			return fmt.Errorf("modelfile: tensor %q is nil", n)
		}
		if tensor.Numel(t.Shape) != len(t.Data) {
			return fmt.Errorf("modelfile: tensor %q has shape %v but %d values", n, t.Shape, len(t.Data))
		}
		names = append(names, n)
	}
	sort.Strings(names)
	header := make(map[string]any, len(names)+1)
	var off uint64
	for _, n := range names {
		t := tensors[n]
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		size := uint64(4 * len(t.Data))
		header[n] = map[string]any{"dtype": "F32", "shape": shape, "data_offsets": [2]uint64{off, off + size}}
		off += size
	}
	if len(metadata) > 0 {
		header[metadataKey] = metadata
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("modelfile: encoding header: %w", err)
	}
	if pad := len(hj) % 8; pad != 0 {
		hj = append(hj, strings.Repeat(" ", 8-pad)...)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hj)))
	if _, err := bw.Write(lenBuf[:]); err != nil {
		return fmt.Errorf("modelfile: %w", err)
	}
	if _, err := bw.Write(hj); err != nil {
		return fmt.Errorf("modelfile: %w", err)
	}
	buf := make([]byte, 0, 1<<16)
	for _, n := range names {
		for _, v := range tensors[n].Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				if _, err := bw.Write(buf); err != nil {
					return fmt.Errorf("modelfile: %w", err)
				}
				buf = buf[:0]
			}
		}
	}
	if _, err := bw.Write(buf); err != nil {
		return fmt.Errorf("modelfile: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("modelfile: %w", err)
	}
	return nil
}

// Write saves tensors and metadata to path atomically: the data goes to a
// temporary file in the same directory, which is synced and then renamed
// over path, so a crash leaves either the old file or the new one.
func Write(path string, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("modelfile: saving %s: %w", path, err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err := Encode(tmp, tensors, metadata); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("modelfile: saving %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("modelfile: saving %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("modelfile: saving %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("modelfile: saving %s: %w", path, err)
	}
	ok = true
	// Make the rename durable; failure here is not fatal on filesystems
	// that do not support syncing directories.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
