package mpc

import (
	"fmt"

	"github.com/autorep/autorep/fss"
	"github.com/autorep/autorep/ring"
)

// opening is one value to open in a combined round: this party's share of
// a masked value, and what to do with the opened value.
type opening struct {
	masked []uint64
	finish func(xhat []uint64) error
}

// openAll opens all masked values in one simultaneous round (one message
// each way) and runs the finishers.
func (s *Session) openAll(what string, ops ...opening) error {
	n := 0
	for _, o := range ops {
		n += len(o.masked)
	}
	if n == 0 {
		for _, o := range ops {
			if err := o.finish(nil); err != nil {
				return err
			}
		}
		return nil
	}
	msg := make([]uint64, 0, n)
	for _, o := range ops {
		msg = append(msg, o.masked...)
	}
	xhat, err := s.open(what, msg)
	if err != nil {
		return err
	}
	for _, o := range ops {
		k := len(o.masked)
		if err := o.finish(xhat[:k:k]); err != nil {
			return err
		}
		xhat = xhat[k:]
	}
	return nil
}

// gate prepares an FSS gate evaluation on the shared x: it fetches the
// material and returns the opening of x + r_in whose finisher stores the
// shares of the gate's output in *out.
func (s *Session) gate(req Request, x []uint64, out *[]uint64) (opening, error) {
	req.N = len(x)
	m, err := s.get(req, len(x))
	if err != nil {
		return opening{}, err
	}
	masked := make([]uint64, len(x))
	ring.AddVec(masked, x, m.Vecs[0].Data)
	party := int(s.Party)
	return opening{masked: masked, finish: func(xhat []uint64) error {
		var y []uint64
		var err error
		switch req.Kind {
		case KindTrunc:
			y, err = fss.EvalTrunc(party, m.Gate, xhat)
		case KindReLU:
			y, err = fss.EvalReLU(party, m.Gate, xhat)
		case KindDReLU:
			y, err = fss.EvalDReLU(party, m.Gate, xhat)
		default:
			err = fmt.Errorf("mpc: %v is not a gate", req.Kind)
		}
		if err != nil {
			return fmt.Errorf("mpc: %v %q: %w", req.Kind, req.Label, err)
		}
		*out = y
		return nil
	}}, nil
}

// runGate evaluates one gate in one round.
func (s *Session) runGate(req Request, x []uint64) ([]uint64, error) {
	var y []uint64
	op, err := s.gate(req, x, &y)
	if err != nil {
		return nil, err
	}
	if err := s.openAll(req.Kind.String()+" "+req.Label, op); err != nil {
		return nil, err
	}
	return y, nil
}

// Trunc returns shares of x >> shift (arithmetic shift, exactly
// floor(x/2^shift)) for signed x in [−2^(ell−1), 2^(ell−1)) (ell 0 means
// 64), with the FSS truncation gate: one round, 8 bytes per element each
// way. There is no failure probability inside that range.
func (s *Session) Trunc(label string, x []uint64, shift uint, ell int) ([]uint64, error) {
	return s.runGate(Request{Kind: KindTrunc, Label: label, Shift: shift, Ell: ell}, x)
}

// ReLU returns shares of max(x, 0) for signed x in [−2^(ell−1), 2^(ell−1))
// with the FSS ReLU gate: one round, 8 bytes per element each way.
func (s *Session) ReLU(label string, x []uint64, ell int) ([]uint64, error) {
	return s.runGate(Request{Kind: KindReLU, Label: label, Ell: ell}, x)
}

// DReLU returns arithmetic shares of the bit 1{x ≥ 0}: one round, 8 bytes
// per element each way.
func (s *Session) DReLU(label string, x []uint64, ell int) ([]uint64, error) {
	return s.runGate(Request{Kind: KindDReLU, Label: label, Ell: ell}, x)
}
