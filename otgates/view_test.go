package otgates

import (
	"math"
	"math/bits"
	"testing"

	"github.com/autorep/autorep/transport"
)

// tapConn records the messages a party receives: its view.
type tapConn struct {
	transport.Conn
	got [][]byte
}

func (t *tapConn) Recv() ([]byte, error) {
	b, err := t.Conn.Recv()
	if err == nil {
		t.got = append(t.got, append([]byte(nil), b...))
	}
	return b, err
}

// TestViewBalanced: with every input zero (shares 0 and 0, the most
// structured case), what each party receives during a ReLU — the other
// party's OT matrices, masked OT messages, opened bits and correlations —
// must be balanced bits. A message sent unmasked (a leaf's eq bit, an
// opened AND input, a multiplexer correction) would be all zeros or
// all ones and fail the 6σ bound on its own.
func TestViewBalanced(t *testing.T) {
	c0, c1 := transport.Pipe()
	taps := [2]*tapConn{{Conn: c0}, {Conn: c1}}
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
	taps[0].got, taps[1].got = nil, nil
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
		for k, msg := range tap.got {
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
		if len(tap.got) == 0 {
			t.Errorf("party %d received nothing", id)
		}
	}
}
