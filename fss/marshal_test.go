package fss

import (
	"bytes"
	"slices"
	"testing"
)

func marshalOrFatal(t testing.TB, m interface{ MarshalBinary() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sampleKeys returns marshalled keys of every gate (both parties) and DCF
// keys, small enough for a fuzz corpus.
func sampleKeys(t testing.TB) (gate, dcf [][]byte) {
	prg := testPRG(42)
	rIn := []uint64{3, 1 << 63, ^uint64(0)}
	add := func(k0, k1 *Keys, err error) {
		if err != nil {
			t.Fatal(err)
		}
		gate = append(gate, marshalOrFatal(t, k0), marshalOrFatal(t, k1))
	}
	add(GenDReLU(prg, rIn, 8))
	add(GenReLU(prg, rIn, 5))
	add(GenTrunc(prg, rIn, 9, 3, false))
	add(GenTrunc(prg, rIn, 9, 3, true))
	add(GenReLU(prg, nil, 64))
	add(GenReLUTrunc(prg, rIn, 6, 2))
	d0, d1, err := GenDCF(prg, 7, 2, []uint64{5, 127}, []uint64{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	dcf = append(dcf, marshalOrFatal(t, d0), marshalOrFatal(t, d1))
	return gate, dcf
}

func TestMarshalRoundTrip(t *testing.T) {
	prg := testPRG(5)
	rIn := []uint64{11, 22, 33, 44, 55}
	x := []uint64{7, 1 << 40, ^uint64(0), 1 << 63, 12345}
	for _, gen := range []func() (*Keys, *Keys, error){
		func() (*Keys, *Keys, error) { return GenDReLU(prg, rIn, 64) },
		func() (*Keys, *Keys, error) { return GenReLU(prg, rIn, 37) },
		func() (*Keys, *Keys, error) { return GenTrunc(prg, rIn, 64, 12, true) },
		func() (*Keys, *Keys, error) { return GenTrunc(prg, rIn, 50, 16, false) },
		func() (*Keys, *Keys, error) { return GenReLUTrunc(prg, rIn, 64, 16) },
	} {
		k0, _, err := gen()
		if err != nil {
			t.Fatal(err)
		}
		b := marshalOrFatal(t, k0)
		if want := headerSize + k0.Len()*k0.BytesPerElement(); len(b) != want {
			t.Errorf("%v: %d bytes, want %d", k0.Gate(), len(b), want)
		}
		var back Keys
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(marshalOrFatal(t, &back), b) {
			t.Fatalf("%v: re-marshalled bytes differ", k0.Gate())
		}
		y0, _ := Eval(0, k0, x)
		y1, err := Eval(0, &back, x)
		if err != nil || !slices.Equal(y0, y1) {
			t.Fatalf("%v: decoded keys evaluate differently (%v)", k0.Gate(), err)
		}
		// Every strict prefix and one extra byte are rejected.
		for _, bad := range [][]byte{b[:len(b)-1], b[:headerSize-1], b[:headerSize+8], append(slices.Clone(b), 0)} {
			if err := back.UnmarshalBinary(bad); err == nil {
				t.Errorf("%v: %d of %d bytes accepted", k0.Gate(), len(bad), len(b))
			}
		}
	}
	_, dcf := sampleKeys(t)
	var d DCFKeys
	if err := d.UnmarshalBinary(dcf[1]); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(marshalOrFatal(t, &d), dcf[1]) || d.Party() != 1 || d.Bits() != 7 || d.Payload() != 2 || d.Len() != 2 {
		t.Fatal("DCF round trip")
	}
}

func TestUnmarshalRejects(t *testing.T) {
	gate, dcf := sampleKeys(t)
	mut := func(b []byte, i int, v byte) []byte { c := slices.Clone(b); c[i] = v; return c }
	g := gate[2] // ReLU ℓ=5
	for name, bad := range map[string][]byte{
		"magic":    mut(g, 0, 'X'),
		"version":  mut(g, 4, 2),
		"gate":     mut(g, 5, 9),
		"party":    mut(g, 6, 2),
		"ell":      mut(g, 7, 65),
		"shift":    mut(g, 8, 1),
		"reserved": mut(g, 10, 1),
		"count":    mut(g, 12, 4),
		"seed":     mut(g, headerSize, g[headerSize]|1),
		"empty":    nil,
	} {
		var k Keys
		if err := k.UnmarshalBinary(bad); err == nil {
			t.Errorf("gate keys with bad %s accepted", name)
		}
	}
	d := dcf[0]
	for name, bad := range map[string][]byte{
		"magic": mut(d, 1, 'X'),
		"n":     mut(d, 6, 0),
		"g":     mut(d, 7, MaxPayload+1),
		"count": mut(d, 15, 1),
		"seed":  mut(d, headerSize, d[headerSize]|2),
	} {
		var k DCFKeys
		if err := k.UnmarshalBinary(bad); err == nil {
			t.Errorf("DCF keys with bad %s accepted", name)
		}
	}
}

// FuzzUnmarshalKeys: arbitrary bytes never panic; accepted keys re-marshal
// to the same bytes and evaluate without error.
func FuzzUnmarshalKeys(f *testing.F) {
	gate, dcf := sampleKeys(f)
	for _, b := range append(gate, dcf...) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var k Keys
		if err := k.UnmarshalBinary(b); err == nil {
			if !bytes.Equal(marshalOrFatal(t, &k), b) {
				t.Fatal("gate keys: round trip differs")
			}
			if _, err := Eval(k.Party(), &k, make([]uint64, k.Len())); err != nil {
				t.Fatal(err)
			}
		}
		var d DCFKeys
		if err := d.UnmarshalBinary(b); err == nil {
			if !bytes.Equal(marshalOrFatal(t, &d), b) {
				t.Fatal("DCF keys: round trip differs")
			}
			if _, err := EvalDCF(d.Party(), &d, make([]uint64, d.Len())); err != nil {
				t.Fatal(err)
			}
		}
	})
}
