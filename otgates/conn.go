package otgates

import "github.com/autorep/autorep/transport"

// orderedConn is the connection a Party's OT session runs over. While
// async is set (LessThan's interleaved steps) a Send hands a copy of the
// message to the transport in the background (transport.AsyncSender:
// counted in Stats at once, written meanwhile) and returns, so that both
// parties can send a step's message before either receives: over TCP, two
// parties that both block writing a large message, neither reading, would
// wait for each other until the write timeout. Each Send first waits for
// the previous message to be written, so messages stay in order and at
// most one is in flight; LessThan orders its steps so that the peer is
// reading it meanwhile. With async clear it is the connection itself.
type orderedConn struct {
	transport.Conn
	async  bool
	flight <-chan error
	buf    []byte // the copy of the message in flight
}

// flush waits until the message in flight, if any, is written.
func (c *orderedConn) flush() error {
	if c.flight == nil {
		return nil
	}
	err := <-c.flight
	c.flight = nil
	return err
}

// Send implements transport.Conn (see orderedConn).
func (c *orderedConn) Send(b []byte) error {
	if err := c.flush(); err != nil {
		return err
	}
	if !c.async {
		return c.Conn.Send(b)
	}
	c.buf = append(c.buf[:0], b...) // free again: the previous message is written
	c.flight = c.sendAsync(c.buf)
	return nil
}

// SendAsync implements transport.AsyncSender, after the message in flight.
func (c *orderedConn) SendAsync(b []byte) <-chan error {
	if err := c.flush(); err != nil {
		ch := make(chan error, 1)
		ch <- err
		return ch
	}
	return c.sendAsync(b)
}

func (c *orderedConn) sendAsync(b []byte) <-chan error {
	if a, ok := c.Conn.(transport.AsyncSender); ok {
		return a.SendAsync(b)
	}
	ch := make(chan error, 1)
	go func() { ch <- c.Conn.Send(b) }()
	return ch
}

// RecvMax implements transport.LimitedReceiver.
func (c *orderedConn) RecvMax(max int) ([]byte, error) { return transport.RecvMax(c.Conn, max) }

// interleaved runs f, LessThan's interleaved steps, with asynchronous
// sends, and waits for the last one to be written.
func (p *Party) interleaved(f func() error) error {
	p.oc.async = true
	err := f()
	p.oc.async = false
	if ferr := p.oc.flush(); err == nil {
		err = ferr
	}
	return err
}
