package mpc

import (
	"slices"
	"strings"
	"testing"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// The FSS family's kinds (fssgates.KindReLU, KindDReLU), by value: a test
// inside the core cannot import the family.
const (
	kindReLU  MaterialKind = 6
	kindDReLU MaterialKind = 7
)

// withoutFamily runs f with kind k's registered family (if any) removed,
// as in a program that does not import the family.
func withoutFamily(k MaterialKind, f func()) {
	kindsMu.Lock()
	impl, ok := kinds[k]
	delete(kinds, k)
	kindsMu.Unlock()
	defer func() {
		if ok {
			kindsMu.Lock()
			kinds[k] = impl
			kindsMu.Unlock()
		}
	}()
	f()
}

// TestFamilyKindUnregistered: the material of a family kind whose family
// is not registered is an error naming the kind when generated, decoded,
// checked or encoded, never a panic.
func TestFamilyKindUnregistered(t *testing.T) {
	req := Request{Kind: kindReLU, Label: "r", N: 3}
	d := NewGenerator(ring.Seed{1})
	var enc []byte
	if _, err := kindDesc(kindReLU); err == nil { // the external tests link the FSS family in
		m0, _, err := d.Generate(req, 0)
		if err != nil {
			t.Fatal(err)
		}
		if enc, err = m0.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	}
	withoutFamily(kindReLU, func() {
		noFamily := func(what string, err error) {
			t.Helper()
			// Without its family the core knows the kind by number only.
			if err == nil || !strings.Contains(err.Error(), "no protocol family registered") || !strings.Contains(err.Error(), "kind(6)") {
				t.Errorf("%s without the family: %v", what, err)
			}
		}
		_, _, err := d.Generate(req, 0)
		noFamily("Generate", err)
		if enc != nil {
			_, err = UnmarshalMaterialFor(enc, req, Server)
			noFamily("UnmarshalMaterialFor", err)
		}
		m := &Material{Kind: kindReLU, Party: Server, Vecs: []Vec{{Data: make([]uint64, 3)}}}
		_, err = m.MarshalBinary()
		noFamily("MarshalBinary", err)
		// A core kind needs no family.
		if _, _, err := d.Generate(Request{Kind: KindTruncMSB, Label: "t", N: 3, Shift: 4}, 0); err != nil {
			t.Error(err)
		}
	})
}

// TestRegisterKindRefuses: registering kind 0, a kind twice (a core kind
// included) or an incomplete description is a program error (a panic at
// init), and leaves the registry as it was.
func TestRegisterKindRefuses(t *testing.T) {
	gen := func(Request, Gen, *Material, *Material) error { return nil }
	dec := func([]byte, bool) (Payload, error) { return nil, nil }
	full := KindDesc{Name: "t", Validate: Request.CheckN, Shape: func(Request) Shape { return Shape{} }, Generate: gen}
	without := func(f func(*KindDesc)) KindDesc { d := full; f(&d); return d }
	cases := map[string]func(){
		"core kind":   func() { RegisterKind(KindLinear, full) },
		"zero kind":   func() { RegisterKind(0, full) },
		"no name":     func() { RegisterKind(testKind, without(func(d *KindDesc) { d.Name = "" })) },
		"no validate": func() { RegisterKind(testKind, without(func(d *KindDesc) { d.Validate = nil })) },
		"no shape":    func() { RegisterKind(testKind, without(func(d *KindDesc) { d.Shape = nil })) },
		"no generator": func() {
			withoutFamily(kindDReLU, func() { RegisterKind(kindDReLU, without(func(d *KindDesc) { d.Generate = nil })) })
		},
		"payload checks": func() {
			withoutFamily(kindDReLU, func() { RegisterKind(kindDReLU, without(func(d *KindDesc) { d.Decode = dec })) })
		},
	}
	if _, err := kindDesc(kindReLU); err == nil {
		cases["twice"] = func() { RegisterKind(kindReLU, full) }
	}
	before := len(kinds)
	for name, f := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: registered", name)
				}
			}()
			f()
		}()
	}
	if len(kinds) != before {
		t.Errorf("registry changed: %d kinds, was %d", len(kinds), before)
	}
}

