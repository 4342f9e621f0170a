package mpc

import (
	"fmt"

	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// PolyKey is one party's per-session state of a polynomial activation
// p_c(x) = c2·x² + c1·x + c0 with secret per-channel coefficients. Both
// parties hold the masked coefficients D1 = L1 − B1, D2 = C2 − B2 over
// Z_2^192 (uniform to the client; the masks B1, B2 come from the dealer
// to the server), where C2 is c2 encoded at f fractional bits and
// L1 = 2^f·C1 with C1 = c1 encoded at 2f; the server also holds c0, c1,
// c2.
type PolyKey struct {
	Label string
	C     int
	hat   []uint64  // [c][D1 (3 words), D2 (3 words)]
	coef  PolyCoefs // server only
}

// maxPolyFrac is the largest precision the polynomial supports: c0 is
// encoded with 3f fractional bits in 64 bits.
const maxPolyFrac = 20

// polyOffset is added to the activation input before its opening (see
// msbOffset).
const polyOffset = msbOffset

// polyWords is the number of words per position of each of the eight
// big-ring vectors of KindPoly material: r, r², B2·r, B2·r² − B1·r are
// shared over Z_2^192; M, M·r, B2·M and the last value divided by 2^64
// are only ever multiplied by 2^64 (or 2^65), so Z_2^128 shares suffice.
var polyWords = [8]int{3, 2, 3, 2, 3, 2, 3, 2}

// polyVecs is the number of big-ring vectors of KindPoly material.
const polyVecs = len(polyWords)

// PolyCoefs are the encoded coefficients of a per-channel polynomial
// activation p_c(x) = c2·x² + c1·x + c0: [c][c0, c1, c2] as signed 64-bit
// values with c0 at 3f, c1 at 2f and c2 at f fractional bits. They are
// encoded and range-checked once (EncodePolyCoefs, when a model is
// compiled); the secure protocol (SetupPolyCoefs) and the plaintext
// fixed-point reference (Eval) read the same values.
type PolyCoefs []uint64

// EncodePolyCoefs encodes coef[c] = (c0[, c1[, c2]]) (reals, degree ≤ 2;
// missing terms are 0) at f fractional bits (f ≤ 20). A coefficient that
// does not fit is an error.
func EncodePolyCoefs(coef [][]float64, f uint) (PolyCoefs, error) {
	if f > maxPolyFrac {
		return nil, fmt.Errorf("mpc: polynomial with %d fractional bits, at most %d", f, maxPolyFrac)
	}
	out := make(PolyCoefs, 3*len(coef))
	for c, cs := range coef {
		if len(cs) == 0 || len(cs) > 3 {
			return nil, fmt.Errorf("mpc: polynomial channel %d: %d coefficients, want 1..3 (degree ≤ 2)", c, len(cs))
		}
		for d, v := range cs {
			e, err := ring.EncodeChecked(v, (3-uint(d))*f)
			if err != nil {
				return nil, fmt.Errorf("mpc: polynomial channel %d coefficient %d: %w", c, d, err)
			}
			out[3*c+d] = e
		}
	}
	return out, nil
}

// Channels is the number of channels.
func (p PolyCoefs) Channels() int { return len(p) / 3 }

// Eval is the plaintext fixed-point value of channel c's polynomial at t
// (scale f): floor((C2·t² + C1·t + C0) / 2^2f) at scale f, computed in
// Z_2^192 like the protocol, so exact for |t| < 2^63.
func (p PolyCoefs) Eval(c int, t uint64, f uint) uint64 {
	u := big64(t)
	v := big64(p[3*c+2]).mul(u).add(big64(p[3*c+1])).mul(u).add(big64(p[3*c]))
	return v.sar(2 * f)[0]
}

// SetupPoly is SetupPolyCoefs with the server's coefficients given as reals
// (EncodePolyCoefs at the session's precision); the client passes nil.
func (s *Session) SetupPoly(src corr.Provider, label string, C int, coef [][]float64) (*PolyKey, error) {
	var enc PolyCoefs
	if s.Party == Server {
		var err error
		if enc, err = EncodePolyCoefs(coef, s.frac()); err != nil {
			return nil, fmt.Errorf("mpc: poly %q: %w", label, err)
		}
	}
	return s.SetupPolyCoefs(src, label, C, enc)
}

// SetupPolyCoefs runs the once-per-session part of a polynomial layer with
// C channels. The server passes the coefficients encoded at the session's
// precision, fetches the coefficient masks and sends D1, D2 (48 bytes per
// channel, one message, offline). The client passes nil and receives them.
func (s *Session) SetupPolyCoefs(src corr.Provider, label string, C int, coef PolyCoefs) (*PolyKey, error) {
	if C <= 0 || C > corr.MaxDim {
		return nil, fmt.Errorf("mpc: poly %q: %d channels", label, C)
	}
	f := s.frac()
	if f > maxPolyFrac {
		return nil, fmt.Errorf("mpc: poly %q: %d fractional bits, at most %d", label, f, maxPolyFrac)
	}
	k := &PolyKey{Label: label, C: C}
	if s.Party == Client {
		h, err := s.recvVec("poly setup "+label, coefMaskWords*C)
		if err != nil {
			return nil, err
		}
		k.hat = h
		return k, nil
	}
	if len(coef) != 3*C {
		return nil, fmt.Errorf("mpc: poly %q: coefficients for %d channels, want %d", label, len(coef)/3, C)
	}
	k.coef = coef
	m, err := s.Fetch(src, coefMaskRequest(label, C), coefMaskWords*C)
	if err != nil {
		return nil, err
	}
	a := m.Vecs[0].Data
	k.hat = make([]uint64, coefMaskWords*C)
	for c := 0; c < C; c++ {
		put3(k.hat, 2*c, big64(k.coef[3*c+1]).shl(f).sub(at3(a, 2*c)))
		put3(k.hat, 2*c+1, big64(k.coef[3*c+2]).sub(at3(a, 2*c+1)))
	}
	if err := s.sendVec("poly setup "+label, k.hat); err != nil {
		return nil, err
	}
	return k, nil
}

// polyOpening prepares the evaluation of p at the polynomial positions of
// an activation layer: z holds their shares (scale 2f, |z| < 2^61) in
// ActSpec order, ch their channels. The parties open ẑ = z + 2^61 + r
// (mod 2^64) and evaluate, without further messages, shares over Z_2^192
// of
//
//	P = C2·z² + L1·z + L0 = 2^5f·p(z/2^2f)      (L1 = 2^f·C1, L0 = 2^2f·C0)
//
// from the exact integer identity (a = 1 − msb(ẑ), M = msb(r), public u)
//
//	z = u − r̃,  u = ẑ − 2^61,  r̃ = r − 2^64·a·M
//	P = C2u² + L1u + L0 − 2u·[C2·r̃] + [C2·r̃² − L1·r̃]
//	C2·r̃ = C2·r − 2^64·a·C2·M
//	C2·r̃² − L1·r̃ = C2·r² − L1·r + a·(2^128·C2·M − 2^65·C2·M·r + 2^64·L1·M)
//
// where every secret coefficient times a shared value is D·[v] + [B·v]
// (D public to both, B the server's mask), from the dealer's shares of r,
// M, r², M·r, B2·r, B2·M, B2·r² − B1·r and (2^128·B2·M − 2^65·B2·M·r +
// 2^64·B1·M)/2^64 (Z_2^128 shares for the values only used times 2^64,
// see polyWords); the server adds C2u² + L1u + L0, which it knows in the clear.
// Each party then truncates its share locally by 4f (party 0: floor,
// party 1: −floor(−·)) and keeps the low 64 bits: shares of floor(P/2^4f)
// or one more, wrong only with probability below |P|/2^191 per position.
func (s *Session) polyOpening(src corr.Provider, k *PolyKey, spec corr.ActSpec, z []uint64, ch []int, out *[]uint64) (Opening, error) {
	if k == nil {
		return Opening{}, fmt.Errorf("mpc: polynomial layer without a PolyKey")
	}
	if k.C != spec.C {
		return Opening{}, fmt.Errorf("mpc: poly %q has %d channels, layer %d", k.Label, k.C, spec.C)
	}
	n := len(z)
	lens := []int{n}
	for _, w := range polyWords {
		lens = append(lens, w*n)
	}
	m, err := s.Fetch(src, polyRequest(k.Label, spec), lens...)
	if err != nil {
		return Opening{}, err
	}
	masked := make([]uint64, n)
	ring.AddVec(masked, z, m.Vecs[0].Data)
	if s.Party == Server {
		for i := range masked {
			masked[i] += polyOffset
		}
	}
	f := s.frac()
	party := s.Party
	return Opening{Masked: masked, Finish: func(zh []uint64) error {
		*out = polyEval(party, k, f, zh, ch, m.Vecs[1:])
		return nil
	}}, nil
}

// polyEval is the local part of the polynomial protocol (see polyOpening)
// for the opened values zh: v holds this party's shares of r, M, r², M·r,
// B2·r, B2·M, B2·r² − B1·r and 2^64·B2·M − 2·B2·M·r + B1·M (that is
// (2^128·B2·M − 2^65·B2·M·r + 2^64·B1·M) / 2^64), with the widths of
// polyWords.
func polyEval(party Party, k *PolyKey, f uint, zh []uint64, ch []int, v []corr.Vec) []uint64 {
	r, mm, r2, mr, e1, e2, e3, e4 := v[0].Data, v[1].Data, v[2].Data, v[3].Data, v[4].Data, v[5].Data, v[6].Data, v[7].Data
	y := make([]uint64, len(zh))
	off := bigU(polyOffset)
	for i, c := range ch {
		d1, d2 := at3(k.hat, 2*c), at3(k.hat, 2*c+1)
		u := bigU(zh[i]).sub(off)
		ri := at3(r, i)
		// t = [C2·r̃], q = [C2·r̃² − L1·r̃]
		t := d2.mul(ri).add(at3(e1, i))
		q := d2.mul(at3(r2, i)).sub(d1.mul(ri)).add(at3(e3, i))
		if zh[i]>>63 == 0 {
			mi := at2(mm, i)
			d2m := d2.mul(mi)
			t = t.sub(d2m.add(at2(e2, i)).shl(64))
			q = q.add(d2m.shl(64).sub(d2.mul(at2(mr, i)).shl(1)).add(d1.mul(mi)).add(at2(e4, i)).shl(64))
		}
		p := q.sub(u.shl(1).mul(t))
		if party == Server {
			c0, c1, c2 := big64(k.coef[3*c]), big64(k.coef[3*c+1]), big64(k.coef[3*c+2])
			p = p.add(c2.mul(u).add(c1.shl(f)).mul(u)).add(c0.shl(2 * f))
			y[i] = p.sar(4 * f)[0]
		} else {
			y[i] = p.neg().sar(4 * f).neg()[0]
		}
	}
	return y
}

// Poly evaluates the polynomial activation at every position of z [N, C,
// HW], which holds shares at scale 2f (a linear layer's output, |z| <
// 2^61), and returns shares of p(z/2^2f) at scale f (floor or one more,
// see polyOpening): one round, 8 bytes per element each way.
func (s *Session) Poly(src corr.Provider, k *PolyKey, spec corr.ActSpec, z []uint64) ([]uint64, error) {
	spec = spec.Unpartitioned()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if len(z) != spec.Len() {
		return nil, fmt.Errorf("mpc: poly: %d values for a %dx%dx%d layer", len(z), spec.N, spec.C, spec.HW)
	}
	_, _, ch := spec.Split()
	var y []uint64
	op, err := s.polyOpening(src, k, spec, z, ch, &y)
	if err != nil {
		return nil, err
	}
	if err := s.OpenAll("poly "+k.Label, op); err != nil {
		return nil, err
	}
	return y, nil
}

// Act evaluates a mixed activation layer: z [N, C, HW] holds shares of a
// linear layer's output at scale 2f; positions with spec.ReLU[i] get
// ReLU, the others the layer's polynomial (k may be nil if there are
// none). It returns shares of the activation at scale f. One message each
// way (8 B per position each way) carries both kinds of openings:
//
//	ReLU positions: the fused ReLU + truncation gate (Gates.ReLUTrunc);
//	polynomial positions: ẑ = z + 2^61 + r, evaluated at scale 5f in
//	Z_2^192 and truncated locally (polyOpening)
//
// So every position, truncation included, costs 16 bytes and the layer 1
// round. Outputs are floor(y·2^f) or one more (ReLU: stochastic rounding
// of the truncation; polynomial: local truncation of its 192-bit shares).
// ReLU inputs must fit the session's Ell bits (64 by default), polynomial
// inputs |z| < 2^61. If the layer was prepared with PreopenAct, only the
// server sends (8 B per position).
func (s *Session) Act(src corr.Provider, label string, k *PolyKey, spec corr.ActSpec, z []uint64) ([]uint64, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if len(z) != spec.Len() {
		return nil, fmt.Errorf("mpc: act %q: %d values for a %dx%dx%d layer", label, len(z), spec.N, spec.C, spec.HW)
	}
	if pa, ok := s.preAct[label]; ok {
		delete(s.preAct, label)
		return s.actPreopened(src, label, k, spec, z, pa)
	}
	p, err := s.newActPlan(src, label, k, spec, z)
	if err != nil {
		return nil, err
	}
	if err := s.OpenAll("act "+label, p.ops...); err != nil {
		return nil, err
	}
	return p.result(), nil
}

// actPlan is an activation layer's openings with their material fetched.
type actPlan struct {
	ops        []Opening
	relu, poly []int
	yr, yp     []uint64
	n          int
}

// newActPlan fetches the material of Act(label, k, spec, ·) and prepares
// the openings of z (this party's shares).
func (s *Session) newActPlan(src corr.Provider, label string, k *PolyKey, spec corr.ActSpec, z []uint64) (*actPlan, error) {
	relu, poly, ch := spec.Split()
	if len(poly) > 0 && k == nil {
		return nil, fmt.Errorf("mpc: act %q: polynomial positions without a PolyKey", label)
	}
	p := &actPlan{relu: relu, poly: poly, n: len(z)}
	if len(relu) > 0 {
		g, err := s.gates("act " + label)
		if err != nil {
			return nil, err
		}
		op, err := g.ReLUTrunc(s, src, label+"/relu", gather(z, relu), s.frac(), s.Ell, &p.yr)
		if err != nil {
			return nil, err
		}
		p.ops = append(p.ops, op)
	}
	if len(poly) > 0 {
		op, err := s.polyOpening(src, k, spec, gather(z, poly), ch, &p.yp)
		if err != nil {
			return nil, err
		}
		p.ops = append(p.ops, op)
	}
	return p, nil
}

// result assembles the outputs after the finishers ran.
func (p *actPlan) result() []uint64 {
	y := make([]uint64, p.n)
	scatter(y, p.relu, p.yr)
	scatter(y, p.poly, p.yp)
	return y
}

// gather returns x at the indices idx.
func gather[T any](x []T, idx []int) []T {
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = x[j]
	}
	return out
}

func scatter(dst []uint64, idx []int, v []uint64) {
	for i, j := range idx {
		dst[j] = v[i]
	}
}
