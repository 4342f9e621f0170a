package mpc_test

import (
	"bytes"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/mpc/fssgates"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// sampleRequests covers every kind.
func sampleRequests() []corr.Request {
	act := corr.ActSpec{N: 2, C: 3, HW: 5, ReLU: corr.MaskOf([]bool{true, false, true, true, false, false, false, true, false, true, true, true, false, false, true})}
	return []corr.Request{
		{Kind: mpc.KindWeightMask, Label: "conv1", Linear: corr.LinearSpec{N: 1, C: 3, H: 5, W: 5, K: 4, R: 3, S: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, Groups: 1}},
		{Kind: mpc.KindLinear, Label: "conv1", Linear: corr.LinearSpec{N: 1, C: 3, H: 5, W: 5, K: 4, R: 3, S: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, Groups: 1}},
		{Kind: mpc.KindLinear, Label: "fc", Linear: corr.DenseSpec(2, 7, 3)},
		{Kind: mpc.KindCoefMask, Label: "act", Act: corr.ActSpec{C: 3}},
		{Kind: mpc.KindPoly, Label: "act", Act: act},
		{Kind: mpc.KindPoly, Label: "act", Act: corr.ActSpec{N: 1, C: 3, HW: 2}},
		{Kind: fssgates.KindTrunc, Label: "t", N: 9, Shift: 16},
		{Kind: fssgates.KindTrunc, Label: "t", N: 4, Shift: 12, Ell: 37},
		{Kind: fssgates.KindReLU, Label: "r", N: 6, Ell: 40},
		{Kind: fssgates.KindDReLU, Label: "d", N: 5},
		{Kind: mpc.KindTriple, Label: "m", N: 8},
		{Kind: mpc.KindSquare, Label: "s", N: 3},
		{Kind: fssgates.KindReLUTrunc, Label: "rt", N: 4, Shift: 16},
		{Kind: fssgates.KindReLUTrunc, Label: "rt", N: 2, Shift: 12, Ell: 40},
		{Kind: mpc.KindTruncMSB, Label: "tm", N: 7, Shift: 16},
		{Kind: mpc.KindTruncMSB, Label: "tm", N: 3, Shift: 61},
	}
}

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range sampleRequests() {
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("%v: %v", r.Kind, err)
		}
		got, err := corr.UnmarshalRequest(b)
		if err != nil {
			t.Fatalf("%v: %v", r.Kind, err)
		}
		b2, _ := got.MarshalBinary()
		if !bytes.Equal(b, b2) || got.Label != r.Label || !slices.Equal(got.Act.ReLU, r.Act.ReLU) || got.Linear != r.Linear {
			t.Fatalf("%v: round trip changed the request", r.Kind)
		}
		for cut := 0; cut < len(b); cut++ {
			if _, err := corr.UnmarshalRequest(b[:cut]); err == nil {
				t.Fatalf("%v: truncated request (%d of %d bytes) accepted", r.Kind, cut, len(b))
			}
		}
		if _, err := corr.UnmarshalRequest(append(b, 0)); err == nil {
			t.Fatalf("%v: trailing byte accepted", r.Kind)
		}
	}
	bad := []corr.Request{
		{Kind: 0},
		{Kind: fssgates.KindTrunc, N: 3, Shift: 0},
		{Kind: fssgates.KindTrunc, N: 3, Shift: 40, Ell: 40},
		{Kind: fssgates.KindReLU, N: -1},
		{Kind: fssgates.KindReLU, N: 1, Ell: 65},
		{Kind: mpc.KindLinear, Linear: corr.LinearSpec{N: 1, C: 3, H: 2, W: 2, K: 2, R: 3, S: 3, StrideH: 1, StrideW: 1, Groups: 1}},
		{Kind: mpc.KindLinear, Linear: corr.LinearSpec{N: 1, C: 3, H: 2, W: 2, K: 2, R: 1, S: 1, StrideH: 1, StrideW: 1, Groups: 2}},
		{Kind: mpc.KindPoly, Act: corr.ActSpec{N: 1, C: 2, HW: 2, ReLU: corr.ReLUMask{1, 0}}}, // 2 bytes for 4 positions
		{Kind: mpc.KindPoly, Act: corr.ActSpec{N: 1, C: 2, HW: 2, ReLU: corr.ReLUMask{0x11}}}, // padding bit set
		{Kind: fssgates.KindReLU, N: 1, Label: strings.Repeat("x", 5000)},
		{Kind: mpc.KindTruncMSB, N: 3, Shift: 0},
		{Kind: mpc.KindTruncMSB, N: 3, Shift: 62},
		{Kind: mpc.KindTruncMSB, N: 3, Shift: 16, Ell: 48},
		{Kind: mpc.KindTruncMSB, N: -1, Shift: 16},
	}
	for i, r := range bad {
		if err := r.Validate(); err == nil {
			t.Errorf("bad request %d accepted", i)
		}
		if _, err := r.MarshalBinary(); err == nil {
			t.Errorf("bad request %d marshalled", i)
		}
	}
}

