package otgates

import (
	"math/rand/v2"
	"net"
	"testing"

	"github.com/autorep/autorep/transport"
)

// TestReLUOverTCP runs the session setup and a ReLU over framed TCP on
// loopback: the same messages as over the pipe, through real frames.
func TestReLUOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback TCP: %v", err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	nc1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc0 := <-accepted
	if nc0 == nil {
		t.Fatal("accept failed")
	}
	c0, c1 := transport.NewConn(nc0), transport.NewConn(nc1)
	defer c0.Close()
	defer c1.Close()
	p0, p1 := partiesOver(t, c0, c1)
	rng := rand.New(rand.NewPCG(9, 9))
	ell := 32
	lo, hi := fullRange(ell)
	x := inputs(rng, 500, ell, lo, hi)
	x0, x1 := share(rng, x, ell)
	c0.Stats().Reset()
	y0, y1 := run(t, p0, p1, func(p *Party) ([]uint64, error) { return p.ReLU([][]uint64{x0, x1}[p.ID], ell) })
	for i, v := range x {
		if got, want := (y0[i]+y1[i])&mask(ell), uint64(max(signed(v, ell), 0)); got != want {
			t.Fatalf("ReLU(%d) over TCP = %d", signed(v, ell), got)
		}
	}
	if got, want := int(c0.Stats().Total().Bytes()), lessThanBytes(500, ell-1)+selectBytes(500, ell); got != want {
		t.Errorf("over TCP: %d bytes, want %d (frame headers are not counted)", got, want)
	}
}
