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
	xhat, err := s.open(what, concatMasked(ops))
	if err != nil {
		return err
	}
	return finishAll(ops, xhat)
}

// concatMasked concatenates the masked shares of ops (one message).
func concatMasked(ops []opening) []uint64 {
	var msg []uint64
	for _, o := range ops {
		msg = append(msg, o.masked...)
	}
	return msg
}

// finishAll runs the finishers of ops on their parts of the opened xhat.
func finishAll(ops []opening, xhat []uint64) error {
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
			y, err = fss.EvalTrunc(party, m.gateKeys(), xhat)
		case KindReLU:
			y, err = fss.EvalReLU(party, m.gateKeys(), xhat)
		case KindDReLU:
			y, err = fss.EvalDReLU(party, m.gateKeys(), xhat)
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
	return s.runGate(gateRequest(KindTrunc, label, len(x), shift, ell), x)
}

// ReLU returns shares of max(x, 0) for signed x in [−2^(ell−1), 2^(ell−1))
// with the FSS ReLU gate: one round, 8 bytes per element each way.
func (s *Session) ReLU(label string, x []uint64, ell int) ([]uint64, error) {
	return s.runGate(gateRequest(KindReLU, label, len(x), 0, ell), x)
}

// DReLU returns arithmetic shares of the bit 1{x ≥ 0}: one round, 8 bytes
// per element each way.
func (s *Session) DReLU(label string, x []uint64, ell int) ([]uint64, error) {
	return s.runGate(gateRequest(KindDReLU, label, len(x), 0, ell), x)
}

// reluTruncOpening prepares ReLU(z) >> shift on the shared z (signed,
// ell bits) with one opening, the fused gate of KindReLUTrunc. With
// N = 2^ell, H = 2^(ell−1), ẑ' = ẑ + H mod N, r = r_in mod N, f = shift:
//
//	z + H = ẑ' − r + N·w,  w = 1{ẑ' < r}
//	t := (ẑ' >> f) − K + 2^(ell−f)·w,  K = (r >> f) + 2^(ell−1−f)
//	  = floor(z/2^f) + 1{ẑ' mod 2^f < r mod 2^f}      (one-bit error)
//	d = DReLU(z) = A − B + (1 − q),  d·w = A − q·B
//
// with A = w = 1{ẑ' < r}, B = 1{ẑ' < r ⊕ H} and q = msb(r). Both
// comparisons follow from the public top bit p of ẑ' and one comparison
// c = 1{ẑ' mod H < r mod H}: for p = 1, A = q·c and B = (1−q)·c; for
// p = 0, A = q + (1−q)·c and B = (1−q) + q·c. Writing P = ẑ' >> f,
// T = 2^(ell−f), s = 1 − 2q, y = d·t becomes
//
//	p = 1:  y = −P·(c·s) + c·s·K + c·q·T + P·(1 − q) − (K − q·K)
//	p = 0:  y = P·q − q·K + T·q + (P + T)·(c·s) − c·s·K
//
// which is linear in one (ell−1)-bit DCF's shares of c·(s, s·K, q·T) and
// the dealer's shares of q, K and q·K: no communication besides opening ẑ.
// The result is 0 for z < 0 and floor(z/2^f) or one more (stochastic
// rounding) for z ≥ 0.
func (s *Session) reluTruncOpening(label string, z []uint64, shift uint, ell int, out *[]uint64) (opening, error) {
	req := reluTruncRequest(label, len(z), shift, ell)
	n := len(z)
	m, err := s.get(req, n, n, n, n)
	if err != nil {
		return opening{}, err
	}
	masked := make([]uint64, n)
	ring.AddVec(masked, z, m.Vecs[0].Data)
	return opening{masked: masked, finish: func(zh []uint64) error {
		l := m.dcfKeys().Bits() + 1
		half := uint64(1) << uint(l-1)
		xp := make([]uint64, n)
		xl := make([]uint64, n)
		for i, v := range zh {
			xp[i] = low(v+half, l)
			xl[i] = low(xp[i], l-1)
		}
		cv, err := fss.EvalDCF(int(s.Party), m.dcfKeys(), xl)
		if err != nil {
			return fmt.Errorf("mpc: %v %q: %w", req.Kind, req.Label, err)
		}
		m.Release() // the keys are spent: recycle their memory
		q, k, qk := m.Vecs[1].Data, m.Vecs[2].Data, m.Vecs[3].Data
		tp := uint64(1) << (uint(l) - shift)
		one := uint64(1 - s.Party) // party 0 adds public constants
		y := make([]uint64, n)
		for i := range y {
			p := xp[i] >> shift
			cs, csk, cqt := cv[3*i], cv[3*i+1], cv[3*i+2]
			if xp[i]>>uint(l-1) == 1 {
				y[i] = -(p * cs) + csk + cqt + p*(one-q[i]) - (k[i] - qk[i])
			} else {
				y[i] = p*q[i] - qk[i] + tp*q[i] + (p+tp)*cs - csk
			}
		}
		*out = y
		return nil
	}}, nil
}

// ReLUTrunc returns shares of ReLU(z) >> shift for signed z in
// [−2^(ell−1), 2^(ell−1)) (ell 0 means 64) in one round, 8 bytes per
// element each way: 0 for z < 0, floor(z/2^shift) or one more (stochastic
// rounding) for z ≥ 0. This fuses the truncation after a linear layer with
// the following ReLU.
func (s *Session) ReLUTrunc(label string, z []uint64, shift uint, ell int) ([]uint64, error) {
	var y []uint64
	op, err := s.reluTruncOpening(label, z, shift, ell, &y)
	if err != nil {
		return nil, err
	}
	if err := s.openAll("relu-trunc "+label, op); err != nil {
		return nil, err
	}
	return y, nil
}
