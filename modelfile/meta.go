package modelfile

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Metadata keys of an autorep model file.
const (
	KeyFormat  = "autorep.format"  // file format version, "1"
	KeyArch    = "autorep.arch"    // architecture name for models.New
	KeyClasses = "autorep.classes" // number of classes
	KeyInput   = "autorep.input"   // input shape "C,H,W"
	KeyDataset = "autorep.dataset" // dataset name
	KeyMean    = "autorep.mean"    // per-channel normalisation mean, "0.4914,0.4822,0.4465"
	KeyStd     = "autorep.std"     // per-channel normalisation std
	KeyTrain   = "autorep.train"   // JSON training record
	KeyReduce  = "autorep.reduce"  // JSON reduction record (method, budget, degree, relus)
	// KeyCheckpoint marks a training checkpoint (package train): its JSON
	// run state; the model's tensors are then prefixed with
	// CheckpointModelPrefix and the optimiser's with CheckpointOptimPrefix.
	KeyCheckpoint = "autorep.checkpoint"
)

// Tensor name prefixes inside a training checkpoint.
const (
	CheckpointModelPrefix = "model."
	CheckpointOptimPrefix = "optim."
)

// FormatVersion is the value written under KeyFormat.
const FormatVersion = "1"

// Meta is the typed form of an autorep file's metadata. Keys it does not
// know are kept verbatim in Extra so they survive a load/save cycle.
type Meta struct {
	Arch    string
	Classes int
	Input   [3]int // C, H, W
	Dataset string
	Mean    []float32
	Std     []float32
	// Train and Reduce are JSON documents (nil when absent); use SetJSON /
	// GetJSON with KeyTrain / KeyReduce to (de)serialise records.
	Train  json.RawMessage
	Reduce json.RawMessage
	// Extra holds any other metadata keys.
	Extra map[string]string
}

// ParseMeta validates and converts a raw metadata map. A missing key
// leaves its field zero; a present but malformed one is an error.
func ParseMeta(m map[string]string) (Meta, error) {
	var meta Meta
	for k, v := range m {
		if err := meta.Set(k, v); err != nil {
			return Meta{}, err
		}
	}
	return meta, nil
}

// Map returns the metadata as the string map stored in the file, with
// autorep.format set. Zero fields are omitted.
func (m *Meta) Map() map[string]string {
	out := map[string]string{KeyFormat: FormatVersion}
	for k, v := range m.Extra {
		out[k] = v
	}
	for _, k := range []string{KeyArch, KeyClasses, KeyInput, KeyDataset, KeyMean, KeyStd, KeyTrain, KeyReduce} {
		if v := m.Get(k); v != "" {
			out[k] = v
		}
	}
	return out
}

// Get returns the string form of key ("" when unset). Known autorep keys
// are formatted from the typed fields; others come from Extra.
func (m *Meta) Get(key string) string {
	switch key {
	case KeyFormat:
		return FormatVersion
	case KeyArch:
		return m.Arch
	case KeyClasses:
		if m.Classes == 0 {
			return ""
		}
		return strconv.Itoa(m.Classes)
	case KeyInput:
		if m.Input == [3]int{} {
			return ""
		}
		return fmt.Sprintf("%d,%d,%d", m.Input[0], m.Input[1], m.Input[2])
	case KeyDataset:
		return m.Dataset
	case KeyMean:
		return formatFloats(m.Mean)
	case KeyStd:
		return formatFloats(m.Std)
	case KeyTrain:
		return string(m.Train)
	case KeyReduce:
		return string(m.Reduce)
	}
	return m.Extra[key]
}

// Set parses value into the field for key (known autorep keys) or stores
// it in Extra. A malformed value for a known key is an error and leaves m
// unchanged.
func (m *Meta) Set(key, value string) error {
	switch key {
	case KeyFormat:
		if value != FormatVersion {
			return fmt.Errorf("modelfile: unsupported %s %q (this build reads %q)", KeyFormat, value, FormatVersion)
		}
	case KeyArch:
		m.Arch = value
	case KeyClasses:
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil || n <= 0 {
			return fmt.Errorf("modelfile: %s %q is not a positive integer", key, value)
		}
		m.Classes = n
	case KeyInput:
		parts := strings.Split(value, ",")
		if len(parts) != 3 {
			return fmt.Errorf("modelfile: %s %q is not C,H,W", key, value)
		}
		var in [3]int
		for i, p := range parts {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || n <= 0 {
				return fmt.Errorf("modelfile: %s %q is not C,H,W of positive integers", key, value)
			}
			in[i] = n
		}
		m.Input = in
	case KeyDataset:
		m.Dataset = value
	case KeyMean, KeyStd:
		v, err := parseFloats(value)
		if err != nil {
			return fmt.Errorf("modelfile: %s: %w", key, err)
		}
		if key == KeyMean {
			m.Mean = v
		} else {
			m.Std = v
		}
	case KeyTrain, KeyReduce:
		if value != "" && !json.Valid([]byte(value)) {
			return fmt.Errorf("modelfile: %s is not valid JSON", key)
		}
		var raw json.RawMessage
		if value != "" {
			raw = json.RawMessage(value)
		}
		if key == KeyTrain {
			m.Train = raw
		} else {
			m.Reduce = raw
		}
	default:
		if m.Extra == nil {
			m.Extra = map[string]string{}
		}
		m.Extra[key] = value
	}
	return nil
}

// SetJSON stores v marshalled as JSON under key.
func (m *Meta) SetJSON(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("modelfile: encoding %s: %w", key, err)
	}
	return m.Set(key, string(b))
}

// GetJSON unmarshals the JSON stored under key into v. It reports false
// (and no error) when the key is unset.
func (m *Meta) GetJSON(key string, v any) (bool, error) {
	s := m.Get(key)
	if s == "" {
		return false, nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return true, fmt.Errorf("modelfile: decoding %s: %w", key, err)
	}
	return true, nil
}

// Clone returns a deep copy of m.
func (m *Meta) Clone() Meta {
	c := *m
	c.Mean = append([]float32(nil), m.Mean...)
	c.Std = append([]float32(nil), m.Std...)
	c.Train = append(json.RawMessage(nil), m.Train...)
	c.Reduce = append(json.RawMessage(nil), m.Reduce...)
	if m.Mean == nil {
		c.Mean = nil
	}
	if m.Std == nil {
		c.Std = nil
	}
	if m.Train == nil {
		c.Train = nil
	}
	if m.Reduce == nil {
		c.Reduce = nil
	}
	if m.Extra != nil {
		c.Extra = make(map[string]string, len(m.Extra))
		for k, v := range m.Extra {
			c.Extra[k] = v
		}
	}
	return c
}

func formatFloats(v []float32) string {
	if len(v) == 0 {
		return ""
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(float64(x), 'g', -1, 32)
	}
	return strings.Join(s, ",")
}

func parseFloats(s string) ([]float32, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make([]float32, len(parts))
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not a comma-separated list of numbers", s)
		}
		out[i] = float32(f)
	}
	return out, nil
}
