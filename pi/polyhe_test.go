package pi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestPolyHEForm: the HE form compiles only with faithful truncation, puts
// its prime width in the public plan (and only it: default plans encode
// as before), computes the default form's values in EvalFixed, frees ℓ
// from the polynomial values (MinWidths) and marks degree-1 steps; bad
// widths are refused by Compile and Validate, and the dealer suite
// refuses the plan.
func TestPolyHEForm(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 41)
	installPoly(m, 0.5, 1, 42)
	x := randomImages(43, 3, m.Input)
	const f = 12
	if _, err := Compile(m, Config{FracBits: f, Poly: PolyHE}); err == nil || !strings.Contains(err.Error(), TruncFaithful) {
		t.Errorf("HE form with exact truncation: %v, want a refusal naming %q", err, TruncFaithful)
	}
	he, err := Compile(m, Config{FracBits: f, Poly: PolyHE, Trunc: TruncFaithful})
	if err != nil {
		t.Fatal(err)
	}
	if he.Public.PBits != 3*f+DefaultPBitsMargin {
		t.Errorf("default prime width %d, want %d", he.Public.PBits, 3*f+DefaultPBitsMargin)
	}
	def, err := Compile(m, Config{FracBits: f, Trunc: TruncFaithful})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(def.Public)
	if bytes.Contains(b, []byte(`"pbits"`)) {
		t.Error("a plan of the default form encodes a prime width")
	}
	if b, _ = json.Marshal(he.Public); !bytes.Contains(b, []byte(`"pbits":46`)) || !bytes.Contains(b, []byte(`"poly":"he2"`)) {
		t.Error("the HE plan does not encode its form and prime width")
	}
	if he.PublicHash() == def.PublicHash() {
		t.Error("HE and default plans hash alike")
	}
	// A plan of the form's earlier message schedule ("he", before the
	// conversions rode in ReLUTrunc's rounds) is refused, not run.
	old := *he.Public
	old.Poly = "he"
	if err := old.Validate(); err == nil || !strings.Contains(err.Error(), "unknown polynomial form") {
		t.Errorf("a plan of the earlier schedule: %v, want an unknown form", err)
	}
	yh, _, err := he.EvalFixedRaw(x)
	if err != nil {
		t.Fatal(err)
	}
	yd, _, err := def.EvalFixedRaw(x)
	if err != nil {
		t.Fatal(err)
	}
	for i := range yh {
		if yh[i] != yd[i] {
			t.Fatalf("EvalFixed of the HE form differs from the default form's at %d: %d vs %d", i, int64(yh[i]), int64(yd[i]))
		}
	}
	ellHE, pBits, err := he.MinWidths(x)
	if err != nil {
		t.Fatal(err)
	}
	ellDef, pDef, err := def.MinWidths(x)
	if err != nil {
		t.Fatal(err)
	}
	// The default form's ℓ carries v (|v| < 2^(ℓ−2)); the HE form's P does
	// (|v| + 2^2f < 2^(PBits−3)), so PBits = ellDef + 1 when v sets ellDef
	// (and is not within 2^2f of a power of two).
	if pDef != 0 || pBits < 2*f+4 || ellHE > ellDef || (ellHE < ellDef && pBits != ellDef+1) {
		t.Errorf("MinWidths: HE ℓ %d, P %d bits; default ℓ %d, P %d bits", ellHE, pBits, ellDef, pDef)
	}
	t.Logf("MinWidths: HE ℓ %d with P of %d bits; default form ℓ %d", ellHE, pBits, ellDef)

	// Prime widths: only with the HE form, within 2f+4..MaxPBits.
	for _, cfg := range []Config{
		{FracBits: f, Poly: PolyHE, Trunc: TruncFaithful, PBits: 2*f + 3},
		{FracBits: f, Poly: PolyHE, Trunc: TruncFaithful, PBits: MaxPBits + 1},
		{FracBits: f, Poly: PolyNarrow, Trunc: TruncFaithful, PBits: 40},
	} {
		if _, err := Compile(m, cfg); err == nil {
			t.Errorf("Compile accepted %+v", cfg)
		}
	}
	if p, err := Compile(m, Config{FracBits: f, Poly: PolyHE, Trunc: TruncFaithful, PBits: 2*f + 4}); err != nil || p.Public.PBits != 2*f+4 {
		t.Errorf("PBits 2f+4: %v", err)
	}
	for name, edit := range map[string]func(p *Public){
		"narrow with pbits": func(p *Public) { p.Poly = PolyNarrow },
		"pbits too small":   func(p *Public) { p.PBits = 2*f + 3 },
		"pbits too large":   func(p *Public) { p.PBits = 63 },
		"exact truncation":  func(p *Public) { p.Trunc = "" },
	} {
		pub := *he.Public
		edit(&pub)
		if err := pub.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
	}
	if _, err := newSecureBackend(nil, nil, he.Public, he.Secret); err == nil {
		t.Error("dealer suite accepted an HE plan")
	}

	// f = 16 would want a 58-bit prime: refused unless the width is given;
	// FracBits 0 is DefaultHEFrac in this form.
	if _, err := Compile(m, Config{FracBits: 16, Poly: PolyHE, Trunc: TruncFaithful}); err == nil || !strings.Contains(err.Error(), "fractional bits") {
		t.Errorf("HE form at f = 16 with the default prime: %v", err)
	}
	if p, err := Compile(m, Config{FracBits: 16, Poly: PolyHE, Trunc: TruncFaithful, PBits: MaxPBits}); err != nil || p.Public.PBits != MaxPBits {
		t.Errorf("HE form at f = 16 with an explicit prime: %v", err)
	}
	if p, err := Compile(m, Config{Poly: PolyHE, Trunc: TruncFaithful}); err != nil || p.Public.Frac != DefaultHEFrac {
		t.Errorf("HE form's default f: %v", err)
	}

	// A model whose polynomials are all of degree 1 gets its steps marked.
	installPoly(m, 0.5, 0, 44)
	he1, err := Compile(m, Config{FracBits: f, Poly: PolyHE, Trunc: TruncFaithful})
	if err != nil {
		t.Fatal(err)
	}
	deg1 := 0
	for _, st := range he1.Public.Steps {
		deg1 += st.PolyDeg
	}
	if deg1 == 0 {
		t.Error("no step of a C2 = 0 model marked degree 1")
	}
}
