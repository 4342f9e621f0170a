package mpc

import (
	"testing"

	"github.com/autorep/autorep/transport"
	"github.com/autorep/autorep/transport/transporttest"
)

// TestHostileSizes: the two receivers every protocol of the package goes
// through (recvVec, and exchange for openings), against a peer whose
// message is of the wrong size or a bare 2^31-byte header, fail with an
// error naming the step, the header refused unread (issue 19, finding 5).
func TestHostileSizes(t *testing.T) {
	for _, n := range []int{1, 100} {
		transporttest.Check(t, "beaver d", 8*n, func(c transport.Conn) error {
			_, err := (&Session{Conn: c}).recvVec("beaver d", n)
			return err
		})
		transporttest.Check(t, "open x", 8*n, func(c transport.Conn) error {
			_, err := (&Session{Conn: c}).open("open x", make([]uint64, n))
			return err
		})
	}
}
