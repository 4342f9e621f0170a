package pi

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/autorep/autorep/internal/privacytest"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

// TestTwoInferencesFresh runs the same image twice in one session of the
// plan executor (custom graph: convolutions, mixed ReLU/polynomial
// activations, max and average pooling, residual adds) and compares what
// each party receives: every protocol message of the second inference
// differs at every word from the first's, so no mask is reused within a
// session through the executor's prefetch path (corr.Prefetcher over the
// dealer). The session's control messages (request, ready) are public and
// left out.
func TestTwoInferencesFresh(t *testing.T) {
	plan, err := Compile(customModel(t), Config{})
	if err != nil {
		t.Fatal(err)
	}
	x := randomImages(5, 1, plan.Public.Input)
	c0, c1 := transport.Pipe()
	r0, r1 := privacytest.NewRecorder(c0), privacytest.NewRecorder(c1)
	res := runSecureOn(t, plan, r0, r1, x, x)
	if d := maxAbs(res.logits[0], res.logits[1]); d > 1e-3 {
		t.Errorf("two runs of one image differ by %g", d)
	}
	for who, rec := range map[string]*privacytest.Recorder{"server": r0, "client": r1} {
		var runs [][][]byte // protocol messages of each inference
		for _, m := range rec.Messages(0) {
			switch {
			case bytes.HasPrefix(m, []byte(msgRequest)):
				runs = append(runs, nil) // the server's view of a new request
			case string(m) == msgReady:
				runs = append(runs, nil) // the client's view of a new request
			case bytes.HasPrefix(m, []byte(msgOK)), len(runs) == 0:
				// handshake
			default:
				runs[len(runs)-1] = append(runs[len(runs)-1], m)
			}
		}
		if who == "server" && len(runs) == 3 && len(runs[2]) == 0 {
			runs = runs[:2] // the closing request for 0 images
		}
		if len(runs) != 2 {
			t.Fatalf("%s: %d inferences recorded, want 2", who, len(runs))
		}
		privacytest.Fresh(t, "pi "+who, runs[0], runs[1])
	}
}

// TestTwoPartyInferencesFresh is TestTwoInferencesFresh for the twoparty
// suite (OT gates and HE linear layers, no dealer): one session of one
// inference and one of two of the same image give, as the difference of
// their message counts, each inference's share of a party's view; every
// message of the second inference must differ from the first's.
func TestTwoPartyInferencesFresh(t *testing.T) {
	m := newModel(t, "lenet", 10, [3]int{1, 28, 28}, 31)
	installPoly(m, 0.5, 1, 32)
	x := randomImages(33, 1, m.Input)
	// The suite's default (PolyHE: conversions and hesimd's Quad) and the
	// narrow form (OT products).
	for _, cfg := range []Config{
		{FracBits: 8, Poly: PolyFormFor(SuiteTwoParty), Trunc: TruncFor(SuiteTwoParty)},
		{FracBits: 8, Poly: PolyNarrow},
	} {
		plan, err := Compile(m, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkFreshViews(t, plan, x)
	}
}

// checkFreshViews runs one and then two inferences of x and requires
// every protocol message of the second to differ from the first's.
func checkFreshViews(t *testing.T, plan *Plan, x *tensor.Tensor) {
	views := func(batches ...*tensor.Tensor) [2][][]byte {
		c0, c1 := transport.Pipe()
		r0, r1 := privacytest.NewRecorder(c0), privacytest.NewRecorder(c1)
		runSuiteOn(t, plan, SuiteTwoParty, r0, r1, batches...)
		return [2][][]byte{r0.Messages(0), r1.Messages(0)}
	}
	one, two := views(x), views(x, x)
	for p, who := range []string{"server", "client"} {
		k := len(two[p]) - len(one[p]) // messages of one inference
		if k <= 0 {
			t.Fatalf("%s: %d messages in one inference", who, k)
		}
		n := len(two[p])
		if who == "server" {
			n-- // the closing request for 0 images
		}
		second, first := two[p][n-k:n], two[p][n-2*k:n-k]
		var a, b [][]byte
		for i := range first { // the request messages are public
			if !bytes.HasPrefix(first[i], []byte(msgRequest)) {
				a, b = append(a, dropQueryHeader(first[i])), append(b, dropQueryHeader(second[i]))
			}
		}
		if len(a) == 0 {
			t.Fatalf("%s: no protocol messages in an inference", who)
		}
		privacytest.Fresh(t, "pi twoparty "+plan.Public.Poly+" "+who, a, b)
	}
}

// dropQueryHeader removes the public 8-byte header of a hesimd query (the
// form, 1, 2, or 3 and 4 for degree 2 with Enc(ρ) only (PrecomputeQuad,
// PrecomputeQuadElementwise), and the element count as little-endian
// uint32s), which repeats between inferences by design.
func dropQueryHeader(m []byte) []byte {
	if len(m) > 8 {
		if d, n := binary.LittleEndian.Uint32(m), binary.LittleEndian.Uint32(m[4:]); d >= 1 && d <= 4 && n > 0 && int(n) < 1<<24 {
			return m[8:]
		}
	}
	return m
}
