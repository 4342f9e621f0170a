package mpc

import (
	"fmt"

	"github.com/autorep/autorep/fss"
	"github.com/autorep/autorep/ring"
)

// PolyKey is one party's per-session state of a polynomial activation
// p_c(x) = c2·x² + c1·x + c0 with secret per-channel coefficients. Both
// parties hold the masked coefficients ĉ1 = c1 − a1, ĉ2 = c2 − a2 over
// Z_2^128 (uniform to the client; the masks a1, a2 come from the dealer to
// the server); the server also holds c0, c1, c2.
type PolyKey struct {
	Label string
	C     int
	hat   []uint64 // [c][ĉ1 (lo, hi), ĉ2 (lo, hi)]
	coef  []uint64 // server only: [c][c0, c1, c2] (scales 3f, 2f, f), signed
}

// maxPolyFrac is the largest precision the polynomial supports: c0 is
// encoded with 3f fractional bits in 64 bits.
const maxPolyFrac = 20

// SetupPoly runs the once-per-session part of a polynomial layer with C
// channels. The server passes coef[c] = (c0, c1[, c2]) as reals (degree ≤
// 2); they are encoded with c2 at f, c1 at 2f and c0 at 3f fractional bits
// so that p(x) for x at f bits is exact at 3f bits. The server fetches the
// coefficient masks and sends ĉ1, ĉ2 (32 bytes per channel, one message,
// offline). The client passes nil and receives them.
func (s *Session) SetupPoly(label string, C int, coef [][]float64) (*PolyKey, error) {
	if C <= 0 || C > maxDim {
		return nil, fmt.Errorf("mpc: poly %q: %d channels", label, C)
	}
	f := s.frac()
	if f > maxPolyFrac {
		return nil, fmt.Errorf("mpc: poly %q: %d fractional bits, at most %d", label, f, maxPolyFrac)
	}
	k := &PolyKey{Label: label, C: C}
	if s.Party == Client {
		h, err := s.recvVec("poly setup "+label, 4*C)
		if err != nil {
			return nil, err
		}
		k.hat = h
		return k, nil
	}
	if len(coef) != C {
		return nil, fmt.Errorf("mpc: poly %q: coefficients for %d channels, want %d", label, len(coef), C)
	}
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
	m, err := s.get(Request{Kind: KindCoefMask, Label: label, Act: ActSpec{C: C}}, 4*C)
	if err != nil {
		return nil, err
	}
	a := m.Vecs[0].Data
	k.hat = make([]uint64, 4*C)
	for c := 0; c < C; c++ {
		put(k.hat, 2*c, from64(k.coef[3*c+1]).sub(at(a, 2*c)))
		put(k.hat, 2*c+1, from64(k.coef[3*c+2]).sub(at(a, 2*c+1)))
	}
	if err := s.sendVec("poly setup "+label, k.hat); err != nil {
		return nil, err
	}
	return k, nil
}

