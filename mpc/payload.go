package mpc

import (
	"fmt"
	"sync"
)

// Payload is the protocol-specific part of a Material besides its ring
// vectors: the key batch a protocol family generates and evaluates (the
// FSS family's fssgates.GateKeys and fssgates.DCFKeys). A Material encodes
// it as one length-prefixed blob; the family registered for the
// material's kind (RegisterKind) decodes it and checks that it fits the
// material and the request.
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

// KindImpl is what a protocol family supplies for a material kind that the
// core names but does not generate (today the FSS gate kinds KindTrunc,
// KindReLU, KindDReLU and KindReLUTrunc): its generation, and the codec
// and checks of its payload. The family registers it (RegisterKind) from
// its package initialisation, so the core depends on no family.
type KindImpl struct {
	// Generate fills the vectors, parameter and payload of both parties'
	// halves m0, m1 (Kind and Party already set) of req, drawing all
	// randomness from g.
	Generate func(req Request, g Gen, m0, m1 *Material) error
	// Decode decodes a payload; with owned, in place (the payload aliases
	// b). Nil if the kind carries no payload.
	Decode func(b []byte, owned bool) (Payload, error)
	// OwnsFrame: an owned decode keeps the received frame alive, and the
	// material's Release returns the frame instead of the payload.
	OwnsFrame bool
	// Check verifies that p fits m (kind, party, parameter, vectors).
	Check func(m *Material, p Payload) error
	// Matches verifies that p answers req (input widths).
	Matches func(req Request, p Payload) error
}

var (
	kindsMu sync.RWMutex
	kinds   = map[MaterialKind]KindImpl{}
)

// RegisterKind makes impl the implementation of kind k. A protocol family
// calls it from an init function for each kind it owns. It panics (a
// program error, as database/sql.Register) if k is a kind the core
// generates itself, unknown, already registered, or impl lacks Generate,
// or has a Decode without Check and Matches.
func RegisterKind(k MaterialKind, impl KindImpl) {
	switch {
	case k == 0 || k >= kindEnd || coreKind(k):
		panic(fmt.Sprintf("mpc: RegisterKind(%v): not a family kind", k))
	case impl.Generate == nil:
		panic(fmt.Sprintf("mpc: RegisterKind(%v): no Generate", k))
	case impl.Decode != nil && (impl.Check == nil || impl.Matches == nil):
		panic(fmt.Sprintf("mpc: RegisterKind(%v): a payload needs Check and Matches", k))
	}
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[k]; dup {
		panic(fmt.Sprintf("mpc: RegisterKind(%v) twice", k))
	}
	kinds[k] = impl
}

// coreKind reports kinds the core generates itself (they carry no
// payload).
func coreKind(k MaterialKind) bool {
	switch k {
	case KindWeightMask, KindLinear, KindCoefMask, KindPoly, KindTruncMSB, KindTriple, KindSquare:
		return true
	}
	return false
}

// kindImpl returns the registered implementation of the family kind k, or
// an error naming the missing family.
func kindImpl(k MaterialKind) (KindImpl, error) {
	kindsMu.RLock()
	impl, ok := kinds[k]
	kindsMu.RUnlock()
	if !ok {
		return KindImpl{}, fmt.Errorf("mpc: %v material: no protocol family registered for this kind (import the family, e.g. mpc/fssgates)", k)
	}
	return impl, nil
}

// payloadImpl returns the implementation of k if k carries a payload
// (ok false for core kinds and kinds without one).
func payloadImpl(k MaterialKind) (KindImpl, bool, error) {
	if coreKind(k) {
		return KindImpl{}, false, nil
	}
	impl, err := kindImpl(k)
	if err != nil {
		return KindImpl{}, false, err
	}
	return impl, impl.Decode != nil, nil
}

// checkPayload checks that m carries the payload its kind needs, and that
// it fits.
func (m *Material) checkPayload() error {
	c, ok, err := payloadImpl(m.Kind)
	switch {
	case err != nil:
		return err
	case !ok && m.Keys != nil:
		return fmt.Errorf("mpc: %v material carries an unexpected payload %T", m.Kind, m.Keys)
	case !ok:
		return nil
	case m.Keys == nil:
		return fmt.Errorf("mpc: %v material without its keys", m.Kind)
	}
	return c.Check(m, m.Keys)
}
