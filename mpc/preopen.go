package mpc

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// preAct is an activation layer whose client half of the opening was sent
// in the offline phase (PreopenAct).
type preAct struct {
	spec   corr.ActSpec
	z      []uint64 // client: its share of the layer's input
	plan   *actPlan // client: openings with material
	theirs []uint64 // server: the client's masked shares
}

// preLinear is the client's KindLinear material fetched by PreopenAct for
// the next Linear call of its layer.
type preLinear struct {
	spec corr.LinearSpec
	m    *corr.Material
	y    []uint64 // the client's output share, computed from m
}

// PreopenAct moves the client's half of the opening of an activation layer
// to the offline phase. It applies to an activation layer whose input is
// exactly the output of the linear layer lk (no bias or residual added on
// the client's side): the client's share of that output, Ŵ ⊛ R + [B⊛R]₁,
// does not depend on the input, so the client fetches lk's per-inference
// material now, computes its share, fetches the activation's material and
// sends its masked shares (8 B per position, one offline message). Both
// parties call it, in the offline phase and in the same order, before the
// Linear(lk, ·) and Act(label, k, spec, ·) calls it prepares; those then
// cost, online, the linear layer's usual message and 8 B per activation
// position from the server to the client (instead of 8 B each way).
// Results are the same as without preopening. The server passes its keys
// too (it only receives here).
func (s *Session) PreopenAct(src corr.Provider, lk *LinearKey, label string, k *PolyKey, spec corr.ActSpec) error {
	if lk == nil {
		return fmt.Errorf("mpc: preopen act %q: nil linear key", label)
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	p := lk.Spec
	if spec.Len() != p.YLen() {
		return fmt.Errorf("mpc: preopen act %q: %d positions after linear %q with %d outputs", label, spec.Len(), lk.Label, p.YLen())
	}
	if _, ok := s.preAct[label]; ok {
		return fmt.Errorf("mpc: preopen act %q: already prepared", label)
	}
	if _, ok := s.preLin[lk.Label]; ok {
		return fmt.Errorf("mpc: preopen act %q: linear %q already prepared", label, lk.Label)
	}
	if s.preAct == nil {
		s.preAct = map[string]*preAct{}
		s.preLin = map[string]*preLinear{}
	}
	if s.Party == Server {
		theirs, err := s.recvVec("preopen act "+label, spec.Len())
		if err != nil {
			return err
		}
		s.preAct[label] = &preAct{spec: spec, theirs: theirs}
		return nil
	}
	m, err := s.Fetch(src, linearRequest(lk.Label, p), p.XLen(), p.YLen())
	if err != nil {
		return err
	}
	z, err := conv(p, lk.w, m.Vecs[0].Data)
	if err != nil {
		return err
	}
	ring.AddVec(z, z, m.Vecs[1].Data)
	plan, err := s.newActPlan(src, label, k, spec, z)
	if err != nil {
		return err
	}
	if err := s.sendVec("preopen act "+label, concatMasked(plan.ops)); err != nil {
		return err
	}
	s.preLin[lk.Label] = &preLinear{spec: p, m: m, y: slices.Clone(z)}
	s.preAct[label] = &preAct{spec: spec, z: z, plan: plan}
	return nil
}

// takePreLinear returns (and forgets) the client's material and output
// share prepared by PreopenAct for the linear layer label, or nil.
func (s *Session) takePreLinear(label string, spec corr.LinearSpec) (*preLinear, error) {
	pl, ok := s.preLin[label]
	if !ok {
		return nil, nil
	}
	delete(s.preLin, label)
	if pl.spec != spec {
		return nil, fmt.Errorf("mpc: linear %q: spec differs from the preopened one", label)
	}
	return pl, nil
}

// actPreopened finishes an activation layer prepared by PreopenAct: the
// server sends its masked shares and both open with the client's
// offline ones.
func (s *Session) actPreopened(src corr.Provider, label string, k *PolyKey, spec corr.ActSpec, z []uint64, pa *preAct) ([]uint64, error) {
	if spec.N != pa.spec.N || spec.C != pa.spec.C || spec.HW != pa.spec.HW || !bytes.Equal(spec.ReLU, pa.spec.ReLU) {
		return nil, fmt.Errorf("mpc: act %q: spec differs from the preopened one", label)
	}
	if s.Party == Client {
		if !slices.Equal(z, pa.z) {
			return nil, fmt.Errorf("mpc: act %q: input is not the preopened linear layer's output", label)
		}
		mine := concatMasked(pa.plan.ops)
		theirs, err := s.recvVec("act "+label, len(mine))
		if err != nil {
			return nil, err
		}
		ring.AddVec(theirs, theirs, mine)
		if err := finishAll(pa.plan.ops, theirs); err != nil {
			return nil, err
		}
		return pa.plan.result(), nil
	}
	p, err := s.newActPlan(src, label, k, spec, z)
	if err != nil {
		return nil, err
	}
	mine := concatMasked(p.ops)
	if len(mine) != len(pa.theirs) {
		return nil, fmt.Errorf("mpc: act %q: %d masked values, the client preopened %d", label, len(mine), len(pa.theirs))
	}
	if err := s.sendVec("act "+label, mine); err != nil {
		return nil, err
	}
	ring.AddVec(mine, mine, pa.theirs)
	if err := finishAll(p.ops, mine); err != nil {
		return nil, err
	}
	return p.result(), nil
}
