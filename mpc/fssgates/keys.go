package fssgates

import (
	"fmt"

	"github.com/autorep/autorep/fss"
	"github.com/autorep/autorep/mpc/corr"
)

// The material kinds this family owns, with their values (the wire byte;
// see corr.MaterialKind). Each has n elements and both parties' material
// holds the shared input mask r (seeded) first.
const (
	// KindTrunc (Param = shift): the FSS exact-truncation keys in Keys
	// (GateKeys).
	KindTrunc corr.MaterialKind = 5
	// KindReLU: the FSS ReLU keys in Keys (GateKeys).
	KindReLU corr.MaterialKind = 6
	// KindDReLU: the FSS DReLU keys in Keys (GateKeys).
	KindDReLU corr.MaterialKind = 7
	// KindReLUTrunc (Param = shift): after r, shares of q, K and q·K
	// (party 0 seeded, party 1 explicit), and in Keys (DCFKeys) n DCF keys
	// on ℓ−1 bits with 3-word payloads (see ReLUTrunc).
	KindReLUTrunc corr.MaterialKind = 10
)

// The kinds this family owns: their validation, shape, generation and
// payload codecs.
func init() {
	gate := func(name string, g fss.Gate, maxShift uint64) corr.KindDesc {
		return corr.KindDesc{Name: name, Vecs: [2]int{1, 1}, MaxShift: maxShift,
			Validate: validateGate,
			Shape: func(r corr.Request) corr.Shape {
				s := corr.Shape{Param: uint64(r.Shift), Elems: int64(r.N),
					PayloadBytes: fssHeader + int64(r.N)*int64(fss.KeyBytes(g, r.InputBits(), int(r.Shift)))}
				s.Mask(r.N)
				return s
			},
			Generate: genGate, Decode: decodeGateKeys, Check: checkGateKeys, Matches: matchGateKeys}
	}
	corr.RegisterKind(KindTrunc, gate("trunc", fss.GateTruncExact, maxShift))
	corr.RegisterKind(KindReLU, gate("relu", fss.GateReLU, 0))
	corr.RegisterKind(KindDReLU, gate("drelu", fss.GateDReLU, 0))
	corr.RegisterKind(KindReLUTrunc, corr.KindDesc{Name: "relu-trunc", Vecs: [2]int{4, 4}, MaxShift: maxShift, EqualLens: true,
		Validate: validateGate,
		Shape: func(r corr.Request) corr.Shape {
			s := corr.Shape{Param: uint64(r.Shift), Elems: int64(r.N),
				PayloadBytes: fssHeader + int64(r.N)*int64(fss.DCFKeyBytes(r.InputBits()-1, reluTruncPayload))}
			s.Mask(r.N)
			for range 3 {
				s.Shared(r.N)
			}
			return s
		},
		Generate: genReLUTrunc, Decode: decodeDCFKeys, OwnsFrame: true, Check: checkDCFKeys, Matches: matchDCFKeys})
}

// maxShift bounds the shift of a truncating gate's material (the request
// bounds it further by the input width).
const maxShift = 62

// validateGate checks a gate request: the input width, the shift of the
// truncating gates (none for the others) and the element count.
func validateGate(r corr.Request) error {
	if r.Ell != 0 && (r.Ell < 2 || r.Ell > 64) {
		return fmt.Errorf("mpc: %v request: bit width %d outside 2..64", r.Kind, r.Ell)
	}
	switch r.Kind {
	case KindTrunc:
		if r.Shift == 0 || int(r.Shift) >= r.InputBits() {
			return fmt.Errorf("mpc: truncation shift %d outside 1..%d", r.Shift, r.InputBits()-1)
		}
	case KindReLUTrunc:
		if r.Shift == 0 || int(r.Shift) >= r.InputBits()-1 {
			return fmt.Errorf("mpc: ReLU-truncation shift %d outside 1..%d", r.Shift, r.InputBits()-2)
		}
	default:
		if r.Shift != 0 {
			return fmt.Errorf("mpc: %v request with shift %d", r.Kind, r.Shift)
		}
	}
	return r.CheckN()
}

// reluTruncPayload is the payload width of the ReLU-truncation DCF keys.
const reluTruncPayload = 3

// GateKeys is the payload of KindTrunc, KindReLU and KindDReLU material:
// one FSS gate key per element of the material's mask vector.
type GateKeys struct{ *fss.Keys }

