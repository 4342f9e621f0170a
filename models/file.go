package models

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/nn"
	"github.com/autorep/autorep/tensor"
)

// Load reads a model file: it builds the architecture named in the
// metadata (autorep.arch, autorep.classes, autorep.input) with New, loads
// the state dict, and installs a frozen nn.PolyMask on every site that has
// "<site>.mask" and "<site>.poly" tensors. A corrupt or truncated file, or
// tensors that are missing, unexpected or mis-shaped for the architecture,
// give an error naming the file. A training checkpoint (package train)
// loads as the model it holds. A reduce checkpoint (OUT.ckpt.best,
// OUT.ckpt.search) loads as the masked model it describes: on a site with
// "<site>.mask" and "<site>.poly", the training-only state of package
// reduce ("<site>.score", "<site>.dapa_mean", "<site>.dapa_var",
// "<site>.dapa_steps") is checked for shape and ignored; on other sites,
// and any other unknown key, it is still an error.
func Load(path string) (*Model, error) {
	f, err := modelfile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	meta, err := f.Meta()
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", path, err)
	}
	if meta.Arch == "" || meta.Classes == 0 || meta.Input == [3]int{} {
		return nil, fmt.Errorf("models: %s is not an autorep model file (missing %s, %s or %s metadata)",
			path, modelfile.KeyArch, modelfile.KeyClasses, modelfile.KeyInput)
	}
	m, err := newForMeta(meta)
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", path, err)
	}
	tensors := f.Tensors
	if _, ok := f.Metadata[modelfile.KeyCheckpoint]; ok {
		// A training checkpoint: load its model part.
		tensors = map[string]*tensor.Tensor{}
		for name, t := range f.Tensors {
			if strings.HasPrefix(name, modelfile.CheckpointModelPrefix) {
				tensors[strings.TrimPrefix(name, modelfile.CheckpointModelPrefix)] = t
			}
		}
		delete(meta.Extra, modelfile.KeyCheckpoint)
	}
	m.Meta = meta
	if tensors, err = dropTrainingState(m, tensors); err != nil {
		return nil, fmt.Errorf("models: %s: %w", path, err)
	}
	if err := m.LoadTensors(tensors); err != nil {
		return nil, fmt.Errorf("models: %s: %w", path, err)
	}
	return m, nil
}

// Save writes the model to path atomically (temporary file, fsync,
// rename): the tensors of Tensors and the metadata m.Meta with the
// architecture, classes and input shape filled in from m.
func (m *Model) Save(path string) error {
	ts, err := m.Tensors()
	if err != nil {
		return fmt.Errorf("models: saving %s: %w", path, err)
	}
	meta := m.Meta.Clone()
	meta.Arch, meta.Classes, meta.Input = m.Arch, m.Classes, m.Input
	if err := modelfile.Write(path, ts, meta.Map()); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	return nil
}

// Tensors returns everything a model file stores: nn.StateDict of the
// network, i.e. parameters and buffers by dotted name plus "<site>.mask"
// [C,H,W] and "<site>.poly" [C,deg+1] for sites with an nn.PolyMask.
// Parameter and buffer tensors are shared with the model.
func (m *Model) Tensors() (map[string]*tensor.Tensor, error) {
	return nn.StateDict(m.Net)
}

// LoadTensors is the inverse of Tensors (nn.LoadStateDict): it copies the
// tensors into the network and installs PolyMasks. Missing, unexpected or
// mis-shaped tensors are an error and leave the model unchanged.
func (m *Model) LoadTensors(ts map[string]*tensor.Tensor) error {
	return nn.LoadStateDict(m.Net, ts)
}

// trainingOnly are the per-site tensors of a reduce search that a masked
// model does not need, with their shapes given the site's [C,H,W].
var trainingOnly = []struct {
	suffix string
	shape  func(chw []int) []int
}{
	{".score", func(chw []int) []int { return chw }},
	{".dapa_mean", func(chw []int) []int { return chw[:1] }},
	{".dapa_var", func(chw []int) []int { return chw[:1] }},
	{".dapa_steps", func([]int) []int { return []int{2} }},
}

// dropTrainingState returns ts without the training-only tensors of the
// sites that have a mask and a polynomial (see Load); ts is not modified.
// A training-only tensor of the wrong shape is an error.
func dropTrainingState(m *Model, ts map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	var out map[string]*tensor.Tensor
	for _, s := range m.Sites {
		if _, ok := ts[s.Name+".alpha"]; ok && ts[s.Name+nn.MaskSuffix] == nil {
			return nil, fmt.Errorf("site %s has an SNL search's %s.alpha and no mask: an SNL search checkpoint is not a masked model yet (use the reduce output or its .ckpt.best)", s.Name, s.Name)
		}
		if ts[s.Name+nn.MaskSuffix] == nil || ts[s.Name+nn.PolySuffix] == nil || len(s.Shape) == 0 {
			continue
		}
		for _, k := range trainingOnly {
			t, ok := ts[s.Name+k.suffix]
			if !ok {
				continue
			}
			want := k.shape(s.Shape)
			if t == nil || !slices.Equal(t.Shape, want) || len(t.Data) != tensor.Numel(want) {
				var got []int
				if t != nil {
					got = t.Shape
				}
				return nil, fmt.Errorf("%s%s: shape %v, want %v", s.Name, k.suffix, got, want)
			}
			if out == nil {
				out = maps.Clone(ts)
			}
			delete(out, s.Name+k.suffix)
		}
	}
	if out == nil {
		return ts, nil
	}
	return out, nil
}