func TestMaterialRoundTripAndDeterminism(t *testing.T) {
	var seed ring.Seed
	seed[3] = 7
	d1, d2 := dealer.NewGenerator(seed), dealer.NewGenerator(seed)
	seed[3] = 8
	d3 := dealer.NewGenerator(seed)
	for _, r := range sampleRequests() {
		a0, a1, err := d1.Generate(r, 2)
		if err != nil {
			t.Fatalf("%v: %v", r.Kind, err)
		}
		b0, b1, _ := d2.Generate(r, 2)
		c0, _, _ := d3.Generate(r, 2)
		for _, pair := range [][2]*corr.Material{{a0, b0}, {a1, b1}} {
			x, err := pair[0].MarshalBinary()
			if err != nil {
				t.Fatalf("%v: %v", r.Kind, err)
			}
			y, _ := pair[1].MarshalBinary()
			if !bytes.Equal(x, y) {
				t.Fatalf("%v: dealer with the same seed is not deterministic", r.Kind)
			}
			if int64(len(x)) != pair[0].Size() {
				t.Fatalf("%v: Size %d, encoding %d bytes", r.Kind, pair[0].Size(), len(x))
			}
			m, err := corr.UnmarshalMaterial(x)
			if err != nil {
				t.Fatalf("%v: %v", r.Kind, err)
			}
			if _, err := corr.UnmarshalMaterialFor(x, r, pair[0].Party); err != nil {
				t.Fatalf("%v: for its request: %v", r.Kind, err)
			}
			if _, err := corr.UnmarshalMaterialFor(x, r, 1-pair[0].Party); err == nil {
				t.Fatalf("%v: accepted for the other party", r.Kind)
			}
			other := r
			other.N++
			other.Act.C++
			other.Linear.K++
			if _, err := corr.UnmarshalMaterialFor(x, other, pair[0].Party); err == nil && len(m.Vecs) > 0 {
				t.Fatalf("%v: accepted for a request of another size", r.Kind)
			}
			z, _ := m.MarshalBinary()
			if !bytes.Equal(x, z) {
				t.Fatalf("%v: round trip changed the material", r.Kind)
			}
			for i := range m.Vecs {
				if !slices.Equal(m.Vecs[i].Data, pair[0].Vecs[i].Data) {
					t.Fatalf("%v: vector %d differs after decoding", r.Kind, i)
				}
			}
			for _, cut := range []int{0, 3, 5, len(x) / 2, len(x) - 1} {
				if cut < len(x) {
					if _, err := corr.UnmarshalMaterial(x[:cut]); err == nil {
						t.Fatalf("%v: truncated material accepted", r.Kind)
					}
				}
			}
			if _, err := corr.UnmarshalMaterial(append(x, 1)); err == nil {
				t.Fatalf("%v: trailing byte accepted", r.Kind)
			}
		}
		x, _ := a0.MarshalBinary()
		y, _ := c0.MarshalBinary()
		if len(a0.Vecs) > 0 && bytes.Equal(x, y) {
			t.Fatalf("%v: different seeds gave the same material", r.Kind)
		}
	}
}

