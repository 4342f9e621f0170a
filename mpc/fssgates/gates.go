// Package fssgates is the FSS protocol family of the dealer suite: the
// gates on shares of an mpc.Session built on function secret sharing
// (package fss) — exact truncation, ReLU, DReLU and the fused
// ReLU-and-truncation gate —, their key generation and their key payloads.
// Gates implements the core's plug point mpc.Gates (the ReLU positions of
// mpc.Session.Act and the comparisons of MaxPool); Trunc, ReLU, DReLU and
// ReLUTrunc run one gate in one round. Importing the package registers the
// generation and payload codecs of the material kinds it owns
// (KindTrunc, KindReLU, KindDReLU, KindReLUTrunc) with the correlations
// contract (corr.RegisterKind), so a dealer generates and a party decodes
// them.
//
// Every gate opens x + r_in (one round, 8 bytes per element each way) and
// evaluates its keys locally; docs/PROTOCOLS.md documents each gate.
package fssgates

import (
	"fmt"

	"github.com/autorep/autorep/fss"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// Gates are the FSS comparison gates of the core's layers (mpc.Gates).
type Gates struct{}

// ReLU prepares the FSS ReLU gate on x (see mpc.Gates).
func (Gates) ReLU(s *mpc.Session, src corr.Provider, label string, x []uint64, ell int, out *[]uint64) (mpc.Opening, error) {
	return gate(s, src, GateRequest(KindReLU, label, len(x), 0, ell), x, out)
}

// ReLUTrunc prepares the fused ReLU-truncation gate on z (see mpc.Gates
// and ReLUTrunc).
func (Gates) ReLUTrunc(s *mpc.Session, src corr.Provider, label string, z []uint64, shift uint, ell int, out *[]uint64) (mpc.Opening, error) {
	return reluTruncOpening(s, src, label, z, shift, ell, out)
}

// ReLUNeeds is the one ReLU request of n values (see mpc.Gates).
func (Gates) ReLUNeeds(label string, n, ell int) []corr.Request {
	return []corr.Request{GateRequest(KindReLU, label, n, 0, ell)}
}

// ReLUTruncNeeds is the one fused ReLU-truncation request of n values
// (see mpc.Gates).
func (Gates) ReLUTruncNeeds(label string, n int, shift uint, ell int) []corr.Request {
	return []corr.Request{ReLUTruncRequest(label, n, shift, ell)}
}

// GateRequest is the request of a gate of kind (KindReLU, KindDReLU,
// KindTrunc) on n values of ell bits.
func GateRequest(kind corr.MaterialKind, label string, n int, shift uint, ell int) corr.Request {
	return corr.Request{Kind: kind, Label: label, N: n, Shift: shift, Ell: ell}
}

// ReLUTruncRequest is the request of a fused ReLU-truncation gate on n
// values of ell bits (the ReLU positions of an mpc.ActLayer).
func ReLUTruncRequest(label string, n int, shift uint, ell int) corr.Request {
	return corr.Request{Kind: KindReLUTrunc, Label: label, N: n, Shift: shift, Ell: ell}
}

// TruncLayer is an exact (FSS) truncation by Shift of Positions values per
// image (Trunc): an mpc.Layer whose material this family names.
type TruncLayer struct {
	Label     string
	Positions int
	Shift     uint
	// Ell is the input width (0: 64).
	Ell int
}

// SetupNeeds is empty: truncation has no setup.
func (l *TruncLayer) SetupNeeds(mpc.Party) []corr.Request { return nil }

// Needs is one truncation gate for the n images.
func (l *TruncLayer) Needs(n int) []corr.Request {
	return []corr.Request{GateRequest(KindTrunc, l.Label, n*l.Positions, l.Shift, l.Ell)}
}

// gate prepares an FSS gate evaluation on the shared x: it fetches the
// material from src and returns the opening of x + r_in whose finisher stores the
// shares of the gate's output in *out.
func gate(s *mpc.Session, src corr.Provider, req corr.Request, x []uint64, out *[]uint64) (mpc.Opening, error) {
	m, err := s.Fetch(src, req, len(x))
	if err != nil {
		return mpc.Opening{}, err
	}
	masked := make([]uint64, len(x))
	ring.AddVec(masked, x, m.Vecs[0].Data)
	party := int(s.Party)
	return mpc.Opening{Masked: masked, Finish: func(xhat []uint64) error {
		var y []uint64
		var err error
		keys := gateKeys(m)
		switch req.Kind {
		case KindTrunc:
			y, err = fss.EvalTrunc(party, keys, xhat)
		case KindReLU:
			y, err = fss.EvalReLU(party, keys, xhat)
		case KindDReLU:
			y, err = fss.EvalDReLU(party, keys, xhat)
		default:
			err = fmt.Errorf("fssgates: %v is not a gate", req.Kind)
		}
		if err != nil {
			return fmt.Errorf("fssgates: %v %q: %w", req.Kind, req.Label, err)
		}
		*out = y
		return nil
	}}, nil
}

// runGate evaluates one gate in one round.
func runGate(s *mpc.Session, src corr.Provider, req corr.Request, x []uint64) ([]uint64, error) {
	var y []uint64
	op, err := gate(s, src, req, x, &y)
	if err != nil {
		return nil, err
	}
	if err := s.OpenAll(req.Kind.String()+" "+req.Label, op); err != nil {
		return nil, err
	}
	return y, nil
}

// Trunc returns shares of x >> shift (arithmetic shift, exactly
// floor(x/2^shift)) for signed x in [−2^(ell−1), 2^(ell−1)) (ell 0 means
// 64), with the FSS truncation gate: one round, 8 bytes per element each
// way. There is no failure probability inside that range.
func Trunc(s *mpc.Session, src corr.Provider, label string, x []uint64, shift uint, ell int) ([]uint64, error) {
	return runGate(s, src, GateRequest(KindTrunc, label, len(x), shift, ell), x)
}

// ReLU returns shares of max(x, 0) for signed x in [−2^(ell−1), 2^(ell−1))
// with the FSS ReLU gate: one round, 8 bytes per element each way.
func ReLU(s *mpc.Session, src corr.Provider, label string, x []uint64, ell int) ([]uint64, error) {
	return runGate(s, src, GateRequest(KindReLU, label, len(x), 0, ell), x)
}

// DReLU returns arithmetic shares of the bit 1{x ≥ 0}: one round, 8 bytes
// per element each way.
func DReLU(s *mpc.Session, src corr.Provider, label string, x []uint64, ell int) ([]uint64, error) {
	return runGate(s, src, GateRequest(KindDReLU, label, len(x), 0, ell), x)
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
// the dealer's shares of q, K and q·K (genReLUTrunc): no communication
// besides opening ẑ. The result is 0 for z < 0 and floor(z/2^f) or one
// more (stochastic rounding) for z ≥ 0.
func reluTruncOpening(s *mpc.Session, src corr.Provider, label string, z []uint64, shift uint, ell int, out *[]uint64) (mpc.Opening, error) {
	req := ReLUTruncRequest(label, len(z), shift, ell)
	n := len(z)
	m, err := s.Fetch(src, req, n, n, n, n)
	if err != nil {
		return mpc.Opening{}, err
	}
	masked := make([]uint64, n)
	ring.AddVec(masked, z, m.Vecs[0].Data)
	party := s.Party
	return mpc.Opening{Masked: masked, Finish: func(zh []uint64) error {
		keys := dcfKeys(m)
		l := keys.Bits() + 1
		half := uint64(1) << uint(l-1)
		xp := make([]uint64, n)
		xl := make([]uint64, n)
		for i, v := range zh {
			xp[i] = low(v+half, l)
			xl[i] = low(xp[i], l-1)
		}
		cv, err := fss.EvalDCF(int(party), keys, xl)
		if err != nil {
			return fmt.Errorf("fssgates: %v %q: %w", req.Kind, req.Label, err)
		}
		m.Release() // the keys are spent: recycle their memory
		q, k, qk := m.Vecs[1].Data, m.Vecs[2].Data, m.Vecs[3].Data
		tp := uint64(1) << (uint(l) - shift)
		one := uint64(1 - party) // party 0 adds public constants
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
func ReLUTrunc(s *mpc.Session, src corr.Provider, label string, z []uint64, shift uint, ell int) ([]uint64, error) {
	var y []uint64
	op, err := reluTruncOpening(s, src, label, z, shift, ell, &y)
	if err != nil {
		return nil, err
	}
	if err := s.OpenAll("relu-trunc "+label, op); err != nil {
		return nil, err
	}
	return y, nil
}

// low returns the low n bits of v (1 ≤ n ≤ 64).
func low(v uint64, n int) uint64 {
	if n >= 64 {
		return v
	}
	return v & (1<<uint(n) - 1)
}
