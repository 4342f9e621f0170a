package serve

import (
	"math/rand"
	"testing"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/internal/stat"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/pi"
)

// TestPredict labels 7 random images in batches of 3 (the last one
// short): each prediction carries its dataset index and true label, the
// float label of the image alone, and with a fixed-point config the
// fixed-point executor's label of the image alone; bad arguments are
// errors.
func TestPredict(t *testing.T) {
	m, err := models.Load(testModel)
	if err != nil {
		t.Fatal(err)
	}
	const n = 7
	r := rand.New(rand.NewSource(5))
	set := &data.Set{Name: "noise", N: n, C: m.Input[0], H: m.Input[1], W: m.Input[2], Classes: m.Classes,
		Mean: []float32{0.1307}, Std: []float32{0.3081}, Pixels: make([]uint8, n*m.Input[0]*m.Input[1]*m.Input[2]), Labels: make([]int32, n)}
	for i := range set.Pixels {
		set.Pixels[i] = uint8(r.Intn(256))
	}
	idx := make([]int, n)
	for i := range idx {
		set.Labels[i] = int32(i % m.Classes)
		idx[i] = 100 + 2*i
	}
	cfg := pi.Config{}
	plan, err := pi.Compile(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Predict(m, set, idx, 3, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d predictions for %d images", len(got), n)
	}
	for i, p := range got {
		x := set.Normalized(i)
		y, err := pi.ReferenceLogits(m, x)
		if err != nil {
			t.Fatal(err)
		}
		yf, err := plan.EvalFixed(x)
		if err != nil {
			t.Fatal(err)
		}
		want, wantFixed := stat.Argmax(y.Data), stat.Argmax(yf.Data)
		if p.Index != idx[i] || p.TrueLabel != i%m.Classes || p.Label != want || p.FixedLabel == nil || *p.FixedLabel != wantFixed {
			t.Errorf("image %d: %+v, want index %d, label %d, fixed %d", i, p, idx[i], want, wantFixed)
		}
	}
	plain, err := Predict(m, set, idx, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range plain {
		if p.FixedLabel != nil || p.Label != got[i].Label {
			t.Errorf("without fixed point, image %d: %+v", i, p)
		}
	}
	if _, err := Predict(m, set, idx[1:], 3, nil); err == nil {
		t.Error("6 indices for 7 images accepted")
	}
	if _, err := Predict(m, set, idx, 0, nil); err == nil {
		t.Error("batch 0 accepted")
	}
}