// polyOpening prepares the evaluation of p at the polynomial positions of
// spec: x holds their shares (scale f) in ActSpec order, ch their channels.
// After opening x̂ = x + r (mod 2^64) the parties evaluate, without further
// messages, shares over Z_2^128 of V = c2·x² + c1·x + c0 (scale 3f) from
//
//	x = u − r + 2^64·w,  u = (x̂ + 2^62 mod 2^64) − 2^62,  w = 1{x̂ + 2^62 < r}
//	V ≡ c2u² + c1u + c0 − 2u·(c2r) + c2r² − c1r + 2^64·w·(2c2(u − r) + c1)  (mod 2^128)
//
// where c·r = ĉ·r + a·r, c·r² = ĉ·r² + a·r² use the dealer's shares of r,
// r², a2r, a2r², a1r and the w terms the DCF keys' shares of w·(1, a2,
// a1 − 2a2r, r); the server adds the terms it knows in the clear. Each
// party then truncates its 128-bit share locally by 2f and keeps the low
// 64 bits: shares of floor(V/2^2f) or one more, wrong (by 2^(128−2f))
// only with probability below |V|/2^127 ≤ 2^−64 for |p(x)| < 2^15.
func (s *Session) polyOpening(k *PolyKey, spec ActSpec, x []uint64, ch []int, out *[]uint64) (opening, error) {
	if k == nil {
		return opening{}, fmt.Errorf("mpc: polynomial layer without a PolyKey")
	}
	if k.C != spec.C {
		return opening{}, fmt.Errorf("mpc: poly %q has %d channels, layer %d", k.Label, k.C, spec.C)
	}
	n := len(x)
	m, err := s.get(Request{Kind: KindPoly, Label: k.Label, Act: spec}, n, 2*n, 2*n, 2*n, 2*n, 2*n)
	if err != nil {
		return opening{}, err
	}
	masked := make([]uint64, n)
	ring.AddVec(masked, x, m.Vecs[0].Data)
	f2 := 2 * s.frac()
	return opening{masked: masked, finish: func(xh []uint64) error {
		const off = uint64(1) << 62
		xo := make([]uint64, n)
		for i, v := range xh {
			xo[i] = v + off
		}
		wv, err := fss.EvalDCF(int(s.Party), m.DCF, xo)
		if err != nil {
			return fmt.Errorf("mpc: poly %q: %w", k.Label, err)
		}
		r, r2, a2r, a2r2, a1r := m.Vecs[1].Data, m.Vecs[2].Data, m.Vecs[3].Data, m.Vecs[4].Data, m.Vecs[5].Data
		y := make([]uint64, n)
		for i, c := range ch {
			h1, h2 := at(k.hat, 2*c), at(k.hat, 2*c+1)
			u := u128{xo[i], 0}.sub(u128{off, 0})
			ri := at(r, i)
			c2r := h2.mul(ri).add(at(a2r, i))
			v := h2.mul(at(r2, i)).add(at(a2r2, i)).sub(h1.mul(ri)).sub(at(a1r, i))
			v = v.sub(u.add(u).mul(c2r))
			w := wv[polyDCFPayload*i:]
			t := (2*u.lo*h2.lo+h1.lo)*w[0] + 2*u.lo*w[1] + w[2] - 2*h2.lo*w[3]
			v.hi += t
			if s.Party == Server {
				c0, c1, c2 := from64(k.coef[3*c]), from64(k.coef[3*c+1]), from64(k.coef[3*c+2])
				v = v.add(c2.mul(u).add(c1).mul(u)).add(c0)
				y[i] = v.sar(f2).lo
			} else {
				y[i] = v.neg().sar(f2).neg().lo
			}
		}
		*out = y
		return nil
	}}, nil
}

// Poly evaluates the polynomial activation at every position of x [N, C,
// HW] (scale f) and returns shares of p(x) at scale f (floor or one more,
// see polyOpening): one round, 8 bytes per element each way.
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
//	round 1: ReLU positions: the fused ReLU + truncation gate (ReLUTrunc);
//	         polynomial positions: exact truncation of z by f; one message
//	         each way for both (8 B per position each way)
//	round 2: only with polynomial positions: the polynomial's opening
//	         (8 B per polynomial position each way)
//
// So a ReLU, truncation included, costs 16 bytes and a polynomial 32 bytes
// (16 for its truncation, 16 for the polynomial); the layer takes 1 round
// without polynomial positions and 2 with. Outputs are floor(y·2^f) or one
// more (ReLU: stochastic rounding of the truncation; polynomial: local
// truncation of its 128-bit shares). Gate inputs must fit the session's
// Ell bits (64 by default).
func (s *Session) Act(label string, k *PolyKey, spec ActSpec, z []uint64) ([]uint64, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if len(z) != spec.Len() {
		return nil, fmt.Errorf("mpc: act %q: %d values for a %dx%dx%d layer", label, len(z), spec.N, spec.C, spec.HW)
	}
	f := s.frac()
	relu, poly, ch := spec.split()
	if len(poly) > 0 && k == nil {
		return nil, fmt.Errorf("mpc: act %q: polynomial positions without a PolyKey", label)
	}
	var yr, xp, yp []uint64
	var ops []opening
	if len(relu) > 0 {
		op, err := s.reluTruncOpening(label+"/relu", gather(z, relu), f, s.Ell, &yr)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	if len(poly) > 0 {
		op, err := s.gate(Request{Kind: KindTrunc, Label: label + "/in", Shift: f, Ell: s.Ell}, gather(z, poly), &xp)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	if err := s.openAll("act "+label, ops...); err != nil {
		return nil, err
	}
	if len(poly) > 0 {
		op, err := s.polyOpening(k, spec, xp, ch, &yp)
		if err != nil {
			return nil, err
		}
		if err := s.openAll("act poly "+label, op); err != nil {
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
