package mpc

import (
	"strings"
	"testing"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
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
	req := Request{Kind: KindReLU, Label: "r", N: 3}
	d := NewGenerator(ring.Seed{1})
	var enc []byte
	if _, err := kindImpl(KindReLU); err == nil { // the external tests link the FSS family in
		m0, _, err := d.Generate(req, 0)
		if err != nil {
			t.Fatal(err)
		}
		if enc, err = m0.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	}
	withoutFamily(KindReLU, func() {
		noFamily := func(what string, err error) {
			t.Helper()
			if err == nil || !strings.Contains(err.Error(), "no protocol family registered") || !strings.Contains(err.Error(), "relu") {
				t.Errorf("%s without the family: %v", what, err)
			}
		}
		_, _, err := d.Generate(req, 0)
		noFamily("Generate", err)
		if enc != nil {
			_, err = UnmarshalMaterialFor(enc, req, Server)
			noFamily("UnmarshalMaterialFor", err)
		}
		m := &Material{Kind: KindReLU, Party: Server, Vecs: []Vec{{Data: make([]uint64, 3)}}}
		_, err = m.MarshalBinary()
		noFamily("MarshalBinary", err)
		// A core kind needs no family.
		if _, _, err := d.Generate(Request{Kind: KindTruncMSB, Label: "t", N: 3, Shift: 4}, 0); err != nil {
			t.Error(err)
		}
	})
}

// TestRegisterKindRefuses: registering a core kind, an unknown kind, a kind
// twice or an incomplete implementation is a program error (a panic at
// init), and leaves the registry as it was.
func TestRegisterKindRefuses(t *testing.T) {
	gen := func(Request, Gen, *Material, *Material) error { return nil }
	dec := func([]byte, bool) (Payload, error) { return nil, nil }
	cases := map[string]func(){
		"core kind":    func() { RegisterKind(KindLinear, KindImpl{Generate: gen}) },
		"unknown kind": func() { RegisterKind(kindEnd, KindImpl{Generate: gen}) },
		"zero kind":    func() { RegisterKind(0, KindImpl{Generate: gen}) },
		"no generator": func() { withoutFamily(KindDReLU, func() { RegisterKind(KindDReLU, KindImpl{}) }) },
		"payload checks": func() {
			withoutFamily(KindDReLU, func() { RegisterKind(KindDReLU, KindImpl{Generate: gen, Decode: dec}) })
		},
	}
	if _, err := kindImpl(KindReLU); err == nil {
		cases["twice"] = func() { RegisterKind(KindReLU, KindImpl{Generate: gen}) }
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
