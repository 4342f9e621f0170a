package mpc_test

// The privacy properties of internal/privacytest applied to every protocol
// of the dealer suite: each case runs one protocol (or a small network)
// between the two parties in fresh sessions, recording every message each
// party receives and every item of material its provider gives it.

import (
	"encoding/binary"
	"github.com/autorep/autorep/mpc/dealer"
	"sync"
	"testing"

	"github.com/autorep/autorep/internal/privacytest"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/mpc/internal/mpctest"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// recProvider records the material a party receives: its encoding (what a
// network dealer sends) and its explicit vectors (seeded vectors travel as
// seeds; FSS keys are pseudo-random but not uniform byte by byte).
type recProvider struct {
	corr.Provider
	mu       sync.Mutex
	material [][]byte
	uniform  [][]uint64
}

func (p *recProvider) Get(req corr.Request) (*corr.Material, error) {
	m, err := p.Provider.Get(req)
	if err != nil || m == nil {
		return m, err
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.material = append(p.material, b)
	for _, v := range m.Vecs {
		if v.Seed == nil {
			p.uniform = append(p.uniform, append([]uint64(nil), v.Data...))
		}
	}
	return m, nil
}

// party is one party's side of a recorded run.
type party struct {
	s   *mpc.Session
	src corr.Provider // its dealer material
	rec *privacytest.Recorder
	out []uint64
	// secrets the peer must never see (filled by the run).
	secrets []privacytest.Secret
}

// secret adds named secret words to the party's list.
func (p *party) secret(name string, w []uint64) {
	p.secrets = append(p.secrets, privacytest.Secret{Name: name, Words: append([]uint64(nil), w...)})
}

// runViews runs f as both parties of a new session of a dealer seeded by
// seed, over a pipe, recording what each receives, and returns the views
// (with the secrets f declared) and f's outputs.
func runViews(t testing.TB, seed uint64, f func(p *party) error) ([2]privacytest.View, [2]*party) {
	t.Helper()
	var sd ring.Seed
	binary.LittleEndian.PutUint64(sd[:], seed)
	sd[15] = 0x7e
	p0, p1 := dealer.LocalProviders(dealer.NewGenerator(sd))
	provs := [2]*recProvider{{Provider: p0}, {Provider: p1}}
	c0, c1 := transport.Pipe()
	recs := [2]*privacytest.Recorder{privacytest.NewRecorder(c0), privacytest.NewRecorder(c1)}
	var parties [2]*party
	mpctest.Run(t, [2]transport.Conn{recs[0], recs[1]}, [2]corr.Provider{provs[0], provs[1]}, func(s *mpc.Session, src corr.Provider) error {
		parties[s.Party] = &party{s: s, src: src, rec: recs[s.Party]}
		return f(parties[s.Party])
	})
	var v [2]privacytest.View
	for i := range 2 {
		v[i] = privacytest.View{Msgs: recs[i].Messages(0), Material: provs[i].material,
			Uniform: provs[i].uniform, Secrets: parties[i].secrets}
	}
	return v, parties
}

// secretVals returns n signed values of 12 to 24 bits (fixed-point
// weights, inputs and shares of realistic size), none below 2^8 in
// magnitude, chosen by seed.
func secretVals(n int, seed uint64) []uint64 {
	var sd ring.Seed
	binary.LittleEndian.PutUint64(sd[:], seed)
	sd[14] = 0x5e
	prg := ring.NewPRG(sd)
	v := make([]uint64, n)
	prg.Uint64s(v)
	for i, x := range v {
		bits := 12 + x%13
		m := int64(x>>8) >> (56 - bits) // signed, |m| < 2^(bits−1)
		if m >= 0 && m < 256 {
			m += 256
		} else if m < 0 && m > -256 {
			m -= 256
		}
		v[i] = uint64(m)
	}
	return v
}

// structuredShares gives each party a share of realistic size (not
// uniform), so that a share sent unmasked is visible to the uniformity
// tests; each share is its owner's secret.
func structuredShares(p *party, n int, seed uint64) []uint64 {
	x := secretVals(n, seed*2+uint64(p.s.Party))
	p.secret("input share", x)
	return x
}

// polyCoefsVariant returns per-channel DaPa-like coefficients (c0, c1, c2)
// of variant v whose encodings are all at least 2^8 in magnitude.
func polyCoefsVariant(C int, v int) [][]float64 {
	co := make([][]float64, C)
	for c := range co {
		x := float64(c+1) / float64(C+1)
		s := 1 - 2*float64((c+v)%2)
		co[c] = []float64{0.1 + 0.3*x + 0.05*float64(v), s * (0.3 + 0.6*x), 0.2 + 1.1*x - 0.07*float64(v)}
	}
	return co
}

// polySecrets lists the server's coefficient encodings as they could
// appear on the wire: C2 (f), C1 (2f), L1 = 2^f·C1, C0 (3f), L0 = 2^2f·C0
// (low 64 bits of the Z_2^192 values).
func polySecrets(p *party, co [][]float64) {
	var w []uint64
	for _, cs := range co {
		c0, c1, c2 := ring.Encode(cs[0], 3*frac), ring.Encode(cs[1], 2*frac), ring.Encode(cs[2], frac)
		w = append(w, c2, c1, c1<<frac, c0, c0<<(2*frac))
	}
	p.secret("polynomial coefficient", w)
}

// linearSetup runs SetupLinear with the variant's weights and bias (the
// server's secrets).
func linearSetup(p *party, label string, spec corr.LinearSpec, v int, seed uint64) (*mpc.LinearKey, error) {
	if p.s.Party == mpc.Client {
		return p.s.SetupLinear(p.src, label, spec, nil, nil)
	}
	w := secretVals(spec.WLen(), seed+uint64(100*v))
	b := secretVals(spec.K, seed+uint64(100*v)+1)
	for i := range b {
		b[i] <<= frac // bias at the output scale 2f
	}
	p.secret(label+" weight", w)
	p.secret(label+" bias", b)
	return p.s.SetupLinear(p.src, label, spec, w, b)
}

// polySetup runs SetupPoly with the variant's coefficients.
func polySetup(p *party, label string, C, v int) (*mpc.PolyKey, error) {
	if p.s.Party == mpc.Client {
		return p.s.SetupPoly(p.src, label, C, nil)
	}
	co := polyCoefsVariant(C, v)
	polySecrets(p, co)
	return p.s.SetupPoly(p.src, label, C, co)
}

// outShare keeps a party's output share. (Output shares are not secrets
// to search for: where the output is known, e.g. 0, the server's share is
// the negation of the client's, which the client computes from its
// material; the logits' share is searched for in the network case.)
func outShare(p *party, y []uint64, err error) error {
	p.out = y
	return err
}

// mixedSpec is an activation layer with every other position a ReLU.
func mixedSpec(c, hw int) corr.ActSpec {
	spec := corr.ActSpec{N: 1, C: c, HW: hw, ReLU: maskWhere(c*hw, func(i int) bool { return i%2 == 0 })}
	return spec
}

// suiteCases are the protocols of the dealer suite as privacy cases. Each
// message position pools at least privacytest.MinWords words over Runs
// sessions.
func suiteCases() []privacytest.Case {
	cs := func(name string, runs int, f func(p *party, v int) error) privacytest.Case {
		return privacytest.Case{Name: name, Runs: runs, Run: func(t testing.TB, seed uint64, v int) [2]privacytest.View {
			views, _ := runViews(t, seed, func(p *party) error { return f(p, v) })
			return views
		}}
	}
	in := func(p *party, n, v int) []uint64 { return structuredShares(p, n, uint64(7+v)) }
	return []privacytest.Case{
		cs("ShareInput+Linear dense", 4, func(p *party, v int) error {
			spec := corr.DenseSpec(4, 64, 16)
			k, err := linearSetup(p, "fc", spec, v, 1)
			if err != nil {
				return err
			}
			var x []uint64
			if p.s.Party == mpc.Client {
				x = secretVals(spec.XLen(), uint64(50+v))
				p.secret("input", x)
			}
			xs, err := p.s.ShareInput(x, spec.XLen())
			if err != nil {
				return err
			}
			y, err := p.s.Linear(p.src, k, xs)
			return outShare(p, y, err)
		}),
		cs("Linear conv", 2, func(p *party, v int) error {
			spec := corr.LinearSpec{N: 1, C: 4, H: 8, W: 8, K: 4, R: 3, S: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, Groups: 1}
			k, err := linearSetup(p, "conv", spec, v, 2)
			if err != nil {
				return err
			}
			y, err := p.s.Linear(p.src, k, in(p, spec.XLen(), v))
			return outShare(p, y, err)
		}),
		cs("Act (ReLU+polynomial)", 6, func(p *party, v int) error {
			spec := mixedSpec(8, 32)
			k, err := polySetup(p, "act", spec.C, v)
			if err != nil {
				return err
			}
			y, err := p.s.Act(p.src, "act", k, spec, in(p, spec.Len(), v))
			return outShare(p, y, err)
		}),
		cs("Poly", 3, func(p *party, v int) error {
			spec := corr.ActSpec{N: 1, C: 16, HW: 16}
			k, err := polySetup(p, "poly", spec.C, v)
			if err != nil {
				return err
			}
			y, err := p.s.Poly(p.src, k, spec, in(p, spec.Len(), v))
			return outShare(p, y, err)
		}),
		// Two ReLU layers on the same input: masks shared between layers
		// would repeat the opened words.
		cs("ReLU, DReLU", 2, func(p *party, v int) error {
			x := in(p, 128, v)
			y, err := fssgates.ReLU(p.s, p.src, "relu", x, 0)
			if err != nil {
				return err
			}
			if _, err := fssgates.ReLU(p.s, p.src, "relu2", x, 0); err != nil {
				return err
			}
			d, err := fssgates.DReLU(p.s, p.src, "drelu", x, 0)
			return outShare(p, append(y, d...), err)
		}),
		cs("Trunc (FSS)", 1, func(p *party, v int) error {
			y, err := fssgates.Trunc(p.s, p.src, "trunc", in(p, 256, v), frac, 0)
			return outShare(p, y, err)
		}),
		cs("TruncMSB", 1, func(p *party, v int) error {
			y, err := p.s.TruncMSB(p.src, "tmsb", in(p, 256, v), frac)
			return outShare(p, y, err)
		}),
		cs("MaxPool", 2, func(p *party, v int) error {
			ps := mpc.PoolSpec{N: 1, C: 2, H: 16, W: 16, K: 2, Stride: 2}
			y, err := p.s.MaxPool(p.src, "pool", ps, in(p, 2*16*16, v))
			return outShare(p, y, err)
		}),
		// x·x and x²: equal operands make a mask shared by a and b (or
		// by two openings) repeat an opened word.
		cs("Mul, Square", 1, func(p *party, v int) error {
			x := in(p, 256, v)
			y, err := p.s.Mul(p.src, "mul", x, x)
			if err != nil {
				return err
			}
			q, err := p.s.Square(p.src, "square", x)
			return outShare(p, append(y, q...), err)
		}),
		cs("network + RevealToClient", 2, func(p *party, v int) error { return network(p, v, false) }),
		// The client's half of the activation opening sent offline, before
		// the input exists, and the server's half online.
		cs("network with PreopenAct", 2, func(p *party, v int) error { return network(p, v, true) }),
	}
}

// network runs dense → mixed activation → dense → RevealToClient on 4
// images, with the activation preopened (mpc.Session.PreopenAct) in the
// offline phase when preopen is set.
func network(p *party, v int, preopen bool) error {
	s1, s2 := corr.DenseSpec(4, 64, 64), corr.DenseSpec(4, 64, 64)
	spec := corr.ActSpec{N: 4, C: 64, HW: 1, ReLU: maskWhere(64, func(i int) bool { return i%2 == 0 })}
	k1, err := linearSetup(p, "fc1", s1, v, 3)
	if err != nil {
		return err
	}
	pk, err := polySetup(p, "act1", spec.C, v)
	if err != nil {
		return err
	}
	k2, err := linearSetup(p, "fc2", s2, v, 4)
	if err != nil {
		return err
	}
	if preopen {
		if err := p.s.PreopenAct(p.src, k1, "act1", pk, spec); err != nil {
			return err
		}
	}
	var x []uint64
	if p.s.Party == mpc.Client {
		x = secretVals(s1.XLen(), uint64(60+v))
		p.secret("input", x)
	}
	h, err := p.s.ShareInput(x, s1.XLen())
	if err == nil {
		h, err = p.s.Linear(p.src, k1, h)
	}
	if err == nil {
		h, err = p.s.Act(p.src, "act1", pk, spec, h)
	}
	if err == nil {
		h, err = p.s.Linear(p.src, k2, h)
	}
	if err != nil {
		return err
	}
	if p.s.Party == mpc.Client {
		// The client's share of the logits: the server must never see it
		// (with its own share it gives the logits).
		p.secret("logit share", h)
	}
	y, err := p.s.RevealToClient("logits", h)
	if err == nil && p.s.Party == mpc.Client {
		p.secret("logits", y)
	}
	return err
}

// TestSuitePrivacy checks every protocol of the suite against the privacy
// properties (internal/privacytest): what each party receives is uniform
// per message and material position, has the same law under two sets of
// secrets, holds none of the other party's secrets (weights, biases,
// polynomial coefficients at their encodings, inputs, input shares, the
// client's share of the logits; times ±1..±4)
// and repeats no word.
func TestSuitePrivacy(t *testing.T) {
	for _, c := range suiteCases() {
		t.Run(c.Name, func(t *testing.T) { privacytest.Check(t, c) })
	}
}
