package nn

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/tensor"
)

// walk visits every (prefix, module) pair of m in execution order,
// descending into Graphs. prefix is the module's dotted name ("" for m).
func walk(m Module, prefix string, visit func(prefix string, m Module)) {
	visit(prefix, m)
	if g, ok := m.(*Graph); ok {
		for _, n := range g.Nodes {
			walk(n.Op, join(prefix, n.Name), visit)
		}
	}
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// NamedParameters returns m's trainable parameters with dotted names in
// execution order (PyTorch's order for the models in this project).
func NamedParameters(m Module) []Named {
	var out []Named
	walk(m, "", func(prefix string, mod Module) {
		if p, ok := mod.(ParamHolder); ok {
			for _, n := range p.Parameters() {
				out = append(out, Named{join(prefix, n.Name), n.Var})
			}
		}
	})
	return out
}

// Parameters returns m's parameters in NamedParameters order.
func Parameters(m Module) []*autograd.Var {
	named := NamedParameters(m)
	out := make([]*autograd.Var, len(named))
	for i, n := range named {
		out[i] = n.Var
	}
	return out
}

// ZeroGrad drops the gradients of all of m's parameters.
func ZeroGrad(m Module) {
	for _, p := range NamedParameters(m) {
		p.Var.ZeroGrad()
	}
}

// NamedBuffers returns m's buffers (running statistics, activation state)
// with dotted names. The tensors are live.
func NamedBuffers(m Module) []NamedTensor {
	var out []NamedTensor
	walk(m, "", func(prefix string, mod Module) {
		if b, ok := mod.(BufferHolder); ok {
			for _, n := range b.Buffers() {
				out = append(out, NamedTensor{Name: join(prefix, n.Name), Tensor: n.Tensor, Optional: n.Optional})
			}
		}
	})
	return out
}

// SetTraining puts every module of m in training (true) or evaluation mode.
func SetTraining(m Module, training bool) {
	walk(m, "", func(_ string, mod Module) {
		if s, ok := mod.(ModeSetter); ok {
			s.SetTraining(training)
		}
	})
}

// Sites returns m's ReLU sites in execution order.
func Sites(m Module) []*Site {
	var out []*Site
	walk(m, "", func(_ string, mod Module) {
		if s, ok := mod.(*Site); ok {
			out = append(out, s)
		}
	})
	return out
}

// Site tensor suffixes in state dicts (and model files).
const (
	// MaskSuffix names a PolyMask's mask: "<site>.mask", shape Site.Shape.
	MaskSuffix = ".mask"
	// PolySuffix names a PolyMask's coefficients: "<site>.poly", [C, deg+1].
	PolySuffix = ".poly"
)

// sitePrefix returns the dotted name a Site has inside m (its node path),
// keyed by the Site pointer.
func sitePrefixes(m Module) map[*Site]string {
	out := map[*Site]string{}
	walk(m, "", func(prefix string, mod Module) {
		if s, ok := mod.(*Site); ok {
			out[s] = prefix
		}
	})
	return out
}

// polyTensors returns the mask and coefficient tensors of p for site s.
func polyTensors(s *Site, p *PolyMask) (mask, poly *tensor.Tensor, err error) {
	shape := s.Shape
	if shape == nil {
		shape = []int{len(p.Mask)}
	}
	if err := p.Check(shape); err != nil {
		return nil, nil, fmt.Errorf("site %q: %w", s.Name, err)
	}
	deg1 := len(p.Coef[0])
	poly = tensor.New(len(p.Coef), deg1)
	for c, row := range p.Coef {
		if len(row) != deg1 {
			return nil, nil, fmt.Errorf("nn: site %q: channels have polynomials of different degrees", s.Name)
		}
		copy(poly.Data[c*deg1:], row)
	}
	mask = tensor.FromData(append([]float32(nil), p.Mask...), shape...)
	return mask, poly, nil
}

// StateDict returns every parameter and buffer of m by dotted name, plus
// "<site>.mask" and "<site>.poly" for sites with a PolyMask. Parameter and
// buffer tensors are shared with the model (Clone to snapshot); mask and
// poly tensors are copies. It fails only on an inconsistent PolyMask.
func StateDict(m Module) (map[string]*tensor.Tensor, error) {
	sd := map[string]*tensor.Tensor{}
	for _, p := range NamedParameters(m) {
		sd[p.Name] = p.Var.Value
	}
	for _, b := range NamedBuffers(m) {
		sd[b.Name] = b.Tensor
	}
	for s, prefix := range sitePrefixes(m) {
		if p, ok := s.Act.(*PolyMask); ok {
			mask, poly, err := polyTensors(s, p)
			if err != nil {
				return nil, err
			}
			sd[prefix+MaskSuffix], sd[prefix+PolySuffix] = mask, poly
		}
	}
	return sd, nil
}

// LoadStateDict copies sd into m's parameters and buffers. It installs a
// PolyMask on every site (with a nil Act or a PolyMask) for which sd has
// "<site>.mask" and "<site>.poly". It fails, changing nothing, when a key
// of m is missing from sd (except optional buffers, which keep their
// value), a shape differs, or sd has keys m does not know
// (".num_batches_tracked" keys are ignored); the error lists them all.
func LoadStateDict(m Module, sd map[string]*tensor.Tensor) error {
	unused, err := LoadStateDictLenient(m, sd)
	if err != nil {
		return err
	}
	if len(unused) > 0 {
		return fmt.Errorf("nn: load state dict: unexpected keys %s", strings.Join(unused, ", "))
	}
	return nil
}

// LoadStateDictLenient is LoadStateDict that returns the keys of sd it did
// not use instead of failing on them.
func LoadStateDictLenient(m Module, sd map[string]*tensor.Tensor) (unused []string, err error) {
	used := map[string]bool{}
	var problems []string
	type copyJob struct{ dst, src *tensor.Tensor }
	var jobs []copyJob
	check := func(name string, dst *tensor.Tensor) {
		src, ok := sd[name]
		if !ok || src == nil {
			problems = append(problems, "missing "+name)
			return
		}
		used[name] = true
		if !tensor.SameShape(src, dst) || len(src.Data) != len(dst.Data) {
			problems = append(problems, fmt.Sprintf("%s: shape %v, model has %v", name, src.Shape, dst.Shape))
			return
		}
		jobs = append(jobs, copyJob{dst, src})
	}
	for _, p := range NamedParameters(m) {
		check(p.Name, p.Var.Value)
	}
	for _, b := range NamedBuffers(m) {
		if src, ok := sd[b.Name]; b.Optional && (!ok || src == nil) {
			continue
		}
		check(b.Name, b.Tensor)
	}
	type install struct {
		site *Site
		pm   *PolyMask
	}
	var installs []install
	prefixes := sitePrefixes(m)
	sites := make([]*Site, 0, len(prefixes))
	for s := range prefixes {
		sites = append(sites, s)
	}
	sort.Slice(sites, func(i, j int) bool { return prefixes[sites[i]] < prefixes[sites[j]] })
	for _, s := range sites {
		prefix := prefixes[s]
		_, hasPM := s.Act.(*PolyMask)
		if s.Act != nil && !hasPM {
			continue
		}
		mask, okM := sd[prefix+MaskSuffix]
		poly, okP := sd[prefix+PolySuffix]
		switch {
		case !okM && !okP && !hasPM:
			continue
		case !okM || !okP || mask == nil || poly == nil:
			if !okM || mask == nil {
				problems = append(problems, "missing "+prefix+MaskSuffix)
			}
			if !okP || poly == nil {
				problems = append(problems, "missing "+prefix+PolySuffix)
			}
			continue
		}
		used[prefix+MaskSuffix], used[prefix+PolySuffix] = true, true
		pm, err := polyMaskFrom(s, mask, poly)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", prefix, err))
			continue
		}
		installs = append(installs, install{s, pm})
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("nn: load state dict: %s", strings.Join(problems, "; "))
	}
	for _, j := range jobs {
		copy(j.dst.Data, j.src.Data)
	}
	for _, in := range installs {
		in.site.Act = in.pm
	}
	for k := range sd {
		if !used[k] && !strings.HasSuffix(k, ".num_batches_tracked") {
			unused = append(unused, k)
		}
	}
	sort.Strings(unused)
	return unused, nil
}

