package fss

import (
	"encoding/binary"
	"fmt"

	"github.com/autorep/autorep/ring"
)

// Serialized layouts (all integers little endian):
//
//	gate keys: "FSSK" | version 1 | gate | party | ℓ | shift | 0 0 0 | count uint32 | count·stride words
//	DCF keys:  "FSSD" | version 1 | party | n | g | 0 0 0 0 | count uint32 | count·dcfWords(n, g) words
//
// The 16-byte header is followed by exactly the key words: the per-element
// size is KeyBytes (gate keys) or DCFKeyBytes (DCF keys). Decoders reject
// any other length, unknown versions, invalid parameters, non-zero reserved
// bytes and root seeds with their two low bits set.

const (
	headerSize = 16
	version    = 1
)

var (
	magicGate = [4]byte{'F', 'S', 'S', 'K'}
	magicDCF  = [4]byte{'F', 'S', 'S', 'D'}
)

// readWords decodes the body after the header: count elements of stride
// words each, with strict length checking. With alias the words may share
// body's memory (see decodeWords).
func readWords(what string, body []byte, count uint32, stride int, alias bool) ([]uint64, error) {
	per := 8 * stride
	if uint64(len(body)) != uint64(count)*uint64(per) {
		return nil, fmt.Errorf("fss: %s: %d body bytes for %d keys of %d bytes", what, len(body), count, per)
	}
	return ring.DecodeWords(body, alias), nil
}

// MarshalBinary encodes the keys (header + key words).
func (k *Keys) MarshalBinary() ([]byte, error) {
	return k.AppendBinary(make([]byte, 0, headerSize+8*len(k.w)))
}

// AppendBinary appends MarshalBinary's encoding to b.
func (k *Keys) AppendBinary(b []byte) ([]byte, error) {
	b, body, err := k.AppendBinaryParts(b)
	return append(b, body...), err
}

// AppendBinaryParts appends the 16-byte header of MarshalBinary's
// encoding to b and returns the rest, the key words, as body. On
// little-endian machines body is a view of the keys' own memory (no copy;
// it must not be modified), so large batches can be written out without
// building their encoding.
func (k *Keys) AppendBinaryParts(b []byte) (head, body []byte, err error) {
	if uint64(k.m) > 1<<32-1 {
		return nil, nil, fmt.Errorf("fss: %d keys is too many for one batch", k.m)
	}
	b = append(b, magicGate[:]...)
	b = append(b, version, byte(k.gate), byte(k.party), byte(k.ell), byte(k.shift), 0, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(k.m))
	return b, wordsBody(k.w), nil
}

// wordsBody is the little-endian encoding of w: a view of w's memory on
// little-endian machines, else a copy.
func wordsBody(w []uint64) []byte {
	if v := ring.WordBytes(w); ring.NativeLE {
		return v
	}
	return ring.AppendWords(nil, w)
}

// UnmarshalBinary decodes keys written by MarshalBinary. Malformed input
// (wrong magic, version, parameters or length) gives an error and leaves k
// unchanged.
func (k *Keys) UnmarshalBinary(data []byte) error { return k.unmarshal(data, false) }

// UnmarshalOwned is UnmarshalBinary for a buffer the caller hands over:
// when the key words in data are 8-byte aligned (data[headerSize:]) the
// keys use data's memory instead of a copy, so the caller must not modify
// or reuse data afterwards. For large batches received from the network
// this saves an allocation and a copy of the whole key material.
func (k *Keys) UnmarshalOwned(data []byte) error { return k.unmarshal(data, true) }

