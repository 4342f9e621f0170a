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
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/transport"
)

// HugeFrame is the length the bare-header case announces: 2^31 bytes,
// within the default MaxFrame limit of no protocol message.
const HugeFrame = 1 << 31

// Case is one hostile message: a frame of Payload, or with Bare only a
// header announcing HugeFrame bytes, the payload never sent.
type Case struct {
	Name    string
	Payload []byte
	Bare    bool
}

// Cases returns the wrong-size messages for a step that expects exactly
// want bytes: one byte longer, a word longer, one byte shorter and empty
// (when want > 0), and a bare header of 2^31 bytes.
func Cases(want int) []Case {
	cs := []Case{{Name: "long", Payload: make([]byte, want+1)}, {Name: "word-long", Payload: make([]byte, want+8)}}
	if want > 0 {
		cs = append(cs, Case{Name: "short", Payload: make([]byte, want-1)}, Case{Name: "empty", Payload: []byte{}})
	}
	return append(cs, Case{Name: "2^31 header", Bare: true})
}

// Run runs step on one end of a FramedConn (over net.Pipe, read timeout
// 5 s) whose peer discards what step sends and sends c, and returns
// step's error. It fails t if step has not returned 10 s later.
func Run(t testing.TB, c Case, step func(transport.Conn) error) error {
	t.Helper()
	honest, raw := net.Pipe()
	o := transport.DefaultOptions()
	o.ReadTimeout = 5 * time.Second
	conn := transport.NewConnOptions(honest, o)
	defer conn.Close()
	defer raw.Close()
	go io.Copy(io.Discard, raw) // step's own messages
	go func() {
		var hdr [transport.HeaderSize]byte
		if c.Bare {
			binary.LittleEndian.PutUint32(hdr[:], HugeFrame)
			raw.Write(hdr[:])
			return
		}
		binary.LittleEndian.PutUint32(hdr[:], uint32(len(c.Payload)))
		raw.Write(append(hdr[:], c.Payload...))
	}()
	done := make(chan error, 1)
	go func() { done <- step(conn) }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the step did not return within 10 s", c.Name)
		return nil
	}
}

// maxAlloc bounds what a refused step may allocate: far below the 16 MiB
// a FramedConn would allocate first for a frame it accepts to read.
const maxAlloc = 4 << 20

// Check runs step against every case of Cases(want): each must fail with
// an error that wraps transport.ErrMessageSize and contains what (the
// protocol step's name); the bare 2^31 header must be refused from the
// header (transport.ErrFrameTooLarge) with less than 4 MiB allocated by
// the whole step. Steps under test should therefore be small.
func Check(t *testing.T, what string, want int, step func(transport.Conn) error) {
	t.Helper()
	for _, c := range Cases(want) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := Run(t, c, step)
		runtime.ReadMemStats(&after)
		switch {
		case err == nil:
			t.Errorf("%s: %s message (want %d bytes) accepted", what, c.Name, want)
			continue
		case !errors.Is(err, transport.ErrMessageSize):
			t.Errorf("%s: %s message: %v, want transport.ErrMessageSize", what, c.Name, err)
		case !strings.Contains(err.Error(), what):
			t.Errorf("%s: %s message: error %q does not name the step", what, c.Name, err)
		}
		if c.Bare {
			if !errors.Is(err, transport.ErrFrameTooLarge) {
				t.Errorf("%s: 2^31-byte header: %v, want transport.ErrFrameTooLarge", what, err)
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > maxAlloc {
				t.Errorf("%s: refusing a 2^31-byte header allocated %d bytes", what, d)
			}
		}
	}
}