func TestMaterialRejectsInconsistent(t *testing.T) {
	var seed ring.Seed
	d := dealer.NewGenerator(seed)
	m0, m1, err := d.Generate(corr.Request{Kind: fssgates.KindReLU, Label: "r", N: 4}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Party swapped: the keys belong to the other party.
	m0.Party = mpc.Client
	if _, err := m0.MarshalBinary(); err == nil {
		t.Error("material with another party's keys accepted")
	}
	m0.Party = mpc.Server
	// Kind mismatch with the keys.
	m1.Kind = fssgates.KindDReLU
	if _, err := m1.MarshalBinary(); err == nil {
		t.Error("ReLU keys accepted as DReLU material")
	}
	m1.Kind = fssgates.KindReLU
	// Fewer masks than keys.
	m1.Vecs[0].Data = m1.Vecs[0].Data[:3]
	m1.Vecs[0].Seed = nil
	if _, err := m1.MarshalBinary(); err == nil {
		t.Error("3 masks for 4 keys accepted")
	}
	t0, _, _ := d.Generate(corr.Request{Kind: mpc.KindTriple, Label: "m", N: 4}, 0)
	t0.Vecs[2] = corr.Vec{Data: make([]uint64, 5)}
	if _, err := t0.MarshalBinary(); err == nil {
		t.Error("triple with vectors of different lengths accepted")
	}
	// Byte-level corruption: every single-byte change of a small encoding
	// is either rejected or decodes to a well-formed material.
	x, _ := m0.MarshalBinary()
	for i := range x {
		y := append([]byte(nil), x...)
		y[i] ^= 0x41
		if m, err := corr.UnmarshalMaterial(y); err == nil {
			if _, err := m.MarshalBinary(); err != nil {
				t.Fatalf("byte %d: decoded material does not re-encode: %v", i, err)
			}
		}
	}
}

func TestProvidersMismatchAndSession(t *testing.T) {
	var seed ring.Seed
	p0, p1 := dealer.LocalProviders(dealer.NewGenerator(seed))
	if _, err := p0.Get(corr.Request{Kind: fssgates.KindReLU, Label: "a", N: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := p1.Get(corr.Request{Kind: fssgates.KindReLU, Label: "a", N: 6}); err == nil {
		t.Error("parties asking for different material was not detected")
	}
	if _, err := p1.Get(corr.Request{Kind: fssgates.KindReLU, Label: "a", N: -2}); err == nil {
		t.Error("invalid request accepted")
	}
	if _, err := mpc.NewSession(mpc.Client, nil, 0); err == nil {
		t.Error("session without a connection accepted")
	}
	// The protocols fetch from the source they are given: one serving the
	// other party, or none, is an error before anything is fetched.
	c0, c1 := transport.Pipe()
	defer c0.Close()
	defer c1.Close()
	cs, err := mpc.NewSession(mpc.Client, c1, 0)
	if err != nil {
		t.Fatal(err)
	}
	items := p0.Offline().Items
	if _, err := cs.Fetch(p0, corr.Request{Kind: mpc.KindTriple, Label: "t", N: 2}); err == nil || !strings.Contains(err.Error(), "serves the server") {
		t.Errorf("the server's source on the client's session: %v", err)
	}
	if _, err := cs.Mul(nil, "t", []uint64{1}, []uint64{2}); err == nil || !strings.Contains(err.Error(), "no correlation source") {
		t.Errorf("no source: %v", err)
	}
	if got := p0.Offline().Items; got != items {
		t.Errorf("%d items fetched from the wrong source", got-items)
	}
	// Session-level masks are stable however often they are requested.
	req := corr.Request{Kind: mpc.KindWeightMask, Label: "w", Linear: corr.DenseSpec(1, 4, 2)}
	a, _ := p0.Get(req)
	b, _ := p0.Get(req)
	if !slices.Equal(a.Vecs[0].Data, b.Vecs[0].Data) {
		t.Error("weight mask changed between requests")
	}
}

// FuzzUnmarshalMaterial: decoding arbitrary bytes for a known request
// never panics or over-allocates, and what decodes re-encodes to the same
// bytes.
func FuzzUnmarshalMaterial(f *testing.F) {
	var seed ring.Seed
	d := dealer.NewGenerator(seed)
	reqs := sampleRequests()
	for i, r := range reqs {
		m0, m1, err := d.Generate(r, 0)
		if err != nil {
			f.Fatal(err)
		}
		for p, m := range []*corr.Material{m0, m1} {
			b, _ := m.MarshalBinary()
			if len(b) < 1<<12 {
				f.Add(uint8(i), uint8(p), b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, ri, p uint8, b []byte) {
		req := reqs[int(ri)%len(reqs)]
		m, err := corr.UnmarshalMaterialFor(b, req, mpc.Party(p%2))
		if err != nil {
			return
		}
		c, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded material does not re-encode: %v", err)
		}
		if !bytes.Equal(b, c) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// FuzzUnmarshalRequest: decoding arbitrary bytes never panics, and what
// decodes re-encodes to the same bytes.
func FuzzUnmarshalRequest(f *testing.F) {
	for _, r := range sampleRequests() {
		b, _ := r.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := corr.UnmarshalRequest(b)
		if err != nil {
			return
		}
		c, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded request does not re-encode: %v", err)
		}
		if !bytes.Equal(b, c) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// TestSessionsDoNotShareMasks: two sessions of one dealer get independent
// masks; the same seed reproduces the same sessions.
func TestSessionsDoNotShareMasks(t *testing.T) {
	var seed ring.Seed
	seed[9] = 4
	req := corr.Request{Kind: mpc.KindLinear, Label: "fc", Linear: corr.DenseSpec(1, 8, 3)}
	first := func(d *dealer.Generator) []uint64 {
		_, p1 := dealer.LocalProviders(d)
		m, err := p1.Get(req)
		if err != nil {
			t.Fatal(err)
		}
		return m.Vecs[0].Data // the client's input mask R
	}
	d := dealer.NewGenerator(seed)
	a, b := first(d), first(d)
	if slices.Equal(a, b) {
		t.Fatal("two sessions of one dealer reuse the input mask")
	}
	if c := first(dealer.NewGenerator(seed)); !slices.Equal(a, c) {
		t.Fatal("the same seed did not reproduce the first session")
	}
}

func TestHugeSpecsRejected(t *testing.T) {
	huge := []corr.Request{
		{Kind: mpc.KindPoly, Label: "p", Act: corr.ActSpec{N: 1 << 24, C: 1 << 24, HW: 1 << 16}},
		{Kind: mpc.KindPoly, Label: "p", Act: corr.ActSpec{N: 1 << 20, C: 1 << 10, HW: 1 << 10}},
		{Kind: mpc.KindLinear, Label: "l", Linear: corr.LinearSpec{N: 1 << 24, C: 1 << 24, H: 1 << 24, W: 1 << 24, K: 1, R: 1, S: 1}},
	}
	for i, r := range huge {
		if err := r.Validate(); err == nil {
			t.Errorf("huge request %d accepted", i)
		}
	}
	if err := (mpc.PoolSpec{N: 1 << 24, C: 1 << 24, H: 1 << 16, W: 1, K: 1, Stride: 1}).Validate(); err == nil {
		t.Error("huge pool accepted")
	}
	if _, err := mpc.GlobalSumPool(1<<24, 1<<24, 1<<16, nil); err == nil {
		t.Error("huge global pool accepted")
	}
}

// TestUnmarshalMaterialOwned decodes every kind in place at every
// alignment of the buffer and checks that the result re-encodes to the
// same bytes as the copying decoder's (keys included).
func TestUnmarshalMaterialOwned(t *testing.T) {
	var seed ring.Seed
	seed[1] = 9
	d := dealer.NewGenerator(seed)
	for _, r := range sampleRequests() {
		m0, m1, err := d.Generate(r, 0)
		if err != nil {
			t.Fatalf("%v: %v", r.Kind, err)
		}
		for _, m := range []*corr.Material{m0, m1} {
			x, err := m.MarshalBinary()
			if err != nil {
				t.Fatalf("%v: %v", r.Kind, err)
			}
			for shift := range 9 {
				buf := make([]byte, shift+len(x))
				copy(buf[shift:], x)
				got, err := corr.UnmarshalMaterialOwned(buf[shift:], r, m.Party)
				if err != nil {
					t.Fatalf("%v, offset %d: %v", r.Kind, shift, err)
				}
				y, err := got.MarshalBinary()
				if err != nil || !bytes.Equal(x, y) {
					t.Fatalf("%v, offset %d: in-place decoding changed the material (%v)", r.Kind, shift, err)
				}
			}
			if _, err := corr.UnmarshalMaterialOwned(append([]byte(nil), x...), r, 1-m.Party); err == nil {
				t.Fatalf("%v: accepted for the other party", r.Kind)
			}
			if len(x) > 8 {
				if _, err := corr.UnmarshalMaterialOwned(append([]byte(nil), x[:len(x)-1]...), r, m.Party); err == nil {
					t.Fatalf("%v: truncated material accepted", r.Kind)
				}
			}
		}
	}
}

// TestMarshalParts checks that the two parts concatenate to MarshalBinary's
// encoding for every kind.
func TestMarshalParts(t *testing.T) {
	d := dealer.NewGenerator(ring.Seed{5})
	for _, r := range sampleRequests() {
		m0, m1, err := d.Generate(r, 0)
		if err != nil {
			t.Fatalf("%v: %v", r.Kind, err)
		}
		for _, m := range []*corr.Material{m0, m1} {
			want, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			head, body, err := m.MarshalParts()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(slices.Concat(head, body), want) {
				t.Fatalf("%v: parts differ from MarshalBinary", r.Kind)
			}
			if (m.Keys != nil) != (len(body) > 0) {
				t.Fatalf("%v: body of %d bytes", r.Kind, len(body))
			}
		}
	}
}

// TestSessionHoldsNoSource: the session is party, connection and
// precision; no field of it can hold a source of correlated randomness
// (issue 13: the protocols take their Provider as an argument).
func TestSessionHoldsNoSource(t *testing.T) {
	st := reflect.TypeFor[mpc.Session]()
	prov := reflect.TypeFor[corr.Provider]()
	for i := range st.NumField() {
		f := st.Field(i)
		if f.Type.Implements(prov) || f.Type == prov || (f.Type.Kind() == reflect.Interface && prov.Implements(f.Type) && f.Type.NumMethod() > 0) {
			t.Errorf("mpc.Session.%s (%v) can hold a Provider", f.Name, f.Type)
		}
	}
}
