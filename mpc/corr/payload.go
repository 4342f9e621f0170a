package corr

import "fmt"

// Payload is the protocol-specific part of a Material besides its ring
// vectors: the key batch a protocol family generates and evaluates (the
// FSS family's fssgates.GateKeys and fssgates.DCFKeys). A Material encodes
// it as one length-prefixed blob; the description registered for the
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

// payloadDesc returns the description of k if k carries a payload (ok
// false for kinds without one).
func payloadDesc(k MaterialKind) (KindDesc, bool, error) {
	d, err := kindDesc(k)
	if err != nil {
		return KindDesc{}, false, err
	}
	return d, d.Decode != nil, nil
}

// checkPayload checks that m carries the payload its kind needs, and that
// it fits.
func (m *Material) checkPayload() error {
	c, ok, err := payloadDesc(m.Kind)
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
