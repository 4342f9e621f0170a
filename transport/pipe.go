package transport

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// queue is an unbounded FIFO of messages from one end of a pipe to the other.
type queue struct {
	mu     sync.Mutex
	msgs   [][]byte
	closed bool          // either end closed
	notify chan struct{} // capacity 1: "something changed"
}

func newQueue() *queue { return &queue{notify: make(chan struct{}, 1)} }

func (q *queue) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
}

// pipeEnd is one end of an in-memory pipe.
type pipeEnd struct {
	in, out   *queue
	opts      Options
	stats     *Stats
	done      chan struct{}
	closeOnce sync.Once
}

// Pipe returns two connected in-memory Conns with DefaultOptions. Sends are
// buffered without bound, so a party may send before the other receives
// and simultaneous exchanges never deadlock.
func Pipe() (Conn, Conn) { return PipeOptions(DefaultOptions()) }

// PipeOptions is Pipe with the given options (MaxFrame and ReadTimeout
// apply; a pipe's Send never blocks).
func PipeOptions(o Options) (Conn, Conn) {
	o = o.normalized()
	a, b := newQueue(), newQueue()
	return &pipeEnd{in: a, out: b, opts: o, stats: NewStats(), done: make(chan struct{})},
		&pipeEnd{in: b, out: a, opts: o, stats: NewStats(), done: make(chan struct{})}
}

// Stats returns this end's counters.
func (p *pipeEnd) Stats() *Stats { return p.stats }

// Send queues a copy of b for the peer; it never blocks.
func (p *pipeEnd) Send(b []byte) error {
	if err := p.check(len(b)); err != nil {
		return err
	}
	p.stats.RecordSend(len(b))
	return p.push(b)
}

// SendAsync implements AsyncSender (a pipe send never blocks).
func (p *pipeEnd) SendAsync(b []byte) <-chan error {
	ch := make(chan error, 1)
	ch <- p.Send(b)
	return ch
}

func (p *pipeEnd) check(n int) error {
	select {
	case <-p.done:
		return ErrClosed
	default:
	}
	if n > p.opts.MaxFrame {
		return fmt.Errorf("transport: send %d bytes (max %d): %w", n, p.opts.MaxFrame, ErrFrameTooLarge)
	}
	return nil
}

func (p *pipeEnd) push(b []byte) error {
	q := p.out
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return fmt.Errorf("transport: send: peer closed: %w", io.ErrClosedPipe)
	}
	q.msgs = append(q.msgs, slices.Clone(b))
	if q.msgs[len(q.msgs)-1] == nil {
		q.msgs[len(q.msgs)-1] = []byte{}
	}
	q.mu.Unlock()
	q.wake()
	return nil
}

// RecvMax implements LimitedReceiver. The message is already in memory,
// so a longer one is consumed and refused.
func (p *pipeEnd) RecvMax(max int) ([]byte, error) {
	b, err := p.Recv()
	if err != nil {
		return nil, err
	}
	return checkMax(b, max)
}

// Recv returns the next queued message (see Conn).
func (p *pipeEnd) Recv() ([]byte, error) {
	var timeout <-chan time.Time
	if d := p.opts.ReadTimeout; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	q := p.in
	for {
		select {
		case <-p.done:
			return nil, ErrClosed
		default:
		}
		q.mu.Lock()
		if len(q.msgs) > 0 {
			m := q.msgs[0]
			q.msgs[0] = nil
			q.msgs = q.msgs[1:]
			if len(q.msgs) > 0 {
				q.wake()
			}
			q.mu.Unlock()
			p.stats.RecordRecv(len(m))
			return m, nil
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return nil, io.EOF
		}
		select {
		case <-q.notify:
		case <-p.done:
			return nil, ErrClosed
		case <-timeout:
			return nil, timeoutErr("recv", p.opts.ReadTimeout)
		}
	}
}

// Close closes both directions; the peer drains what was sent, then gets
// io.EOF.
func (p *pipeEnd) Close() error {
	p.closeOnce.Do(func() {
		close(p.done)
		p.out.close()
		p.in.close()
	})
	return nil
}
