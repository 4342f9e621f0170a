package otgates

import (
	"sync"

	"github.com/autorep/autorep/transport"
)

// The critical path of a two-party run in CPU time: each party keeps a
// clock that advances by its own thread's CPU time and, on every receive,
// jumps to the sender's clock at the send if that is later (Lamport's
// clock with CPU time as the tick). At the end the larger clock is the
// time the run would take with each party alone on a core and free
// messages: unlike the wall time on a loaded machine it does not count
// the time a party waits for a core, and unlike the CPU time it counts
// the time a party waits for its peer's work. It needs thread CPU clocks
// (Linux) and each party on its own locked OS thread (runParties).

// critClock is one party's clock, in seconds.
type critClock struct {
	v    float64
	last float64
	ok   bool
}

// start resets the clock on the calling (locked) thread.
func (c *critClock) start() {
	t, ok := threadCPU()
	c.v, c.last, c.ok = 0, t.Seconds(), ok
}

// advance adds the thread CPU time used since the last reading.
func (c *critClock) advance() {
	t, ok := threadCPU()
	c.ok = c.ok && ok
	c.v += t.Seconds() - c.last
	c.last = t.Seconds()
}

// stampQueue carries the send-time clocks of one direction's messages,
// in message order.
type stampQueue struct {
	mu sync.Mutex
	q  []float64
}

func (s *stampQueue) push(v float64) { s.mu.Lock(); s.q = append(s.q, v); s.mu.Unlock() }

func (s *stampQueue) pop() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.q[0]
	s.q = s.q[1:]
	return v
}

// critConn is one party's end of a connection that keeps its clock.
type critConn struct {
	transport.Conn
	clk     *critClock
	out, in *stampQueue
}

// critPipe returns an in-memory pipe whose ends keep the clocks c0, c1.
func critPipe(c0, c1 *critClock) (transport.Conn, transport.Conn) {
	a, b := transport.Pipe()
	q01, q10 := &stampQueue{}, &stampQueue{}
	return &critConn{a, c0, q01, q10}, &critConn{b, c1, q10, q01}
}

func (c *critConn) stamp() {
	c.clk.advance()
	c.out.push(c.clk.v)
}

func (c *critConn) Send(b []byte) error { c.stamp(); return c.Conn.Send(b) }

func (c *critConn) SendAsync(b []byte) <-chan error {
	c.stamp()
	return c.Conn.(transport.AsyncSender).SendAsync(b)
}

func (c *critConn) received(b []byte, err error) ([]byte, error) {
	if err == nil {
		c.clk.advance()
		c.clk.v = max(c.clk.v, c.in.pop())
	}
	return b, err
}

func (c *critConn) Recv() ([]byte, error) { return c.received(c.Conn.Recv()) }

func (c *critConn) RecvMax(max int) ([]byte, error) {
	return c.received(transport.RecvMax(c.Conn, max))
}
