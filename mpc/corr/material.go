package corr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/autorep/autorep/internal/bufpool"
	"github.com/autorep/autorep/ring"
)

// MaterialKind names a type of correlated randomness. The set of kinds is
// open: each is declared, with its value, by the package that owns it and
// registered there with its description (RegisterKind) — the core's below,
// a protocol family's in the family (the FSS gates' in mpc/fssgates). The
// value is the kind's byte on the wire and in the generator's derivation of
// a request's randomness, so a kind keeps its value for good: the values
// 1..11 are taken (the core: 1–4, 8, 9, 11; the FSS family: 5–7, 10), a
// new family declares new ones, and registering a value twice is a
// program error.
type MaterialKind uint8

// Vec is a vector of ring elements in dealer material. If Seed is set, Data
// is the expansion of the seed (ring.ExpandSeed) and only the seed is
// encoded.
type Vec struct {
	Data []uint64
	Seed *ring.Seed
}

// SeededVec expands seed into n values.
func SeededVec(seed ring.Seed, n int) Vec {
	s := seed
	return Vec{Data: ring.ExpandSeed(s, n).Data, Seed: &s}
}

// Material is one party's half of one request's correlated randomness.
type Material struct {
	Kind  MaterialKind
	Party Party
	// Param is a kind-specific parameter: the shift of KindTruncMSB and
	// of a family's truncating kinds (KindDesc.MaxShift), else 0.
	Param uint64
	// Vecs are the kind's vectors in the documented order.
	Vecs []Vec
	// Keys is the protocol-specific payload of the kinds that carry one
	// (the FSS family's key batches, fssgates.GateKeys and
	// fssgates.DCFKeys); nil for the other kinds.
	Keys Payload
	// frame is the received buffer the keys were decoded from in place
	// (UnmarshalMaterialOwned), returned to the buffer pool by Release.
	frame []byte
}

// Release hands the memory of m's keys (or of the frame they were decoded
// from in place) back for reuse by later key generation and frame reads
// (bufpool.PutBuffer), once the keys have been evaluated or sent: the
// large buffers are then not mapped in afresh for every inference. m's
// keys are gone afterwards; nothing may use them, or slices of them,
// again. Releasing twice, or a material without keys, does nothing.
func (m *Material) Release() {
	switch {
	case m.frame != nil:
		bufpool.PutBuffer(m.frame)
	case m.Keys != nil:
		m.Keys.Release()
	default:
		return
	}
	m.frame, m.Keys = nil, nil
}

const (
	materialMagic = "AMT1"
	// MaxMaterialElems bounds the length of one vector (2^28 values, 2 GiB)
	// so that a corrupt length cannot trigger a huge allocation.
	MaxMaterialElems = 1 << 28
	// MaxKeyBytes bounds the FSS key blob of one material.
	MaxKeyBytes = 1 << 40
)

// Size is the length of the binary encoding in bytes: what a network
// dealer sends to this party for this material (the offline cost).
func (m *Material) Size() int64 {
	n := materialHeadLen(m.Param, len(m.Vecs))
	for _, v := range m.Vecs {
		n += vecLen(len(v.Data), v.Seed != nil)
	}
	k := int64(0)
	if m.Keys != nil {
		k = m.Keys.EncodedLen()
	}
	return n + payloadLen(k)
}

// materialHeadLen is the encoded length of a material's header: magic,
// kind, party, parameter and vector count.
func materialHeadLen(param uint64, vecs int) int64 {
	return int64(len(materialMagic) + 2 + uvarintLen(param) + uvarintLen(uint64(vecs)))
}

// vecLen is the encoded length of a vector of n values: mode byte,
// length, then the seed or the values.
func vecLen(n int, seeded bool) int64 {
	l := 1 + int64(uvarintLen(uint64(n)))
	if seeded {
		return l + ring.SeedSize
	}
	return l + 8*int64(n)
}

// payloadLen is the encoded length of a payload of k bytes with its
// length prefix.
func payloadLen(k int64) int64 { return int64(uvarintLen(uint64(k))) + k }

func uvarintLen(x uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], x)
}

// MarshalBinary encodes the material: magic "AMT1", kind, party, uvarint
// param, uvarint vector count, each vector as a mode byte (0 explicit, 1
// seeded), uvarint length and the 16-byte seed or 8·length little-endian
// bytes, then the uvarint key length and the key bytes.
func (m *Material) MarshalBinary() ([]byte, error) {
	head, body, err := m.marshalParts(m.Size())
	if err != nil {
		return nil, err
	}
	return append(head, body...), nil
}

// MarshalParts returns MarshalBinary's encoding in two parts whose
// concatenation is the encoding: head (everything up to and including the
// key header, in a new buffer) and body, the key words (nil without
// keys). On little-endian machines body is a read-only view of the keys'
// memory, not a copy, so a dealer can write large material to a
// connection (transport.SendParts) without building its encoding.
func (m *Material) MarshalParts() (head, body []byte, err error) {
	n := m.Size()
	if m.Keys != nil {
		n -= m.Keys.EncodedLen() - 64 // head capacity: the payload's header at most
	}
	return m.marshalParts(n)
}