// EncodedLen is the size of the key batch's encoding.
func (k GateKeys) EncodedLen() int64 {
	return fssHeader + int64(k.Len())*int64(k.BytesPerElement())
}

// Release hands the memory of generated keys back to the buffer pool,
// for the next generation to reuse without clearing (fss.Keys.Release).
func (k GateKeys) Release() { k.Keys.Release() }

// DCFKeys is the payload of KindReLUTrunc material: one DCF key on ℓ−1
// bits with a 3-word payload per position.
type DCFKeys struct{ *fss.DCFKeys }

// EncodedLen is the size of the key batch's encoding.
func (k DCFKeys) EncodedLen() int64 {
	return fssHeader + int64(k.Len())*int64(k.KeyBytes())
}

// Release hands the keys' memory back to the buffer pool.
func (k DCFKeys) Release() { k.DCFKeys.Release() }

// fssHeader is the size of the fss key batch header.
const fssHeader = 16

// gateKeys returns the FSS gate keys of a checked KindTrunc, KindReLU or
// KindDReLU material.
func gateKeys(m *corr.Material) *fss.Keys { return m.Keys.(GateKeys).Keys }

// dcfKeys returns the DCF keys of a checked KindReLUTrunc material.
func dcfKeys(m *corr.Material) *fss.DCFKeys { return m.Keys.(DCFKeys).DCFKeys }

// genGate generates KindTrunc (exact), KindReLU and KindDReLU material:
// both parties get shares of the input mask r (seeded) and their gate
// keys.
func genGate(req corr.Request, g corr.Gen, m0, m1 *corr.Material) error {
	r, r0, r1 := g.Mask(req.N)
	var k0, k1 *fss.Keys
	var err error
	// fss.GenContext stops with the generation's context (a large batch
	// of keys takes seconds).
	switch req.Kind {
	case KindTrunc:
		k0, k1, err = fss.GenContext(g.Context(), g.PRG, fss.GateTruncExact, r, req.InputBits(), int(req.Shift))
		m0.Param, m1.Param = uint64(req.Shift), uint64(req.Shift)
	case KindReLU:
		k0, k1, err = fss.GenContext(g.Context(), g.PRG, fss.GateReLU, r, req.InputBits(), 0)
	case KindDReLU:
		k0, k1, err = fss.GenContext(g.Context(), g.PRG, fss.GateDReLU, r, req.InputBits(), 0)
	default:
		err = fmt.Errorf("fssgates: %v is not a gate kind", req.Kind)
	}
	if err != nil {
		return err
	}
	m0.Vecs, m0.Keys = []corr.Vec{r0}, GateKeys{k0}
	m1.Vecs, m1.Keys = []corr.Vec{r1}, GateKeys{k1}
	return nil
}

// genReLUTrunc generates KindReLUTrunc material: shares of the input mask
// r (seeded), of q = msb(r mod 2^ℓ), K = (r mod 2^ℓ) >> f + 2^(ℓ−1−f) and
// q·K, and one (ℓ−1)-bit DCF per position with payload (s, s·K, q·T),
// s = 1 − 2q, T = 2^(ℓ−f), at alpha = r mod 2^(ℓ−1) (see
// reluTruncOpening).
func genReLUTrunc(req corr.Request, g corr.Gen, m0, m1 *corr.Material) error {
	r, r0, r1 := g.Mask(req.N)
	ell, f := req.InputBits(), req.Shift
	half := uint64(1) << uint(ell-1)
	top := uint64(1) << (uint(ell) - f)
	alpha := make([]uint64, req.N)
	beta := make([]uint64, reluTruncPayload*req.N)
	qv, kv, qk := make([]uint64, req.N), make([]uint64, req.N), make([]uint64, req.N)
	for i, ri := range r {
		rl := low(ri, ell)
		q := rl >> uint(ell-1)
		k := rl>>f + half>>f
		sg := 1 - 2*q
		alpha[i] = low(rl, ell-1)
		beta[3*i], beta[3*i+1], beta[3*i+2] = sg, sg*k, q*top
		qv[i], kv[i], qk[i] = q, k, q*k
	}
	k0, k1, err := fss.GenDCFContext(g.Context(), g.PRG, ell-1, reluTruncPayload, alpha, beta)
	if err != nil {
		return err
	}
	m0.Vecs, m1.Vecs = []corr.Vec{r0}, []corr.Vec{r1}
	for _, v := range [][]uint64{qv, kv, qk} {
		v0, v1 := g.Share(v)
		m0.Vecs = append(m0.Vecs, v0)
		m1.Vecs = append(m1.Vecs, v1)
	}
	m0.Keys, m1.Keys = DCFKeys{k0}, DCFKeys{k1}
	m0.Param, m1.Param = uint64(f), uint64(f)
	return nil
}

