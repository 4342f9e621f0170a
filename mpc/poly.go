package mpc

import (
	"fmt"

	"github.com/autorep/autorep/ring"
)

// PolyKey is one party's per-session state of a polynomial activation
// p_c(x) = c2·x² + c1·x + c0 with secret per-channel coefficients. Both
// parties hold the masked coefficients ĉ1 = c1 − a1, ĉ2 = c2 − a2 (uniform
// to the client; the masks a1, a2 come from the dealer to the server); the
// server also holds c0, c1, c2.
type PolyKey struct {
	Label string
	C     int
	hat   []uint64 // [c][ĉ1, ĉ2]
	coef  []uint64 // server only: [c][c0, c1, c2] (scales 3f, 2f, f)
}

// SetupPoly runs the once-per-session part of a polynomial layer with C
// channels. The server passes coef[c] = (c0, c1[, c2]) as reals (degree ≤
// 2); they are encoded with c2 at f, c1 at 2f and c0 at 3f fractional bits
// so that p(x) for x at f bits comes out at 3f bits. The server fetches
// the coefficient masks and sends ĉ1, ĉ2 (16 bytes per channel, one
// message, offline). The client passes nil and receives them.
func (s *Session) SetupPoly(label string, C int, coef [][]float64) (*PolyKey, error) {
	if C <= 0 || C > maxDim {
		return nil, fmt.Errorf("mpc: poly %q: %d channels", label, C)
	}
	k := &PolyKey{Label: label, C: C}
	if s.Party == Client {
		h, err := s.recvVec("poly setup "+label, 2*C)
		if err != nil {
			return nil, err
		}
		k.hat = h
		return k, nil
	}
	if len(coef) != C {
		return nil, fmt.Errorf("mpc: poly %q: coefficients for %d channels, want %d", label, len(coef), C)
	}
	f := s.frac()
	k.coef = make([]uint64, 3*C)
	for c, cs := range coef {
		if len(cs) == 0 || len(cs) > 3 {
			return nil, fmt.Errorf("mpc: poly %q channel %d: %d coefficients, want 1..3 (degree ≤ 2)", label, c, len(cs))
		}
		for d, v := range cs {
			e, err := ring.EncodeChecked(v, (3-uint(d))*f)
			if err != nil {
				return nil, fmt.Errorf("mpc: poly %q channel %d coefficient %d: %w", label, c, d, err)
			}
			k.coef[3*c+d] = e
		}
	}
	m, err := s.get(Request{Kind: KindCoefMask, Label: label, Act: ActSpec{C: C}}, 2*C)
	if err != nil {
		return nil, err
	}
	a := m.Vecs[0].Data
	k.hat = make([]uint64, 2*C)
	for c := 0; c < C; c++ {
		k.hat[2*c] = k.coef[3*c+1] - a[2*c]
		k.hat[2*c+1] = k.coef[3*c+2] - a[2*c+1]
	}
	if err := s.sendVec("poly setup "+label, k.hat); err != nil {
		return nil, err
	}
	return k, nil
}

// polyOpening prepares the evaluation of p at the polynomial positions of
// spec: x holds their shares (scale f) in ActSpec order, ch their channels.
// Opening x̂ = x + r, both parties compute locally
//
//	p(x) = c2x̂² + c1x̂ + c0 − 2x̂·(c2r) + c2r² − c1r,
//
// with c·r = ĉ·r + a·r from the masked coefficients and the dealer's shares
// of r, r², a2r, a2r², a1r; the server adds the terms it knows in the clear.
func (s *Session) polyOpening(k *PolyKey, spec ActSpec, x []uint64, ch []int, out *[]uint64) (opening, error) {
	if k == nil {
		return opening{}, fmt.Errorf("mpc: polynomial layer without a PolyKey")
	}
	if k.C != spec.C {
		return opening{}, fmt.Errorf("mpc: poly %q has %d channels, layer %d", k.Label, k.C, spec.C)
	}
	n := len(x)
	m, err := s.get(Request{Kind: KindPoly, Label: k.Label, Act: spec}, n, n, n, n, n)
	if err != nil {
		return opening{}, err
	}
	r := m.Vecs[0].Data
	masked := make([]uint64, n)
	ring.AddVec(masked, x, r)
	return opening{masked: masked, finish: func(xh []uint64) error {
		r2, a2r, a2r2, a1r := m.Vecs[1].Data, m.Vecs[2].Data, m.Vecs[3].Data, m.Vecs[4].Data
		y := make([]uint64, n)
		for i, c := range ch {
			h1, h2 := k.hat[2*c], k.hat[2*c+1]
			c2r := h2*r[i] + a2r[i]
			v := -(2 * xh[i] * c2r) + h2*r2[i] + a2r2[i] - h1*r[i] - a1r[i]
			if s.Party == Server {
				c0, c1, c2 := k.coef[3*c], k.coef[3*c+1], k.coef[3*c+2]
				v += (c2*xh[i]+c1)*xh[i] + c0
			}
			y[i] = v
		}
		*out = y
		return nil
	}}, nil
}

