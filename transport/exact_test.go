package transport

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// TestRecvExact: RecvExact and ExchangeExact accept a message of exactly
// the size asked for and refuse a longer (from its header on a
// FramedConn), shorter or empty one with ErrMessageSize; ExchangeExact
// closes the connection after a refusal, as Exchange does after a failed
// receive.
func TestRecvExact(t *testing.T) {
	o := DefaultOptions()
	o.ReadTimeout = 5 * time.Second
	for _, size := range []int{0, 4, 5, 6} {
		a, b := tcpPair(t, o)
		if err := a.Send(make([]byte, size)); err != nil {
			t.Fatal(err)
		}
		got, err := RecvExact(b, 5)
		switch {
		case size == 5 && (err != nil || len(got) != 5):
			t.Errorf("5 bytes of 5: %d bytes, %v", len(got), err)
		case size != 5 && !errors.Is(err, ErrMessageSize):
			t.Errorf("%d bytes of 5: %v, want ErrMessageSize", size, err)
		case size > 5 && !errors.Is(err, ErrFrameTooLarge):
			t.Errorf("%d bytes of 5: %v, want ErrFrameTooLarge", size, err)
		}
	}
	a, b := tcpPair(t, o)
	var hdr [HeaderSize]byte
	binary.LittleEndian.PutUint32(hdr[:], 1<<31)
	if _, err := a.nc.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := RecvExact(b, 64); !errors.Is(err, ErrFrameTooLarge) || !errors.Is(err, ErrMessageSize) {
		t.Errorf("2^31-byte header: %v", err)
	}

	p, q := PipeOptions(o)
	go Exchange(q, []byte("1234"))
	if got, err := ExchangeExact(p, []byte("x"), 4); err != nil || string(got) != "1234" {
		t.Errorf("ExchangeExact of the right size: %q %v", got, err)
	}
	go Exchange(q, []byte("123"))
	if _, err := ExchangeExact(p, []byte("x"), 4); !errors.Is(err, ErrMessageSize) {
		t.Errorf("ExchangeExact of a short message: %v", err)
	}
	if err := p.Send([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("send after a refused exchange: %v, want ErrClosed", err)
	}
}
