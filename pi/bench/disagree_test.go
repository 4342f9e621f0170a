package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestDisagreement checks the record of an image whose private label is
// not the fixed-point executor's: the executor's margin between the two
// labels, and whether twice this image's logit difference covers it (a
// tie the faithful truncation may break either way) — the case of image
// 209 of the ResNet-20 d2 agreement run (margin 0.0051, difference up to
// 0.027) and of a genuine error (margin far above the difference).
func TestDisagreement(t *testing.T) {
	fx := []float32{2.0051, -1, 2, 0.5}
	tie := disagreement(209, 2, 0, 2, fx, 0.0273)
	if tie.Image != 209 || tie.Label != 2 || tie.Fixed != 0 || tie.Private != 2 || tie.FixedErr != 0.0273 || !tie.WithinError {
		t.Errorf("tie: %+v", tie)
	}
	if d := tie.FixedMargin - 0.0051; d > 1e-6 || d < -1e-6 {
		t.Errorf("tie margin %g, want 0.0051", tie.FixedMargin)
	}
	wrong := disagreement(3, 0, 0, 3, fx, 0.0273)
	if wrong.WithinError || wrong.FixedMargin < 1.5 {
		t.Errorf("a label 1.5 below the executor's, within 0.0273, counted as a tie: %+v", wrong)
	}
	// Exactly at the bound counts as within it.
	if d := disagreement(0, 0, 0, 2, []float32{1.5, 0, 1}, 0.25); !d.WithinError {
		t.Errorf("margin 0.5 = 2·0.25 not within the error: %+v", d)
	}
	// --output label: no logits, no margin, nothing claimed.
	if d := disagreement(1, 0, 0, 2, nil, 0); d.WithinError || d.FixedMargin != 0 {
		t.Errorf("no logits: %+v", d)
	}
	// A label outside the logits (a hostile peer's) is recorded, not indexed.
	if d := disagreement(1, 0, 0, 7, fx, 0.1); d.WithinError || d.Private != 7 {
		t.Errorf("label out of range: %+v", d)
	}
	r := &Report{N: 10, Agree: 0.8, Disagreements: []Disagreement{tie, wrong}}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"image 209 (label 2): private 2, fixed point 0, fixed-point margin 0.0051, |private − fixed| ≤ 0.0273: a tie within the truncation error\n",
		"image 3 (label 0): private 3, fixed point 0, fixed-point margin 1.505, |private − fixed| ≤ 0.0273\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"disagreements":[{"image":209,"label":2,"fixed_label":0,"private_label":2,"fixed_margin":0.005`)) ||
		!bytes.Contains(b, []byte(`"within_error":true}`)) {
		t.Errorf("JSON: %s", b)
	}
}
