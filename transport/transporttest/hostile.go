// Package transporttest runs a protocol step against a hostile peer that
// sends a message of the wrong size, for the tests of the packages whose
// receivers know the exact size of the peer's message (issue 19,
// finding 5).
package transporttest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/transport"
)

// The lengths the bare-header cases announce: 2^31 bytes, above every
// connection's default MaxFrame (1 GiB), and 512 MiB, below it, which only
// the receiver's own bound refuses unread.
const (
	HugeFrame  = 1 << 31
	LargeFrame = 512 << 20
)

// Case is one hostile message: a frame of Payload, or, with Header
// non-zero, only a frame header announcing Header bytes, the payload never
// sent.
type Case struct {
	Name    string
	Payload []byte
	Header  uint32
}

// Cases returns the wrong-size messages for a step that expects exactly
// want bytes: one byte longer, a word longer, one byte shorter and empty
// (when want > 0), and bare headers of 2^31 and 512 MiB.
func Cases(want int) []Case {
	cs := []Case{{Name: "long", Payload: make([]byte, want+1)}, {Name: "word-long", Payload: make([]byte, want+8)}}
	if want > 0 {
		cs = append(cs, Case{Name: "short", Payload: make([]byte, want-1)}, Case{Name: "empty", Payload: []byte{}})
	}
	return append(cs, Case{Name: "2^31 header", Header: HugeFrame}, Case{Name: "512 MiB header", Header: LargeFrame})
}

// Pair returns the two ends of a FramedConn pair over net.Pipe, with a
// 5 s read timeout so that a step waiting for a message nobody sends
// fails instead of hanging.
func Pair() (a, b *transport.FramedConn) {
	x, y := net.Pipe()
	o := transport.DefaultOptions()
	o.ReadTimeout = 5 * time.Second
	return transport.NewConnOptions(x, o), transport.NewConnOptions(y, o)
}

// Send sends c's message on conn: a frame, or a bare header written to the
// underlying connection.
func Send(conn *transport.FramedConn, c Case) error {
	if c.Header == 0 {
		return conn.Send(c.Payload)
	}
	var hdr [transport.HeaderSize]byte
	binary.LittleEndian.PutUint32(hdr[:], c.Header)
	_, err := conn.NetConn().Write(hdr[:])
	return err
}

// Setup prepares one run on a fresh pair: step is the honest party's
// part, run on honest, which must fail; prefix (nil for none) is what the
// peer does honestly on peer before it sends the hostile message (the
// steps of the protocol before the one under test).
type Setup func(honest, peer *transport.FramedConn) (step, prefix func() error)

// Run runs the setup's step against a peer that runs its prefix, sends c
// and discards whatever follows, and returns step's error. It fails t if
// step has not returned 10 s later.
func Run(t testing.TB, c Case, setup Setup) error {
	t.Helper()
	honest, peer := Pair()
	defer honest.Close()
	defer peer.Close()
	step, prefix := setup(honest, peer)
	go func() {
		if prefix != nil && prefix() != nil {
			return
		}
		go io.Copy(io.Discard, peer.NetConn()) // the step's later messages
		Send(peer, c)
	}()
	done := make(chan error, 1)
	go func() { done <- step() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the step did not return within 10 s", c.Name)
		return nil
	}
}

// Check runs step against every case of Cases(want) (see CheckSetup).
func Check(t *testing.T, what string, want int, step func(transport.Conn) error) {
	t.Helper()
	CheckSetup(t, what, want, func(honest, _ *transport.FramedConn) (func() error, func() error) {
		return func() error { return step(honest) }, nil
	})
}

// CheckSetup runs the step of a fresh setup against every case of
// Cases(want): each must fail with an error that wraps
// transport.ErrMessageSize and contains what (the protocol step's name);
// a bare header must be refused from the header: with
// transport.ErrFrameTooLarge, which a FramedConn returns before it reads
// or allocates anything of the frame (transport.TestRecvMax measures
// that); a receiver without its own bound would accept the 512 MiB header
// and wait for the payload until the 5 s read timeout instead.
func CheckSetup(t *testing.T, what string, want int, setup Setup) {
	t.Helper()
	for _, c := range Cases(want) {
		err := Run(t, c, setup)
		switch {
		case err == nil:
			t.Errorf("%s: %s message (want %d bytes) accepted", what, c.Name, want)
			continue
		case !errors.Is(err, transport.ErrMessageSize):
			t.Errorf("%s: %s message: %v, want transport.ErrMessageSize", what, c.Name, err)
		case !strings.Contains(err.Error(), what):
			t.Errorf("%s: %s message: error %q does not name the step", what, c.Name, err)
		}
		if c.Header != 0 && !errors.Is(err, transport.ErrFrameTooLarge) {
			t.Errorf("%s: %s: %v, want transport.ErrFrameTooLarge", what, c.Name, err)
		}
	}
}
