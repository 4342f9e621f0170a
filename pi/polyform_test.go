package pi

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/tensor"
)

// TestNarrowEval checks the narrow form's scalar pieces against plain
// integer arithmetic: sqTrunc beyond 64-bit squares, evalNarrow, and the
// rounding of the coefficients (C1 at 2f → f, C0 at 3f → 2f).
func TestNarrowEval(t *testing.T) {
	const f = 16
	for _, v := range []int64{0, 1, -1, 65535, -65536, 3 << 20, -(5 << 30), 1 << 40} {
		sq := sqTrunc(uint64(v), f)
		hi, lo := uint64(0), uint64(v*v) // exact below 2^63
		if v > 1<<31 || v < -(1<<31) {
			continue
		}
		if want := (hi<<(64-f) | lo>>f); sq != want {
			t.Errorf("sqTrunc(%d) = %d, want %d", v, sq, want)
		}
	}
	if got, want := sqTrunc(uint64(1)<<36, f), uint64(1)<<(72-f); got != want {
		t.Errorf("sqTrunc(2^36) = %d, want 2^56 (%d)", got, want)
	}
	// a = 0.25, b = −0.5, c = 0.125: at t = 3.0 the polynomial is 0.875.
	mhalf := -(int64(1) << (2*f - 1))
	coef := []uint64{uint64(1) << (3*f - 3), uint64(mhalf), uint64(1) << (f - 2)}
	a, b, c := narrowCoef(coef, 0, f)
	if int64(a) != 1<<(f-2) || int64(b) != -(1<<(f-1)) || int64(c) != 1<<(2*f-3) {
		t.Fatalf("narrowCoef = %d, %d, %d", int64(a), int64(b), int64(c))
	}
	if got := int64(evalNarrow(a, b, c, 3<<f, f)); got != 7<<(f-3) {
		t.Errorf("p(3.0) = %d, want 0.875·2^16 = %d", got, 7<<(f-3))
	}
	// ⌊(a·⌊t²/2^f⌋ + b·t + c)/2^f⌋ at t = −1 unit: ⌊(0 + 2^15 + 2^29)/2^16⌋.
	if got, want := int64(evalNarrow(a, b, c, ^uint64(0), f)), int64((1<<15+1<<29)>>16); got != want {
		t.Errorf("p(−2^−16) = %d, want %d", got, want)
	}
}

// TestNarrowPlanHash: the default form leaves the public plan's encoding
// (and so its hash and the dealer suite's pins) as before, the narrow form
// changes it, and the dealer suite refuses a narrow plan.
func TestNarrowPlanHash(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 31)
	installPoly(m, 0.5, 0, 32)
	def, err := Compile(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	nar, err := Compile(m, Config{Poly: PolyNarrow})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(def.Public)
	if bytes.Contains(b, []byte(`"poly"`)) || bytes.Contains(b, []byte(`"poly_deg"`)) {
		t.Errorf("default plan encodes the form: %s", b[:min(len(b), 200)])
	}
	if def.PublicHash() == nar.PublicHash() {
		t.Error("narrow and default plans hash alike")
	}
	deg1 := 0
	for _, st := range nar.Public.Steps {
		deg1 += st.PolyDeg
	}
	if deg1 == 0 {
		t.Error("no step of a C2 = 0 model marked degree 1")
	}
	if _, err := Compile(m, Config{Poly: "wide"}); err == nil {
		t.Error("unknown form accepted")
	}
	if _, err := newSecureBackend(nil, nil, nar.Public, nar.Secret); err == nil {
		t.Error("dealer suite accepted a narrow plan")
	}
}

// checkNarrow compiles m in the narrow form at f fractional bits and the
// width MinEll gives for x, requires that width to be below the default
// form's, runs the two-party suite and requires EvalFixed's logits bit for
// bit; it returns the narrow plan and the client's statistics.
func checkNarrow(t *testing.T, m *models.Model, f uint, x *tensor.Tensor) (*Plan, secureResult) {
	t.Helper()
	wide, err := Compile(m, Config{FracBits: f})
	if err != nil {
		t.Fatal(err)
	}
	nar, err := Compile(m, Config{FracBits: f, Poly: PolyNarrow})
	if err != nil {
		t.Fatal(err)
	}
	ew, err := wide.MinEll(x)
	if err != nil {
		t.Fatal(err)
	}
	en, err := nar.MinEll(x)
	if err != nil {
		t.Fatal(err)
	}
	if en >= ew || en > 64 {
		t.Fatalf("MinEll narrow %d, default %d: want narrow below default and ≤ 64", en, ew)
	}
	plan, err := Compile(m, Config{FracBits: f, Poly: PolyNarrow, Ell: en})
	if err != nil {
		t.Fatal(err)
	}
	res := checkTwoPartyExact(t, plan, x)
	t.Logf("f %d: MinEll default %d, narrow %d; online %d B, %d rounds; inline offline %d B; setup %d B",
		f, ew, en, res.stats[0].Online.Bytes(), res.stats[0].Online.Rounds,
		res.stats[0].OfflineInline.Bytes(), res.client.Setup.Offline.Bytes())
	return plan, res
}

