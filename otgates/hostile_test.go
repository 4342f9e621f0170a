package otgates

import (
	"testing"

	"github.com/autorep/autorep/transport"
	"github.com/autorep/autorep/transport/transporttest"
)

// TestHostileSizes: the package's own receivers (the other messages are
// the OT extension's, tested in package ot), against a peer whose message
// is of the wrong size or a bare 2^31-byte header, fail with an error
// naming the step, the header refused unread (issue 19, finding 5): the
// opening of XOR-shared bits, and party 1's corrections of the bit
// product mod P after an honest random OT.
func TestHostileSizes(t *testing.T) {
	for _, n := range []int{1, 9, 100} {
		transporttest.Check(t, "opening bits", (n+7)/8, func(c transport.Conn) error {
			_, err := (&Party{Conn: c}).openBits(make([]uint8, n))
			return err
		})
	}
	const P = 1<<20 - 3            // 20 bits per correction
	for _, n := range []int{100} { // a setup (base OTs both ways) per case
		a := make([]uint8, n)
		transporttest.CheckSetup(t, "bit product mod P: receiving the corrections", (n*20+7)/8,
			func(honest, peer *transport.FramedConn) (step, prefix func() error) {
				p0, p1 := partiesOver(t, peer, honest)
				step = func() error { _, err := p1.bitProductMod(a, P); return err }
				prefix = func() error { _, _, err := p0.OT.MulSend.ROT(n); return err }
				return step, prefix
			})
	}
}