// testKind is a kind number no package registers.
const testKind MaterialKind = 200

// TestNewKindOneDescription: a kind added by registering one description
// (here a copy of the square pairs' under another number and name) is
// validated, generated, sized, encoded and decoded for a request with
// nothing else changed, and its shape's sizes are the encoded sizes.
func TestNewKindOneDescription(t *testing.T) {
	d, err := kindDesc(KindSquare)
	if err != nil {
		t.Fatal(err)
	}
	d.Name = "test-pair"
	RegisterKind(testKind, d)
	defer func() {
		kindsMu.Lock()
		delete(kinds, testKind)
		kindsMu.Unlock()
	}()
	if got := testKind.String(); got != "test-pair" {
		t.Errorf("name %q", got)
	}
	if err := (Request{Kind: testKind, N: -1}).Validate(); err == nil {
		t.Error("negative count accepted")
	}
	req := Request{Kind: testKind, Label: "p", N: 5}
	m0, m1, err := NewGenerator(ring.Seed{3}).Generate(req, 0)
	if err != nil {
		t.Fatal(err)
	}
	shape, err := RequestShape(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Material{m0, m1} {
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(enc)) != shape.Size(m.Party) || m.Size() != shape.Size(m.Party) {
			t.Errorf("%v: encoded %d bytes, Size %d, shape %d", m.Party, len(enc), m.Size(), shape.Size(m.Party))
		}
		got, err := UnmarshalMaterialFor(enc, req, m.Party)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got.Vecs {
			if !slices.Equal(got.Vecs[i].Data, m.Vecs[i].Data) {
				t.Errorf("%v: vector %d differs after decoding", m.Party, i)
			}
		}
		if _, err := UnmarshalMaterialFor(enc, Request{Kind: testKind, Label: "p", N: 4}, m.Party); err == nil {
			t.Errorf("%v: material of 5 accepted for a request of 4", m.Party)
		}
	}
	// The halves are shares of a and a².
	for i := range 5 {
		a := m0.Vecs[0].Data[i] + m1.Vecs[0].Data[i]
		if got := m0.Vecs[1].Data[i] + m1.Vecs[1].Data[i]; got != a*a {
			t.Fatalf("position %d: shares of %d, want %d", i, got, a*a)
		}
	}
}

// TestSessionWithoutGates: a layer that needs comparison gates on a
// session without them (Session.Gates nil) is an error naming them,
// before any material is fetched or anything is sent.
func TestSessionWithoutGates(t *testing.T) {
	p0, _ := LocalProviders(NewGenerator(ring.Seed{2}))
	c0, c1 := transport.Pipe()
	defer c0.Close()
	defer c1.Close()
	src := p0
	s, err := NewSession(Server, c0, 16)
	if err != nil {
		t.Fatal(err)
	}
	spec := ActSpec{N: 1, C: 1, HW: 4, ReLU: MaskOf([]bool{true, true, true, true})}
	_, err = s.Act(src, "a", nil, spec, make([]uint64, 4))
	if err == nil || !strings.Contains(err.Error(), "Session.Gates") {
		t.Errorf("Act without gates: %v", err)
	}
	_, err = s.MaxPool(src, "p", PoolSpec{N: 1, C: 1, H: 2, W: 2, K: 2, Stride: 2}, make([]uint64, 4))
	if err == nil || !strings.Contains(err.Error(), "Session.Gates") {
		t.Errorf("MaxPool without gates: %v", err)
	}
	if st := p0.Offline(); st.Items != 0 {
		t.Errorf("%d items of material fetched", st.Items)
	}
	if n := c0.Stats().Total(); n.BytesSent != 0 {
		t.Errorf("%d bytes sent", n.BytesSent)
	}
}
