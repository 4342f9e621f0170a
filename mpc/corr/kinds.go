package corr

import (
	"fmt"
	"sync"
)

// KindDesc describes one material kind: everything the core, the
// generator, the codec and a dealer's cost need to know about it. Each
// kind has exactly one, registered (RegisterKind) by the package that owns
// the kind from its package initialisation (the core mpc its own kinds, a
// protocol family its own), so neither the core nor a generator depends on
// a family, and a new kind is added by registering its description.
type KindDesc struct {
	// Name names the kind in messages (MaterialKind.String).
	Name string
	// Vecs is the number of vectors of each party's material (Server,
	// Client).
	Vecs [2]int
	// Session: the material is fixed for a label over the whole session
	// (generated once, index 0, however often it is requested).
	Session bool
	// MaxShift, if not 0, makes the material's Param the request's shift,
	// in 1..MaxShift; else Param is 0.
	MaxShift uint64
	// EqualLens: all vectors of a party's material have the same length.
	EqualLens bool
	// Validate checks the request fields the kind uses (the label is
	// checked by Request.Validate).
	Validate func(r Request) error
	// Shape is the public shape of the material answering a valid
	// request: vector lengths, parameter, payload size, generation work.
	Shape func(r Request) Shape
	// CheckVecs, if set, checks the lengths of a material's vectors
	// against each other beyond EqualLens (the count is checked before).
	CheckVecs func(m *Material) error
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

// VecShape is the public shape of one vector of a party's material.
type VecShape struct {
	// Len is the number of values.
	Len int
	// Seeded: the vector travels as a 16-byte seed.
	Seeded bool
}

// Shape is the public shape of the material answering one request, known
// from the request alone before anything is generated: the vector
// lengths the decoder bounds, the exact encoded sizes a dealer admits and
// sends, and the generation's work.
type Shape struct {
	// Vecs are each party's vectors (Server, Client) in the kind's order.
	Vecs [2][]VecShape
	// Param is the material's parameter (Material.Param).
	Param uint64
	// PayloadBytes is the encoded payload of each party's material (0:
	// none).
	PayloadBytes int64
	// Elems is the number of ring elements of the request: the batch
	// length of a gate or Beaver request, positions of an activation
	// layer, the largest of the input, output and weight tensors of a
	// linear layer.
	Elems int64
	// MACs is the multiply-adds of the generation's linear algebra (the
	// convolution of a linear layer's material; 0 where the work is linear
	// in Elems).
	MACs int64
}

// Mask adds a vector of n values shared with both shares seeded (as
// Gen.Mask draws).
func (s *Shape) Mask(n int) {
	s.Vecs[Server] = append(s.Vecs[Server], VecShape{n, true})
	s.Vecs[Client] = append(s.Vecs[Client], VecShape{n, true})
}

// Shared adds a vector of n values, the server's share seeded and the
// client's explicit (as Gen.Share draws).
func (s *Shape) Shared(n int) {
	s.Vecs[Server] = append(s.Vecs[Server], VecShape{n, true})
	s.Vecs[Client] = append(s.Vecs[Client], VecShape{n, false})
}

// Lens returns the vector lengths of party p's material.
func (s Shape) Lens(p Party) []int {
	lens := make([]int, len(s.Vecs[p]))
	for i, v := range s.Vecs[p] {
		lens[i] = v.Len
	}
	return lens
}

// Size is the encoded size of party p's material in bytes
// (Material.Size of the material answering the request).
func (s Shape) Size(p Party) int64 {
	n := materialHeadLen(s.Param, len(s.Vecs[p]))
	for _, v := range s.Vecs[p] {
		n += vecLen(v.Len, v.Seeded)
	}
	return n + payloadLen(s.PayloadBytes)
}

// RequestShape returns the shape of the material answering req.
func RequestShape(req Request) (Shape, error) {
	if err := req.Validate(); err != nil {
		return Shape{}, err
	}
	d, err := kindDesc(req.Kind)
	if err != nil {
		return Shape{}, err
	}
	return d.Shape(req), nil
}

var (
	kindsMu sync.RWMutex
	kinds   = map[MaterialKind]KindDesc{}
)

// RegisterKind makes d the description of kind k. The package owning k
// calls it from an init function. It panics (a program error, as
// database/sql.Register) if k is 0 or already registered, or d lacks
// Name, Validate, Shape or Generate, or has a Decode without Check and
// Matches.
func RegisterKind(k MaterialKind, d KindDesc) {
	switch {
	case k == 0:
		panic("mpc: RegisterKind(0)")
	case d.Name == "" || d.Validate == nil || d.Shape == nil || d.Generate == nil:
		panic(fmt.Sprintf("mpc: RegisterKind(%d): no name, Validate, Shape or Generate", uint8(k)))
	case d.Decode != nil && (d.Check == nil || d.Matches == nil):
		panic(fmt.Sprintf("mpc: RegisterKind(%q): a payload needs Check and Matches", d.Name))
	}
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[k]; dup {
		panic(fmt.Sprintf("mpc: RegisterKind(%d, %q) twice", uint8(k), d.Name)) // not %v: String takes the lock
	}
	kinds[k] = d
}

// kindDesc returns the registered description of k, or an error naming
// the missing family.
func kindDesc(k MaterialKind) (KindDesc, error) {
	kindsMu.RLock()
	d, ok := kinds[k]
	kindsMu.RUnlock()
	if !ok {
		return KindDesc{}, fmt.Errorf("mpc: kind(%d) material: no protocol family registered for this kind (import the family, e.g. mpc/fssgates)", uint8(k))
	}
	return d, nil
}

// Describe returns the registered description of k, or an error naming
// the missing family (a generator generates through it).
func Describe(k MaterialKind) (KindDesc, error) { return kindDesc(k) }

// SessionKind reports kinds whose material is fixed for a label over the
// whole session (always index 0).
func SessionKind(k MaterialKind) bool {
	d, err := kindDesc(k)
	return err == nil && d.Session
}

// String names the kind.
func (k MaterialKind) String() string {
	if d, err := kindDesc(k); err == nil {
		return d.Name
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// CheckN checks a request's element count: 0..MaxMaterialElems.
func (r Request) CheckN() error {
	if r.N < 0 || r.N > MaxMaterialElems {
		return fmt.Errorf("mpc: %v request for %d elements", r.Kind, r.N)
	}
	return nil
}