func (k *Keys) unmarshal(data []byte, alias bool) error {
	if len(data) < headerSize {
		return fmt.Errorf("fss: gate keys: %d bytes, shorter than the %d-byte header", len(data), headerSize)
	}
	if [4]byte(data[:4]) != magicGate {
		return fmt.Errorf("fss: gate keys: bad magic %q", data[:4])
	}
	if data[4] != version {
		return fmt.Errorf("fss: gate keys: unsupported version %d", data[4])
	}
	g, party, ell, shift := Gate(data[5]), int(data[6]), int(data[7]), int(data[8])
	if party > 1 {
		return fmt.Errorf("fss: gate keys: party %d", party)
	}
	if data[9] != 0 || data[10] != 0 || data[11] != 0 {
		return fmt.Errorf("fss: gate keys: non-zero reserved header bytes")
	}
	if err := checkGate(g, ell, shift); err != nil {
		return fmt.Errorf("fss: gate keys: %w", err)
	}
	count := binary.LittleEndian.Uint32(data[12:])
	st := stride(g, ell, shift)
	w, err := readWords("gate keys", data[headerSize:], count, st, alias)
	if err != nil {
		return err
	}
	for i := 0; i < int(count); i++ {
		e := w[i*st:]
		if e[0]&^seedMask != 0 || g == GateTruncExact && e[dcfWords(ell, 1)]&^seedMask != 0 {
			return fmt.Errorf("fss: gate keys: element %d: malformed root seed", i)
		}
	}
	*k = Keys{gate: g, party: party, ell: ell, shift: shift, m: int(count), w: w}
	return nil
}

// MarshalBinary encodes the DCF keys (header + key words).
func (k *DCFKeys) MarshalBinary() ([]byte, error) {
	return k.AppendBinary(make([]byte, 0, headerSize+8*len(k.w)))
}

// AppendBinary appends MarshalBinary's encoding to b.
func (k *DCFKeys) AppendBinary(b []byte) ([]byte, error) {
	b, body, err := k.AppendBinaryParts(b)
	return append(b, body...), err
}

// AppendBinaryParts appends the 16-byte header of MarshalBinary's
// encoding to b and returns the key words as body (see
// Keys.AppendBinaryParts: a read-only view of the keys on little-endian
// machines).
func (k *DCFKeys) AppendBinaryParts(b []byte) (head, body []byte, err error) {
	if uint64(k.m) > 1<<32-1 {
		return nil, nil, fmt.Errorf("fss: %d DCF keys is too many for one batch", k.m)
	}
	b = append(b, magicDCF[:]...)
	b = append(b, version, byte(k.party), byte(k.n), byte(k.g), 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(k.m))
	return b, wordsBody(k.w), nil
}

// UnmarshalBinary decodes DCF keys written by MarshalBinary. Malformed
// input gives an error and leaves k unchanged.
func (k *DCFKeys) UnmarshalBinary(data []byte) error { return k.unmarshal(data, false) }

// UnmarshalOwned is UnmarshalBinary for a buffer the caller hands over:
// the keys may use data's memory (see Keys.UnmarshalOwned).
func (k *DCFKeys) UnmarshalOwned(data []byte) error { return k.unmarshal(data, true) }

func (k *DCFKeys) unmarshal(data []byte, alias bool) error {
	if len(data) < headerSize {
		return fmt.Errorf("fss: DCF keys: %d bytes, shorter than the %d-byte header", len(data), headerSize)
	}
	if [4]byte(data[:4]) != magicDCF {
		return fmt.Errorf("fss: DCF keys: bad magic %q", data[:4])
	}
	if data[4] != version {
		return fmt.Errorf("fss: DCF keys: unsupported version %d", data[4])
	}
	party, n, g := int(data[5]), int(data[6]), int(data[7])
	if party > 1 {
		return fmt.Errorf("fss: DCF keys: party %d", party)
	}
	if data[8] != 0 || data[9] != 0 || data[10] != 0 || data[11] != 0 {
		return fmt.Errorf("fss: DCF keys: non-zero reserved header bytes")
	}
	if err := checkDCFParams(n, g); err != nil {
		return fmt.Errorf("fss: DCF keys: %w", err)
	}
	count := binary.LittleEndian.Uint32(data[12:])
	st := dcfWords(n, g)
	w, err := readWords("DCF keys", data[headerSize:], count, st, alias)
	if err != nil {
		return err
	}
	for i := 0; i < int(count); i++ {
		if w[i*st]&^seedMask != 0 {
			return fmt.Errorf("fss: DCF keys: key %d: malformed root seed", i)
		}
	}
	*k = DCFKeys{party: party, n: n, g: g, m: int(count), w: w}
	return nil
}