// Poly evaluates the polynomial activation at every position of x [N, C,
// HW] (scale f) and returns shares of p(x) at scale 3f (not truncated):
// one round, 8 bytes per element each way.
func (s *Session) Poly(k *PolyKey, spec ActSpec, x []uint64) ([]uint64, error) {
	spec.ReLU = nil
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if len(x) != spec.Len() {
		return nil, fmt.Errorf("mpc: poly: %d values for a %dx%dx%d layer", len(x), spec.N, spec.C, spec.HW)
	}
	_, _, ch := spec.split()
	var y []uint64
	op, err := s.polyOpening(k, spec, x, ch, &y)
	if err != nil {
		return nil, err
	}
	if err := s.openAll("poly "+k.Label, op); err != nil {
		return nil, err
	}
	return y, nil
}

// Act evaluates a mixed activation layer: z [N, C, HW] holds shares of a
// linear layer's output at scale 2f; positions with spec.ReLU[i] get
// ReLU, the others the layer's polynomial (k may be nil if there are
// none). It returns shares of the activation at scale f. Messages:
//
//	round 1: exact truncation of z by f at all positions (FSS, 8 B each way)
//	round 2: ReLU gate at ReLU positions and the polynomial's opening at
//	         polynomial positions, in one message (8 B each way)
//	round 3: only if there are polynomial positions: exact truncation of
//	         p(x) by 2f at polynomial positions (8 B each way)
//
// so a ReLU costs 32 bytes in 2 rounds and a polynomial 48 bytes (16 for
// the polynomial itself, 16 for the truncation shared with the ReLUs, 16
// for rescaling its output), in 3 rounds per layer when it has any.
// Gate inputs must fit the session's Ell bits (64 by default).
func (s *Session) Act(label string, k *PolyKey, spec ActSpec, z []uint64) ([]uint64, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if len(z) != spec.Len() {
		return nil, fmt.Errorf("mpc: act %q: %d values for a %dx%dx%d layer", label, len(z), spec.N, spec.C, spec.HW)
	}
	f := s.frac()
	x, err := s.Trunc(label+"/in", z, f, s.Ell)
	if err != nil {
		return nil, err
	}
	relu, poly, ch := spec.split()
	xr, xp := gather(x, relu), gather(x, poly)
	var yr, yp []uint64
	var ops []opening
	if len(relu) > 0 {
		op, err := s.gate(Request{Kind: KindReLU, Label: label + "/relu", Ell: s.Ell}, xr, &yr)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	if len(poly) > 0 {
		op, err := s.polyOpening(k, spec, xp, ch, &yp)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	if err := s.openAll("act "+label, ops...); err != nil {
		return nil, err
	}
	if len(poly) > 0 {
		if yp, err = s.Trunc(label+"/out", yp, 2*f, 64); err != nil {
			return nil, err
		}
	}
	y := make([]uint64, len(z))
	scatter(y, relu, yr)
	scatter(y, poly, yp)
	return y, nil
}

func gather(x []uint64, idx []int) []uint64 {
	out := make([]uint64, len(idx))
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
