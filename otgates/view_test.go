package otgates

import (
	"math"
	"math/bits"
	"testing"

	"github.com/autorep/autorep/internal/privacytest"
	"github.com/autorep/autorep/transport"
)

// TestViewBalanced: with every input zero (shares 0 and 0, the most
// structured case), what each party receives during a ReLU — the other
// party's OT matrices, masked OT messages, opened bits and correlations —
// must be balanced bits. A message sent unmasked (a leaf's eq bit, an
// opened AND input, a multiplexer correction) would be all zeros or
// all ones and fail the 6σ bound on its own.
func TestViewBalanced(t *testing.T) {
	c0, c1 := transport.Pipe()
	taps := [2]*privacytest.Recorder{privacytest.NewRecorder(c0), privacytest.NewRecorder(c1)}
	var p [2]*Party
	errs := make(chan error, 1)
	go func() { var err error; p[1], err = New(taps[1], 1); errs <- err }()
	var err error
	if p[0], err = New(taps[0], 0); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	from := [2]int{taps[0].Len(), taps[1].Len()} // the setup's messages are not part of the ReLU's view
	n, ell := 4096, 32
	zero := make([]uint64, n)
	y0, y1 := run(t, p[0], p[1], func(q *Party) ([]uint64, error) { return q.ReLU(zero, ell) })
	// Each party's output share alone is uniform too (their sum is 0).
	for id, y := range [][]uint64{y0, y1} {
		ones := 0
		for _, v := range y {
			ones += bits.OnesCount64(v)
		}
		total := n * ell
		if d := math.Abs(float64(ones) - float64(total)/2); d > 3*math.Sqrt(float64(total)) {
			t.Errorf("party %d's output shares: %d ones in %d bits", id, ones, total)
		}
	}
	for id, tap := range taps {
		view := tap.Messages(from[id])
		for k, msg := range view {
			ones := 0
			for _, b := range msg {
				ones += bits.OnesCount8(b)
			}
			total := 8 * len(msg)
			// The last byte of a bit-packed message may be padding zeros.
			sigma := math.Sqrt(float64(total)) / 2
			if d := math.Abs(float64(ones) - float64(total)/2); d > 6*sigma+8 {
				t.Errorf("party %d, message %d (%d bytes): %d ones in %d bits, %.1fσ from half", id, k, len(msg), ones, total, d/sigma)
			}
		}
		if len(view) == 0 {
			t.Errorf("party %d received nothing", id)
		}
	}
}
