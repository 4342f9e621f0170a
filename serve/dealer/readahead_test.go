package dealer

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/autorep/autorep/transport"
)

// TestReadAhead: the reader queues a party's pipelined frames and reports
// its closure before they are taken (then delivers them in order and the
// error last); with more than readAheadBytes pipelined it holds at most
// that much plus one frame, so the closure is seen only as the queue is
// consumed; a frame above a lowered limit is refused when taken.
func TestReadAhead(t *testing.T) {
	goneCh := func() (chan error, func(error)) {
		ch := make(chan error, 1)
		return ch, func(err error) {
			select {
			case ch <- err:
			default:
			}
		}
	}
	t.Run("closure behind queued frames", func(t *testing.T) {
		a, b := transport.Pipe()
		for i := range 3 {
			if err := a.Send([]byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		a.Close()
		ch, gone := goneCh()
		r := startReadAhead(b, 16, gone)
		defer r.stop()
		select {
		case err := <-ch:
			if !errors.Is(err, io.EOF) {
				t.Errorf("gone with %v, want io.EOF", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("closure not reported while three frames wait in the queue")
		}
		for i := range 3 {
			if f, err := r.next(); err != nil || len(f) != 1 || f[0] != byte(i) {
				t.Fatalf("frame %d: %v %v", i, f, err)
			}
		}
		for range 2 {
			if _, err := r.next(); !errors.Is(err, io.EOF) {
				t.Fatalf("after the frames: %v, want io.EOF", err)
			}
		}
	})
	t.Run("bounded", func(t *testing.T) {
		a, b := transport.Pipe()
		const frames, size = 12, 1 << 20
		for range frames {
			if err := a.Send(make([]byte, size)); err != nil {
				t.Fatal(err)
			}
		}
		a.Close()
		ch, gone := goneCh()
		r := startReadAhead(b, size, gone)
		defer r.stop()
		select {
		case err := <-ch:
			t.Fatalf("gone (%v) with %d MiB pipelined: the queue is not bounded", err, frames)
		case <-time.After(200 * time.Millisecond):
		}
		r.mu.Lock()
		queued := r.queued
		r.mu.Unlock()
		if queued > readAheadBytes {
			t.Errorf("%d bytes queued, bound %d", queued, readAheadBytes)
		}
		for i := range frames {
			if f, err := r.next(); err != nil || len(f) != size {
				t.Fatalf("frame %d: %d bytes, %v", i, len(f), err)
			}
		}
		if _, err := r.next(); !errors.Is(err, io.EOF) {
			t.Fatalf("after the frames: %v, want io.EOF", err)
		}
		if err := <-ch; !errors.Is(err, io.EOF) {
			t.Errorf("gone with %v", err)
		}
	})
	t.Run("lowered limit", func(t *testing.T) {
		a, b := transport.Pipe()
		defer a.Close()
		if err := a.Send(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		_, gone := goneCh()
		r := startReadAhead(b, 1000, gone)
		defer r.stop()
		time.Sleep(50 * time.Millisecond) // usually read under the old limit
		r.setLimit(10)
		if _, err := r.next(); !errors.Is(err, transport.ErrFrameTooLarge) {
			t.Errorf("100-byte frame under a limit of 10: %v", err)
		}
	})
}
