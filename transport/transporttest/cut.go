package transporttest

import (
	"errors"

	"github.com/autorep/autorep/transport"
)

// CutConn closes its connection at its first message, sent or received,
// while the connection's statistics are in the offline phase and attribute
// traffic to Layer: a disconnect at a chosen protocol step, whatever the
// goroutine schedule (a test that polls for the step can miss it).
type CutConn struct {
	transport.Conn
	Layer string
}

func (c *CutConn) cut() error {
	if st := c.Stats(); st.Phase() == transport.PhaseOffline && st.Layer() == c.Layer {
		c.Conn.Close()
		return errors.New("cut during " + c.Layer)
	}
	return nil
}

// Send implements transport.Conn.
func (c *CutConn) Send(b []byte) error {
	if err := c.cut(); err != nil {
		return err
	}
	return c.Conn.Send(b)
}

// Recv implements transport.Conn.
func (c *CutConn) Recv() ([]byte, error) {
	if err := c.cut(); err != nil {
		return nil, err
	}
	return c.Conn.Recv()
}
