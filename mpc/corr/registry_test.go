package corr_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/ring"
)

// TestFamilyKindUnregistered: the material of a family kind whose family
// is not registered is an error naming the kind when generated, decoded,
// checked or encoded, never a panic.
func TestFamilyKindUnregistered(t *testing.T) {
	req := corr.Request{Kind: fssgates.KindReLU, Label: "r", N: 3}
	d := dealer.NewGenerator(ring.Seed{1})
	var enc []byte
	if _, err := corr.Describe(fssgates.KindReLU); err == nil { // the external tests link the FSS family in
		m0, _, err := d.Generate(req, 0)
		if err != nil {
			t.Fatal(err)
		}
		if enc, err = m0.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	}
	corr.WithoutKind(fssgates.KindReLU, func() {
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
			_, err = corr.UnmarshalMaterialFor(enc, req, corr.Server)
			noFamily("corr.UnmarshalMaterialFor", err)
		}
		m := &corr.Material{Kind: fssgates.KindReLU, Party: corr.Server, Vecs: []corr.Vec{{Data: make([]uint64, 3)}}}
		_, err = m.MarshalBinary()
		noFamily("MarshalBinary", err)
		// A core kind needs no family.
		if _, _, err := d.Generate(corr.Request{Kind: mpc.KindTruncMSB, Label: "t", N: 3, Shift: 4}, 0); err != nil {
			t.Error(err)
		}
	})
}

// TestRegisterKindRefuses: registering kind 0, a kind twice (a core kind
// included) or an incomplete description is a program error (a panic at
// init), and leaves the registry as it was.
func TestRegisterKindRefuses(t *testing.T) {
	gen := func(corr.Request, corr.Gen, *corr.Material, *corr.Material) error { return nil }
	dec := func([]byte, bool) (corr.Payload, error) { return nil, nil }
	full := corr.KindDesc{Name: "t", Validate: corr.Request.CheckN, Shape: func(corr.Request) corr.Shape { return corr.Shape{} }, Generate: gen}
	without := func(f func(*corr.KindDesc)) corr.KindDesc { d := full; f(&d); return d }
	cases := map[string]func(){
		"core kind":   func() { corr.RegisterKind(mpc.KindLinear, full) },
		"zero kind":   func() { corr.RegisterKind(0, full) },
		"no name":     func() { corr.RegisterKind(testKind, without(func(d *corr.KindDesc) { d.Name = "" })) },
		"no validate": func() { corr.RegisterKind(testKind, without(func(d *corr.KindDesc) { d.Validate = nil })) },
		"no shape":    func() { corr.RegisterKind(testKind, without(func(d *corr.KindDesc) { d.Shape = nil })) },
		"no generator": func() {
			corr.WithoutKind(fssgates.KindDReLU, func() { corr.RegisterKind(fssgates.KindDReLU, without(func(d *corr.KindDesc) { d.Generate = nil })) })
		},
		"payload checks": func() {
			corr.WithoutKind(fssgates.KindDReLU, func() { corr.RegisterKind(fssgates.KindDReLU, without(func(d *corr.KindDesc) { d.Decode = dec })) })
		},
	}
	if _, err := corr.Describe(fssgates.KindReLU); err == nil {
		cases["twice"] = func() { corr.RegisterKind(fssgates.KindReLU, full) }
	}
	before := corr.Registered()
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
	if corr.Registered() != before {
		t.Errorf("registry changed: %d kinds, was %d", corr.Registered(), before)
	}
}

// testKind is a kind number no package registers.
const testKind corr.MaterialKind = 200

// TestNewKindOneDescription: a kind added by registering one description
// (here a copy of the square pairs' under another number and name) is
// validated, generated, sized, encoded and decoded for a request with
// nothing else changed, and its shape's sizes are the encoded sizes.
func TestNewKindOneDescription(t *testing.T) {
	d, err := corr.Describe(mpc.KindSquare)
	if err != nil {
		t.Fatal(err)
	}
	d.Name = "test-pair"
	corr.RegisterKind(testKind, d)
	defer corr.Unregister(testKind)
	if got := testKind.String(); got != "test-pair" {
		t.Errorf("name %q", got)
	}
	if err := (corr.Request{Kind: testKind, N: -1}).Validate(); err == nil {
		t.Error("negative count accepted")
	}
	req := corr.Request{Kind: testKind, Label: "p", N: 5}
	m0, m1, err := dealer.NewGenerator(ring.Seed{3}).Generate(req, 0)
	if err != nil {
		t.Fatal(err)
	}
	shape, err := corr.RequestShape(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*corr.Material{m0, m1} {
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(enc)) != shape.Size(m.Party) || m.Size() != shape.Size(m.Party) {
			t.Errorf("%v: encoded %d bytes, Size %d, shape %d", m.Party, len(enc), m.Size(), shape.Size(m.Party))
		}
		got, err := corr.UnmarshalMaterialFor(enc, req, m.Party)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got.Vecs {
			if !slices.Equal(got.Vecs[i].Data, m.Vecs[i].Data) {
				t.Errorf("%v: vector %d differs after decoding", m.Party, i)
			}
		}
		if _, err := corr.UnmarshalMaterialFor(enc, corr.Request{Kind: testKind, Label: "p", N: 4}, m.Party); err == nil {
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