// marshalParts is MarshalParts with head's initial capacity.
func (m *Material) marshalParts(capacity int64) (head, body []byte, err error) {
	if err := m.check(); err != nil {
		return nil, nil, err
	}
	b := make([]byte, 0, capacity)
	b = append(b, materialMagic...)
	b = append(b, byte(m.Kind), byte(m.Party))
	b = binary.AppendUvarint(b, m.Param)
	b = binary.AppendUvarint(b, uint64(len(m.Vecs)))
	for _, v := range m.Vecs {
		if v.Seed != nil {
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(len(v.Data)))
			b = append(b, v.Seed[:]...)
			continue
		}
		b = append(b, 0)
		b = binary.AppendUvarint(b, uint64(len(v.Data)))
		b = ring.AppendWords(b, v.Data)
	}
	if m.Keys == nil {
		return binary.AppendUvarint(b, 0), nil, nil
	}
	b = binary.AppendUvarint(b, uint64(m.Keys.EncodedLen()))
	b, body, err = m.Keys.AppendBinaryParts(b)
	if err != nil {
		return nil, nil, fmt.Errorf("mpc: %v material: %w", m.Kind, err)
	}
	if n := int64(len(b) + len(body)); n != m.Size() {
		return nil, nil, fmt.Errorf("mpc: %v material: encoded %d bytes, expected %d", m.Kind, n, m.Size())
	}
	return b, body, nil
}

// check validates the structure (not the key contents).
func (m *Material) check() error {
	if !m.Party.Valid() {
		return fmt.Errorf("mpc: material: invalid party %d", int(m.Party))
	}
	d, err := kindDesc(m.Kind)
	if err != nil {
		return err
	}
	if want := d.Vecs[m.Party]; len(m.Vecs) != want {
		return fmt.Errorf("mpc: %v material for the %v has %d vectors, want %d", m.Kind, m.Party, len(m.Vecs), want)
	}
	if err := m.checkPayload(); err != nil {
		return err
	}
	if d.MaxShift == 0 && m.Param != 0 {
		return fmt.Errorf("mpc: %v material has parameter %d, want 0", m.Kind, m.Param)
	}
	if d.MaxShift != 0 && (m.Param == 0 || m.Param > d.MaxShift) {
		return fmt.Errorf("mpc: %v material: shift %d outside 1..%d", m.Kind, m.Param, d.MaxShift)
	}
	for i, v := range m.Vecs {
		if len(v.Data) > MaxMaterialElems {
			return fmt.Errorf("mpc: material vector %d has %d values, limit %d", i, len(v.Data), MaxMaterialElems)
		}
		if d.EqualLens && len(v.Data) != len(m.Vecs[0].Data) {
			return fmt.Errorf("mpc: %v material vectors of lengths %d and %d", m.Kind, len(m.Vecs[0].Data), len(v.Data))
		}
	}
	if d.CheckVecs != nil {
		return d.CheckVecs(m)
	}
	return nil
}

// UnmarshalMaterial decodes MarshalBinary's format strictly: unknown kinds,
// wrong vector counts, inconsistent lengths, truncated or trailing bytes
// are errors. FSS keys are checked by the kind's key decoder.
//
// A 16-byte seed can expand to MaxMaterialElems values, so a peer could
// make the decoder allocate gigabytes; code that receives material for a
// known request should use UnmarshalMaterialFor, which bounds every vector
// by the request before expanding anything.
func UnmarshalMaterial(b []byte) (*Material, error) {
	return unmarshalMaterial(b, nil, false)
}

// UnmarshalMaterialFor decodes party p's material for req: as
// UnmarshalMaterial, and the kind, party, parameter and every vector's
// length must be what req asks for (checked before any allocation).
func UnmarshalMaterialFor(b []byte, req Request, p Party) (*Material, error) {
	return unmarshalMaterialFor(b, req, p, false)
}

// UnmarshalMaterialOwned is UnmarshalMaterialFor for a buffer the caller
// hands over (typically a frame just received from the dealer): the FSS
// keys are decoded in place, sharing b's memory instead of being copied
// (the key bytes may be moved by up to 7 bytes within b to align them), so
// b must not be used afterwards. This saves allocating and copying the
// keys, nearly all of the material of a ReLU layer.
func UnmarshalMaterialOwned(b []byte, req Request, p Party) (*Material, error) {
	return unmarshalMaterialFor(b, req, p, true)
}

func unmarshalMaterialFor(b []byte, req Request, p Party, owned bool) (*Material, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if !p.Valid() {
		return nil, fmt.Errorf("mpc: material: invalid party %d", int(p))
	}
	shape, err := RequestShape(req)
	if err != nil {
		return nil, err
	}
	m, err := unmarshalMaterial(b, shape.Lens(p), owned)
	if err != nil {
		return nil, err
	}
	if err := m.matches(req, p); err != nil {
		return nil, err
	}
	return m, nil
}

