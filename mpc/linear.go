package mpc

import (
	"fmt"

	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// LinearKey is one party's per-session state of a linear layer with
// server-held weights: the server keeps W (and the bias), the client the
// masked weights Ŵ = W − B, uniform to it.
type LinearKey struct {
	Label string
	Spec  corr.LinearSpec
	w     []uint64 // server: W; client: Ŵ
	bias  []uint64 // server only, K values at the output scale
}

// SetupLinear runs the once-per-session part of a linear layer. The server
// passes the fixed-point weights w [K, C/G, R, S] and an optional bias (K
// values, at the output scale: weights' + input's fractional bits); it
// fetches the weight mask B from the provider and sends Ŵ = W − B to the
// client (8 bytes per weight, one message, offline). The client passes nil
// for both and receives Ŵ.
func (s *Session) SetupLinear(src corr.Provider, label string, spec corr.LinearSpec, w, bias []uint64) (*LinearKey, error) {
	if err := corr.ValidateLinear(spec); err != nil {
		return nil, err
	}
	k := &LinearKey{Label: label, Spec: spec}
	nw := spec.WLen()
	if s.Party == Client {
		what, err := s.recvVec("linear setup "+label, nw)
		if err != nil {
			return nil, err
		}
		k.w = what
		return k, nil
	}
	if len(w) != nw {
		return nil, fmt.Errorf("mpc: linear %q: %d weights, spec wants %d", label, len(w), nw)
	}
	if bias != nil && len(bias) != spec.K {
		return nil, fmt.Errorf("mpc: linear %q: %d biases for %d outputs", label, len(bias), spec.K)
	}
	m, err := s.Fetch(src, weightMaskRequest(label, spec), nw)
	if err != nil {
		return nil, err
	}
	what := make([]uint64, nw)
	ring.SubVec(what, w, m.Vecs[0].Data)
	if err := s.sendVec("linear setup "+label, what); err != nil {
		return nil, err
	}
	k.w = append([]uint64(nil), w...)
	if bias != nil {
		k.bias = append([]uint64(nil), bias...)
	}
	return k, nil
}

// Linear evaluates the layer on shares of x [N,C,H,W] and returns shares of
// W ⊛ x (+ bias) [N,K,OH,OW] at the sum of the weights' and input's scales
// (no truncation). The client sends x₁ − R (8 bytes per input element,
// one message); the server computes W ⊛ (x − R) + [B⊛R]₀ while the
// client's share Ŵ ⊛ R + [B⊛R]₁ needs no input (it can be computed before
// the input is known).
func (s *Session) Linear(src corr.Provider, k *LinearKey, x []uint64) ([]uint64, error) {
	if k == nil {
		return nil, fmt.Errorf("mpc: linear: nil key")
	}
	p := k.Spec
	if len(x) != p.XLen() {
		return nil, fmt.Errorf("mpc: linear %q: input of %d values, spec wants %d", k.Label, len(x), p.XLen())
	}
	req := linearRequest(k.Label, p)
	if s.Party == Client {
		pl, err := s.takePreLinear(k.Label, p)
		if err != nil {
			return nil, err
		}
		if pl != nil { // material and output share prepared by PreopenAct
			d := make([]uint64, len(x))
			ring.SubVec(d, x, pl.m.Vecs[0].Data)
			if err := s.sendVec("linear "+k.Label, d); err != nil {
				return nil, err
			}
			return pl.y, nil
		}
		m, err := s.Fetch(src, req, p.XLen(), p.YLen())
		if err != nil {
			return nil, err
		}
		r := m.Vecs[0].Data
		d := make([]uint64, len(x))
		ring.SubVec(d, x, r)
		if err := s.sendVec("linear "+k.Label, d); err != nil {
			return nil, err
		}
		y, err := conv(p, k.w, r)
		if err != nil {
			return nil, err
		}
		ring.AddVec(y, y, m.Vecs[1].Data)
		return y, nil
	}
	m, err := s.Fetch(src, req, p.YLen())
	if err != nil {
		return nil, err
	}
	d, err := s.recvVec("linear "+k.Label, len(x))
	if err != nil {
		return nil, err
	}
	ring.AddVec(d, d, x) // x − R
	y, err := conv(p, k.w, d)
	if err != nil {
		return nil, err
	}
	ring.AddVec(y, y, m.Vecs[0].Data)
	if k.bias != nil {
		hw := p.OutH() * p.OutW()
		for i := range y {
			y[i] += k.bias[(i/hw)%p.K]
		}
	}
	return y, nil
}