// polyMaskFrom builds a PolyMask for site s from its state tensors.
func polyMaskFrom(s *Site, mask, poly *tensor.Tensor) (*PolyMask, error) {
	if s.Shape != nil && !slices.Equal(mask.Shape, s.Shape) {
		return nil, fmt.Errorf("mask shape %v, site has %v", mask.Shape, s.Shape)
	}
	if len(poly.Shape) != 2 || poly.Shape[0] < 1 || poly.Shape[1] < 1 || len(poly.Data) != poly.Shape[0]*poly.Shape[1] {
		return nil, fmt.Errorf("poly shape %v (%d values), want [C, degree+1]", poly.Shape, len(poly.Data))
	}
	if len(mask.Data) != tensor.Numel(mask.Shape) {
		return nil, fmt.Errorf("mask has %d values for shape %v", len(mask.Data), mask.Shape)
	}
	for _, v := range mask.Data {
		if v != 0 && v != 1 {
			return nil, errors.New("mask entries must be 0 or 1")
		}
	}
	c, d := poly.Shape[0], poly.Shape[1]
	pm := &PolyMask{Mask: append([]float32(nil), mask.Data...), Coef: make([][]float32, c)}
	for i := range pm.Coef {
		pm.Coef[i] = append([]float32(nil), poly.Data[i*d:(i+1)*d]...)
	}
	if err := pm.Check(mask.Shape); err != nil {
		return nil, err
	}
	return pm, nil
}