func decodeGateKeys(b []byte, owned bool) (corr.Payload, error) {
	k, err := decodeKeys[fss.Keys](b, owned)
	return GateKeys{k}, err
}

func checkGateKeys(m *corr.Material, p corr.Payload) error {
	gk, ok := p.(GateKeys)
	if !ok || gk.Keys == nil {
		return fmt.Errorf("fssgates: %v material carries %T, not FSS gate keys", m.Kind, p)
	}
	g := gk.Keys
	want := map[corr.MaterialKind]fss.Gate{KindReLU: fss.GateReLU, KindDReLU: fss.GateDReLU, KindTrunc: fss.GateTruncExact}[m.Kind]
	if g.Gate() != want {
		return fmt.Errorf("fssgates: %v material carries %v keys", m.Kind, g.Gate())
	}
	if g.Party() != int(m.Party) {
		return fmt.Errorf("fssgates: %v material for the %v carries party %d keys", m.Kind, m.Party, g.Party())
	}
	if len(m.Vecs) == 1 && g.Len() != len(m.Vecs[0].Data) {
		return fmt.Errorf("fssgates: %v material: %d keys for %d masks", m.Kind, g.Len(), len(m.Vecs[0].Data))
	}
	if m.Kind == KindTrunc && uint64(g.Shift()) != m.Param {
		return fmt.Errorf("fssgates: truncation material: keys shift %d, parameter %d", g.Shift(), m.Param)
	}
	return nil
}

func matchGateKeys(req corr.Request, p corr.Payload) error {
	if ell := p.(GateKeys).Ell(); ell != req.InputBits() {
		return fmt.Errorf("fssgates: material: keys for %d-bit inputs, want %d", ell, req.InputBits())
	}
	return nil
}

func decodeDCFKeys(b []byte, owned bool) (corr.Payload, error) {
	k, err := decodeKeys[fss.DCFKeys](b, owned)
	return DCFKeys{k}, err
}

func checkDCFKeys(m *corr.Material, p corr.Payload) error {
	dk, ok := p.(DCFKeys)
	if !ok || dk.DCFKeys == nil {
		return fmt.Errorf("fssgates: %v material carries %T, not DCF keys", m.Kind, p)
	}
	k := dk.DCFKeys
	switch {
	case k.Party() != int(m.Party):
		return fmt.Errorf("fssgates: %v material for the %v carries party %d keys", m.Kind, m.Party, k.Party())
	case k.Payload() != reluTruncPayload:
		return fmt.Errorf("fssgates: %v material: DCF keys of %d bits and %d words", m.Kind, k.Bits(), k.Payload())
	case uint64(k.Bits()) < m.Param+1:
		return fmt.Errorf("fssgates: %v material: %d-bit keys for shift %d", m.Kind, k.Bits(), m.Param)
	case len(m.Vecs) > 0 && k.Len() != len(m.Vecs[0].Data):
		return fmt.Errorf("fssgates: %v material: %d keys for %d positions", m.Kind, k.Len(), len(m.Vecs[0].Data))
	}
	return nil
}

func matchDCFKeys(req corr.Request, p corr.Payload) error {
	if bits := p.(DCFKeys).Bits(); bits != req.InputBits()-1 {
		return fmt.Errorf("fssgates: material: keys for %d-bit inputs, want %d", bits+1, req.InputBits())
	}
	return nil
}

// decodeKeys decodes an fss key batch, in place (aliasing b) with owned.
func decodeKeys[K any, PK interface {
	*K
	UnmarshalOwned([]byte) error
	UnmarshalBinary([]byte) error
}](b []byte, owned bool) (*K, error) {
	k := PK(new(K))
	if owned {
		return k, k.UnmarshalOwned(b)
	}
	return k, k.UnmarshalBinary(b)
}
