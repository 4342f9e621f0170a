package serve

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/autorep/autorep/transport"
	"github.com/autorep/autorep/transport/transporttest"
)

// TestClientHostileAnswer: a server that answers the hello with a frame
// above MaxAnswer (a bare 2^31-byte or 512 MiB header, or MaxAnswer+1
// bytes) is
// refused from the frame's header, before it is read or allocated; an
// empty or truncated answer is a clear error (issue 19, finding 5).
func TestClientHostileAnswer(t *testing.T) {
	for _, c := range []transporttest.Case{
		{Name: "2^31 header", Header: transporttest.HugeFrame},
		{Name: "512 MiB header", Header: transporttest.LargeFrame},
		{Name: "MaxAnswer+1", Payload: make([]byte, MaxAnswer+1)},
		{Name: "empty", Payload: []byte{}},
		{Name: "short", Payload: []byte(tagOK)},
	} {
		err := transporttest.Run(t, c, func(honest, peer *transport.FramedConn) (step, prefix func() error) {
			cfg := ClientConfig{Server: "hostile", Dial: func(context.Context, string) (transport.Conn, error) { return honest, nil }}
			step = func() error { _, err := Dial(context.Background(), cfg); return err }
			prefix = func() error { _, err := transport.RecvMax(peer, maxHello); return err }
			return step, prefix
		})
		tooLarge := c.Header != 0 || len(c.Payload) > MaxAnswer
		switch {
		case err == nil:
			t.Errorf("%s: accepted", c.Name)
		case tooLarge && (!errors.Is(err, transport.ErrFrameTooLarge) || !strings.Contains(err.Error(), "answer to the hello")):
			t.Errorf("%s: %v, want transport.ErrFrameTooLarge naming the answer to the hello", c.Name, err)
		case !tooLarge && !strings.Contains(err.Error(), "malformed answer"):
			t.Errorf("%s: %v, want a malformed answer", c.Name, err)
		}
	}
}
