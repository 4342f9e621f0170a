package mpc

import (
	"fmt"

	"github.com/autorep/autorep/fss"
)

// Payload is the protocol-specific part of a Material besides its ring
// vectors: the key batch a protocol family generates and evaluates (today
// the FSS family's GateKeys and DCFKeys). A Material encodes it as one
// length-prefixed blob; the codec registered for the material's kind
// (payloadCodecs) decodes it and checks that it fits the material and the
// request.
type Payload interface {
	// EncodedLen is the length of the payload's encoding in bytes.
	EncodedLen() int64
	// AppendBinaryParts appends the encoding to b except a trailing body,
	// returned separately as a view of the payload's memory (no copy; nil
	// if head is the whole encoding).
	AppendBinaryParts(b []byte) (head, body []byte, err error)
	// Release hands the payload's memory back for reuse once it was
	// evaluated or sent (it may do nothing); the payload is gone
	// afterwards.
	Release()
}

// payloadCodec decodes and checks the payload of the kinds that carry one.
type payloadCodec struct {
	// decode decodes b; with owned, in place (the payload aliases b).
	decode func(b []byte, owned bool) (Payload, error)
	// ownsFrame: an owned decode keeps the received frame alive, and the
	// material's Release returns the frame instead of the payload.
	ownsFrame bool
	// check verifies that p fits m (kind, party, parameter, vectors).
	check func(m *Material, p Payload) error
	// matches verifies that p answers req (input widths).
	matches func(req Request, p Payload) error
}

// payloadCodecs lists the kinds that carry a payload. Kinds not listed
// carry none.
var payloadCodecs = map[Kind]payloadCodec{
	KindTrunc:     gateKeysCodec,
	KindReLU:      gateKeysCodec,
	KindDReLU:     gateKeysCodec,
	KindReLUTrunc: dcfKeysCodec,
}

// GateKeys is the FSS family's payload of KindTrunc, KindReLU and
// KindDReLU: one gate key per element of the material's mask vector.
type GateKeys struct{ *fss.Keys }

// EncodedLen is the size of the key batch's encoding.
func (k GateKeys) EncodedLen() int64 {
	return fssHeader + int64(k.Len())*int64(k.BytesPerElement())
}

// Release does nothing: gate keys are left to the garbage collector.
func (k GateKeys) Release() {}

// DCFKeys is the FSS family's payload of KindReLUTrunc: one DCF key on
// ℓ−1 bits with a 3-word payload per position.
type DCFKeys struct{ *fss.DCFKeys }

// EncodedLen is the size of the key batch's encoding.
func (k DCFKeys) EncodedLen() int64 {
	return fssHeader + int64(k.Len())*int64(k.KeyBytes())
}

// Release hands the keys' memory back to the buffer pool.
func (k DCFKeys) Release() { k.DCFKeys.Release() }

// fssHeader is the size of the fss key batch header.
const fssHeader = 16

var gateKeysCodec = payloadCodec{
	decode: func(b []byte, owned bool) (Payload, error) {
		k, err := decodeKeys[fss.Keys](b, owned)
		return GateKeys{k}, err
	},
	check: func(m *Material, p Payload) error {
		gk, ok := p.(GateKeys)
		if !ok || gk.Keys == nil {
			return fmt.Errorf("mpc: %v material carries %T, not FSS gate keys", m.Kind, p)
		}
		g := gk.Keys
		want := map[Kind]fss.Gate{KindReLU: fss.GateReLU, KindDReLU: fss.GateDReLU, KindTrunc: fss.GateTruncExact}[m.Kind]
		if g.Gate() != want {
			return fmt.Errorf("mpc: %v material carries %v keys", m.Kind, g.Gate())
		}
		if g.Party() != int(m.Party) {
			return fmt.Errorf("mpc: %v material for the %v carries party %d keys", m.Kind, m.Party, g.Party())
		}
		if len(m.Vecs) == 1 && g.Len() != len(m.Vecs[0].Data) {
			return fmt.Errorf("mpc: %v material: %d keys for %d masks", m.Kind, g.Len(), len(m.Vecs[0].Data))
		}
		if m.Kind == KindTrunc && uint64(g.Shift()) != m.Param {
			return fmt.Errorf("mpc: truncation material: keys shift %d, parameter %d", g.Shift(), m.Param)
		}
		return nil
	},
	matches: func(req Request, p Payload) error {
		if ell := p.(GateKeys).Ell(); ell != req.ell() {
			return fmt.Errorf("mpc: material: keys for %d-bit inputs, want %d", ell, req.ell())
		}
		return nil
	},
}

var dcfKeysCodec = payloadCodec{
	decode: func(b []byte, owned bool) (Payload, error) {
		k, err := decodeKeys[fss.DCFKeys](b, owned)
		return DCFKeys{k}, err
	},
	ownsFrame: true,
	check: func(m *Material, p Payload) error {
		dk, ok := p.(DCFKeys)
		if !ok || dk.DCFKeys == nil {
			return fmt.Errorf("mpc: %v material carries %T, not DCF keys", m.Kind, p)
		}
		k := dk.DCFKeys
		switch {
		case k.Party() != int(m.Party):
			return fmt.Errorf("mpc: %v material for the %v carries party %d keys", m.Kind, m.Party, k.Party())
		case k.Payload() != reluTruncPayload:
			return fmt.Errorf("mpc: %v material: DCF keys of %d bits and %d words", m.Kind, k.Bits(), k.Payload())
		case uint64(k.Bits()) < m.Param+1:
			return fmt.Errorf("mpc: %v material: %d-bit keys for shift %d", m.Kind, k.Bits(), m.Param)
		case len(m.Vecs) > 0 && k.Len() != len(m.Vecs[0].Data):
			return fmt.Errorf("mpc: %v material: %d keys for %d positions", m.Kind, k.Len(), len(m.Vecs[0].Data))
		}
		return nil
	},
	matches: func(req Request, p Payload) error {
		if bits := p.(DCFKeys).Bits(); bits != req.ell()-1 {
			return fmt.Errorf("mpc: material: keys for %d-bit inputs, want %d", bits+1, req.ell())
		}
		return nil
	},
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

// checkPayload checks that m carries the payload its kind needs, and that
// it fits.
func (m *Material) checkPayload() error {
	c, ok := payloadCodecs[m.Kind]
	switch {
	case !ok && m.Keys != nil:
		return fmt.Errorf("mpc: %v material carries an unexpected payload %T", m.Kind, m.Keys)
	case !ok:
		return nil
	case m.Keys == nil:
		return fmt.Errorf("mpc: %v material without its keys", m.Kind)
	}
	return c.check(m, m.Keys)
}

// gateKeys returns the FSS gate keys of a checked KindTrunc, KindReLU or
// KindDReLU material.
func (m *Material) gateKeys() *fss.Keys { return m.Keys.(GateKeys).Keys }

// dcfKeys returns the DCF keys of a checked KindReLUTrunc material.
func (m *Material) dcfKeys() *fss.DCFKeys { return m.Keys.(DCFKeys).DCFKeys }
