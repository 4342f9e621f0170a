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
// all ones and fail the 6σ bound on its own. The same for the fused
// ReLU with truncation, whose extra correlations (d·w) join the
// multiplexer's messages, and for Poly2 with zero coefficients. Each
// again with its triples and COTs made ahead, where the OT matrices give
// way to derandomization bits.
func TestViewBalanced(t *testing.T) {
	n, ell := 4096, 32
	zero := make([]uint64, n)
	for _, made := range []bool{false, true} {
		pre := func(tri int, c COTs) *ahead {
			if !made {
				return nil
			}
			return &ahead{tri, c}
		}
		testView(t, "relu", pre(DReLUTriples(n, ell), ReLUCOTs(n, ell)), func(q *Party) ([]uint64, error) { return q.ReLU(zero, ell) })
		testView(t, "relu_trunc", pre(ReLUTruncTriples(n, ell), ReLUTruncCOTs(n, ell, 12)), func(q *Party) ([]uint64, error) { return q.ReLUTrunc(zero, ell, 12) })
		testView(t, "poly2", pre(0, Poly2COTs(n, ell, 12)), func(q *Party) ([]uint64, error) {
			if q.ID == 0 {
				return q.Poly2(zero, zero, zero, zero, ell, 12)
			}
			return q.Poly2(nil, nil, nil, zero, ell, 12)
		})
	}
}

// ahead is what testView makes ahead of the gate: its triples and COTs.
type ahead struct {
	triples int
	cots    COTs
}

func testView(t *testing.T, gate string, pre *ahead, f func(q *Party) ([]uint64, error)) {
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
	if pre != nil {
		gate += " (made ahead)"
		tri := run2(t, p[0], p[1], func(q *Party) ([]*Triples, error) { return q.MakeTriples([]int{pre.triples}) })
		run(t, p[0], p[1], func(q *Party) (struct{}, error) { return struct{}{}, q.MakeCOTs(pre.cots) })
		p[0].UseTriples(tri[0][0])
		p[1].UseTriples(tri[1][0])
	}
	from := [2]int{taps[0].Len(), taps[1].Len()} // the setup's (and offline phase's) messages are not part of the ReLU's view
	y0, y1 := run(t, p[0], p[1], f)
	// Each party's output share alone is uniform too (their sum is 0).
	for id, y := range [][]uint64{y0, y1} {
		ones := 0
		for _, v := range y {
			ones += bits.OnesCount64(v)
		}
		total := len(y) * 32
		if d := math.Abs(float64(ones) - float64(total)/2); d > 3*math.Sqrt(float64(total)) {
			t.Errorf("%s: party %d's output shares: %d ones in %d bits", gate, id, ones, total)
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
				t.Errorf("%s: party %d, message %d (%d bytes): %d ones in %d bits, %.1fσ from half", gate, id, k, len(msg), ones, total, d/sigma)
			}
		}
		if len(view) == 0 {
			t.Errorf("%s: party %d received nothing", gate, id)
		}
	}
	if pre != nil {
		for id, q := range p {
			if l := q.COTsLeft(); l.Total() != 0 {
				t.Errorf("%s: party %d has %v COTs left", gate, id, l)
			}
		}
	}
}
