package otgates

import (
	"math/rand/v2"
	"net"
	"strings"
	"testing"

	"github.com/autorep/autorep/ot"
	"github.com/autorep/autorep/transport"
)

// TestReLUOverTCP runs the session setup and a ReLU over framed TCP on
// loopback: the same messages as over the pipe, through real frames
// and small socket buffers, with the default extensions and with KK13.
func TestReLUOverTCP(t *testing.T) {
	for _, cfg := range []ot.Config{ot.DefaultConfig, {KK: true}} {
		t.Run(strings.ReplaceAll(cfg.String(), " ", "_"), func(t *testing.T) { testReLUOverTCP(t, cfg) })
	}
}

func testReLUOverTCP(t *testing.T, cfg ot.Config) {
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
	// Small socket buffers: the interleaved steps of LessThan, where both
	// parties send before either receives, must not deadlock when a
	// message does not fit in them (here the leaf matrices are 320 KB;
	// with blocking sends this test hangs).
	for _, nc := range []net.Conn{nc0, nc1} {
		if tc, ok := nc.(*net.TCPConn); ok {
			if err := tc.SetWriteBuffer(32768); err != nil {
				t.Fatal(err)
			}
			if err := tc.SetReadBuffer(32768); err != nil {
				t.Fatal(err)
			}
		}
	}
	c0, c1 := transport.NewConn(nc0), transport.NewConn(nc1)
	defer c0.Close()
	defer c1.Close()
	var p0, p1 *Party
	errs := make(chan error, 1)
	go func() { var err error; p1, err = NewConfig(c1, 1, cfg); errs <- err }()
	if p0, err = NewConfig(c0, 0, cfg); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	ell := 32
	lo, hi := fullRange(ell)
	x := inputs(rng, 5000, ell, lo, hi)
	x0, x1 := share(rng, x, ell)
	c0.Stats().Reset()
	y0, y1 := run(t, p0, p1, func(p *Party) ([]uint64, error) { return p.ReLU([][]uint64{x0, x1}[p.ID], ell) })
	for i, v := range x {
		if got, want := (y0[i]+y1[i])&mask(ell), uint64(max(signed(v, ell), 0)); got != want {
			t.Fatalf("ReLU(%d) over TCP = %d", signed(v, ell), got)
		}
	}
	if cfg != ot.DefaultConfig {
		return // the byte formulas are the default's
	}
	if got, want := int(c0.Stats().Total().Bytes()), lessThanBytes(5000, ell-1)+selectBytes(5000, ell); got != want {
		t.Errorf("over TCP: %d bytes, want %d (frame headers are not counted)", got, want)
	}
}
