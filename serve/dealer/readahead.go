package dealer

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/autorep/autorep/transport"
)

// A party's connection is read ahead by its own goroutine, so that a party
// that disconnects is noticed at once, even while the dealer waits for
// memory, generates or sends, and even when the party had pipelined
// requests before it closed: the frames it sent are queued (in order) and
// its closure cancels the session's work for it without waiting for the
// queue to be consumed. The queue is bounded: at most readAheadBytes of
// frames, or readAheadFrames frames, plus the one frame the reader holds
// while it waits for room; a party that pipelines more is read further
// only as its earlier requests are served (and its closure noticed then).
const (
	readAheadBytes  = 4 << 20
	readAheadFrames = 256
)

// frameRead is one received frame, or the receive's error (the last item).
type frameRead struct {
	b   []byte
	err error
}

// readAhead reads a connection's frames into a bounded queue.
type readAhead struct {
	frames chan frameRead
	limit  atomic.Int64  // largest frame accepted now
	space  chan struct{} // a frame was taken: room may have been made
	done   chan struct{} // closed by stop: the reader gives up its frame
	mu     sync.Mutex
	queued int // bytes in frames
}

// startReadAhead starts reading conn's frames of at most limit bytes;
// gone is called with the receive's error as soon as it happens, before
// the frames queued ahead of it are taken.
func startReadAhead(conn transport.Conn, limit int, gone func(error)) *readAhead {
	r := &readAhead{
		frames: make(chan frameRead, readAheadFrames),
		space:  make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	r.limit.Store(int64(limit))
	go r.run(conn, gone)
	return r
}

func (r *readAhead) run(conn transport.Conn, gone func(error)) {
	for {
		b, err := transport.RecvMax(conn, int(r.limit.Load()))
		if err != nil {
			gone(err)
			select {
			case r.frames <- frameRead{err: err}:
			case <-r.done:
			}
			return
		}
		if !r.reserve(len(b)) {
			return
		}
		select {
		case r.frames <- frameRead{b: b}:
		case <-r.done:
			return
		}
	}
}

// reserve waits until n more bytes fit in the queue (any frame fits an
// empty one); false once stopped.
func (r *readAhead) reserve(n int) bool {
	for {
		r.mu.Lock()
		if r.queued == 0 || r.queued+n <= readAheadBytes {
			r.queued += n
			r.mu.Unlock()
			return true
		}
		r.mu.Unlock()
		select {
		case <-r.space:
		case <-r.done:
			return false
		}
	}
}

// next returns the next frame, or the error that ended the reading once
// the frames before it are taken. A frame longer than limit (read ahead
// under a larger limit that has been lowered since) is refused.
func (r *readAhead) next() ([]byte, error) {
	f := <-r.frames
	if f.err != nil {
		r.frames <- f // every later call gets it too
		return nil, f.err
	}
	r.mu.Lock()
	r.queued -= len(f.b)
	r.mu.Unlock()
	select {
	case r.space <- struct{}{}:
	default:
	}
	if max := r.limit.Load(); int64(len(f.b)) > max {
		return nil, fmt.Errorf("dealer: frame of %d bytes (max %d): %w", len(f.b), max, transport.ErrFrameTooLarge)
	}
	return f.b, nil
}

// setLimit sets the largest frame accepted from now on.
func (r *readAhead) setLimit(n int) { r.limit.Store(int64(n)) }

// stop ends the reading (the reader exits once its receive returns: the
// caller closes the connection).
func (r *readAhead) stop() { close(r.done) }