// Answers checks that m is well formed (its kind's vector counts, lengths,
// parameter and payload) and answers req for party p: what a protocol
// checks of the material a source returned.
func (m *Material) Answers(req Request, p Party) error {
	if err := m.check(); err != nil {
		return err
	}
	return m.matches(req, p)
}

// matches checks that a well-formed material (check passed) answers req
// for party p: kind, party, shift and key widths.
func (m *Material) matches(req Request, p Party) error {
	if m.Kind != req.Kind || m.Party != p {
		return fmt.Errorf("mpc: material: got %v for the %v, want %v for the %v", m.Kind, m.Party, req.Kind, p)
	}
	d, err := kindDesc(req.Kind)
	if err != nil {
		return err
	}
	if d.MaxShift != 0 && m.Param != uint64(req.Shift) {
		return fmt.Errorf("mpc: material: shift %d, want %d", m.Param, req.Shift)
	}
	if d.Decode == nil {
		return nil
	}
	return d.Matches(req, m.Keys)
}

// unmarshalMaterial decodes b; with owned, FSS keys are decoded in place
// (see UnmarshalMaterialOwned).
func unmarshalMaterial(b []byte, want []int, owned bool) (*Material, error) {
	d := decoder{b: b}
	if string(d.take(len(materialMagic))) != materialMagic {
		return nil, errors.New("mpc: material: bad magic")
	}
	hdr := d.take(2)
	if d.err != nil {
		return nil, fmt.Errorf("mpc: material: %w", d.err)
	}
	m := &Material{Kind: MaterialKind(hdr[0]), Party: Party(hdr[1])}
	m.Param = d.uvarint()
	nv := d.uvarint()
	if d.err == nil && nv > 16 {
		return nil, fmt.Errorf("mpc: material: %d vectors", nv)
	}
	for i := uint64(0); i < nv && d.err == nil; i++ {
		mode := d.take(1)
		n := d.uvarint()
		if d.err != nil {
			break
		}
		if n > MaxMaterialElems {
			return nil, fmt.Errorf("mpc: material: vector of %d values, limit %d", n, MaxMaterialElems)
		}
		if want != nil && (i >= uint64(len(want)) || n != uint64(want[i])) {
			return nil, fmt.Errorf("mpc: material: vector %d of %d values does not match the request", i, n)
		}
		switch mode[0] {
		case 1:
			var s ring.Seed
			copy(s[:], d.take(ring.SeedSize))
			if d.err == nil {
				m.Vecs = append(m.Vecs, SeededVec(s, int(n)))
			}
		case 0:
			if uint64(d.remaining()) < 8*n {
				return nil, fmt.Errorf("mpc: material: vector of %d values truncated", n)
			}
			raw := d.take(int(8 * n))
			m.Vecs = append(m.Vecs, Vec{Data: ring.DecodeWords(raw, false)})
		default:
			return nil, fmt.Errorf("mpc: material: vector mode %d", mode[0])
		}
	}
	nk := d.uvarint()
	if d.err == nil && (nk > MaxKeyBytes || nk > uint64(d.remaining())) {
		return nil, fmt.Errorf("mpc: material: key blob of %d bytes, %d left", nk, d.remaining())
	}
	if d.err == nil && nk > 0 {
		off := len(b) - d.remaining()
		kb := d.take(int(nk))
		if owned {
			kb = alignInPlace(b, off, len(kb))
		}
		c, ok, err := payloadDesc(m.Kind)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("mpc: %v material carries %d bytes of keys", m.Kind, nk)
		}
		if m.Keys, err = c.Decode(kb, owned); err != nil {
			return nil, fmt.Errorf("mpc: %v material: %w", m.Kind, err)
		}
		if owned && c.OwnsFrame {
			m.frame = b
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("mpc: material: %w", d.err)
	}
	if d.remaining() != 0 {
		return nil, fmt.Errorf("mpc: material: %d trailing bytes", d.remaining())
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

// alignInPlace returns the n bytes at b[off:], moved down within b by up
// to 7 bytes to an 8-byte aligned address when b[:off] leaves room (those
// bytes are overwritten: only already-decoded headers lie there, explicit
// vectors having been copied out).
func alignInPlace(b []byte, off, n int) []byte {
	if n == 0 {
		return b[off:off]
	}
	to := off - int(uintptr(unsafe.Pointer(&b[off]))%8)
	if to < 0 {
		return b[off : off+n]
	}
	if to != off {
		copy(b[to:to+n], b[off:off+n])
	}
	return b[to : to+n]
}

// decoder reads a byte slice, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) remaining() int { return len(d.b) }

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = fmt.Errorf("truncated: need %d bytes, have %d", n, len(d.b))
		return nil
	}
	r := d.b[:n]
	d.b = d.b[n:]
	return r
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, k := binary.Uvarint(d.b)
	if k <= 0 || k != uvarintLen(x) {
		d.err = errors.New("bad or non-canonical varint")
		return 0
	}
	d.b = d.b[k:]
	return x
}