// TestNarrowExactSynthetic: a random LeNet with mixed ReLU/polynomial
// activations, of degree 2 and of degree 1 (C2 = 0: no square), in the
// narrow form at its MinEll equals EvalFixed exactly on two images.
func TestNarrowExactSynthetic(t *testing.T) {
	for _, curv := range []float64{1, 0} {
		m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 21)
		installPoly(m, 0.5, curv, 22)
		checkNarrow(t, m, 8, randomImages(23, 2, m.Input))
	}
}

// TestNarrowExactMNIST: the committed AutoReP LeNet-5 in the narrow form at
// f = 16 and its MinEll on two MNIST test images equals EvalFixed exactly.
func TestNarrowExactMNIST(t *testing.T) {
	set := loadSet(t, "mnist")
	path := modelFile("lenet-mnist-autorep10.safetensors")
	if path == "" {
		t.Fatal("models/lenet-mnist-autorep10.safetensors is missing")
	}
	m, err := models.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	checkNarrow(t, m, 16, batch(set, []int{0, 1}))
}

// actBytes sums the online and offline bytes of a run's activation steps
// (one party's view, both directions; offline: their HE precomputation and
// their share of the bit triples made ahead).
func actBytes(st Stats) (online, offline int64) {
	for _, l := range st.Layers {
		if l.Op == OpAct {
			online += l.Bytes
			offline += l.OfflineBytes
		}
	}
	return online, offline
}

// TestNarrowBytesPin pins the activation traffic of the narrow form on a
// small synthetic plan whose activations are all polynomial (LeNet, random
// weights, f = 8, ℓ = 24, one image): a change of the gates' composition
// shows here. The default form at its own MinEll on the same image is
// logged beside it, and must cost more.
func TestNarrowBytesPin(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 41)
	installPoly(m, 0, 1, 42)
	x := randomImages(43, 1, m.Input)
	const f, ell = 8, 24
	nar, err := Compile(m, Config{FracBits: f, Ell: ell, Poly: PolyNarrow})
	if err != nil {
		t.Fatal(err)
	}
	if need, err := nar.MinEll(x); err != nil || need > ell {
		t.Fatalf("narrow MinEll %d (%v), the pin runs at ℓ = %d", need, err, ell)
	}
	res := checkTwoPartyExact(t, nar, x)
	on, off := actBytes(res.stats[0])
	// The triples were made inline, per comparison, until they moved to
	// the offline phase in one batch: 315,936 B then (the OT extension's
	// padding of each comparison's batch). The gates' COTs moved there
	// too (session 13): 2,125,528 B online and 312,746 B offline before,
	// the extension's matrices offline and a bit per COT online now.
	const wantOn, wantOff = 935529, 1550016
	wide, err := Compile(m, Config{FracBits: f})
	if err != nil {
		t.Fatal(err)
	}
	we, err := wide.MinEll(x)
	if err != nil {
		t.Fatal(err)
	}
	if wide, err = Compile(m, Config{FracBits: f, Ell: we, Suite: SuiteTwoParty}); err != nil {
		t.Fatal(err)
	}
	wres := checkTwoPartyExact(t, wide, x)
	won, woff := actBytes(wres.stats[0])
	t.Logf("activation bytes: narrow ℓ=%d online %d + offline %d; default ℓ=%d online %d + offline %d", ell, on, off, we, won, woff)
	if on != wantOn || off != wantOff {
		t.Errorf("narrow activation bytes online %d, offline %d; pinned %d, %d", on, off, wantOn, wantOff)
	}
	if on+off >= won+woff {
		t.Errorf("narrow form %d B not below the default form's %d B", on+off, won+woff)
	}
}
