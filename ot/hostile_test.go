package ot

import (
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
	"github.com/autorep/autorep/transport/transporttest"
)

// TestHostileSizes: every receiving step of the OT protocols, against a
// peer that sends a message one byte or one word too long, one byte too
// short, empty, or a bare 2^31-byte header, fails with an error naming
// the step, refuses the header unread (issue 19, finding 5), and does not
// panic or hang.
func TestHostileSizes(t *testing.T) {
	fuzzObjects(t)
	st := &fuzzState
	n := 100
	choice := randBits(rand.New(rand.NewPCG(3, 4)), n)
	widths := make([]uint8, n)
	total := 0
	for i := range widths {
		widths[i] = uint8(1 + i%64)
		total += int(widths[i])
	}
	for _, tc := range []struct {
		what string
		want int
		step func(c transport.Conn) error
	}{
		{"base OT: receiving A", elemSize, func(c transport.Conn) error { _, err := BaseReceive(c, choice); return err }},
		{"base OT: receiving B", n * elemSize, func(c transport.Conn) error { _, err := BaseSend(c, n); return err }},
		{"receiving the extension matrix", Kappa * padded(n) * 8, func(c transport.Conn) error {
			s := *st.s
			s.c = c
			_, err := s.COT(n)
			return err
		}},
		{"receiving masked messages", 2 * 16 * n / 8, func(c transport.Conn) error {
			r := *st.r
			r.c = c
			_, err := r.Receive(choice, 16)
			return err
		}},
		{"receiving correlations", (37*n + 7) / 8, func(c transport.Conn) error {
			r := *st.r
			r.c = c
			_, err := r.ReceiveCorrelated(choice, 37)
			return err
		}},
		{"receiving correlations", (total + 7) / 8, func(c transport.Conn) error {
			r := *st.r
			r.c = c
			_, err := r.ReceiveCorrelatedWidths(choice, widths)
			return err
		}},
		{"receiving correlations", (2*total + 7) / 8, func(c transport.Conn) error {
			r := *st.r
			r.c = c
			_, _, err := r.ReceiveCorrelatedPair(choice, widths, widths)
			return err
		}},
		{"receiving the 1-of-N matrix", KKWidth * padded(n) * 8, func(c transport.Conn) error {
			s := *st.ns
			s.c = c
			return s.Send(make([]uint64, n*16), 16, 2)
		}},
		{"receiving 1-of-N messages", n * 16 * 2 / 8, func(c transport.Conn) error {
			r := *st.nr
			r.c = c
			_, err := r.Receive(make([]uint8, n), 16, 2)
			return err
		}},
		{"receiving the extension matrix", st.ss.ss.msgBytes(padded(n)), func(c transport.Conn) error {
			s := *st.ss
			s.c = c
			_, err := s.COT(n)
			return err
		}},
		{"receiving 1-of-N messages", n * 16 * 2 / 8, func(c transport.Conn) error {
			r := *st.cr
			r.c = c
			_, err := NewCNReceiver(&r).Receive(make([]uint8, n), 16, 2)
			return err
		}},
		{"receiving the SoftSpoken trees", 32 * Kappa, func(c transport.Conn) error {
			_, err := ssSetupSender(c, 4, Block{}, make([]ring.Seed, Kappa))
			return err
		}},
	} {
		t.Run(tc.what, func(t *testing.T) { transporttest.Check(t, tc.what, tc.want, tc.step) })
	}
}
