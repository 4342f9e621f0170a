package mpc

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/autorep/autorep/transport"
)

// Dealer wire protocol (one transport.Conn per party): the party sends a
// request (Request.MarshalBinary); the dealer answers with one message,
// a status byte 0 followed by the material (Material.MarshalBinary) or a
// status byte 1 followed by an error text. Requests may be pipelined:
// answers come in request order.

const (
	replyOK  = 0
	replyErr = 1
	// maxErrText bounds an error reply's text.
	maxErrText = 1 << 12
)

// ServeParty answers party p's requests arriving on conn from the session
// hub h until the connection is closed by the peer (then it returns nil)
// or fails. A request the hub cannot serve gets an error reply and the
// loop goes on.
func ServeParty(h *Hub, p Party, conn transport.Conn) error {
	if !p.Valid() {
		return fmt.Errorf("mpc: serve: invalid party %d", int(p))
	}
	for {
		b, err := conn.Recv()
		if errors.Is(err, io.EOF) || errors.Is(err, transport.ErrClosed) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("mpc: serve %v: %w", p, err)
		}
		reply, err := serveOne(h, p, b)
		if err != nil {
			msg := err.Error()
			if len(msg) > maxErrText {
				msg = msg[:maxErrText]
			}
			reply = append([]byte{replyErr}, msg...)
		}
		if err := conn.Send(reply); err != nil {
			return fmt.Errorf("mpc: serve %v: %w", p, err)
		}
	}
}

func serveOne(h *Hub, p Party, b []byte) ([]byte, error) {
	req, err := UnmarshalRequest(b)
	if err != nil {
		return nil, err
	}
	m, err := h.Get(p, req)
	if err != nil {
		return nil, err
	}
	mb, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return append([]byte{replyOK}, mb...), nil
}

// RemoteProvider is a Provider that asks a dealer served by ServeParty
// over a connection. It is safe for concurrent use (requests are
// serialised on the connection).
type RemoteProvider struct {
	conn  transport.Conn
	party Party
	mu    sync.Mutex
	stats OfflineStats
}

// NewRemoteProvider returns party p's provider on conn.
func NewRemoteProvider(conn transport.Conn, p Party) *RemoteProvider {
	return &RemoteProvider{conn: conn, party: p}
}

// Party returns the party served.
func (r *RemoteProvider) Party() Party { return r.party }

// Offline returns the material bytes received so far (status bytes and
// requests not included).
func (r *RemoteProvider) Offline() OfflineStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats.Clone()
}

// Get asks the dealer for req (one round trip).
func (r *RemoteProvider) Get(req Request) (*Material, error) {
	ms, err := r.GetMany([]Request{req})
	if err != nil {
		return nil, err
	}
	return ms[0], nil
}

// GetMany sends all requests, then reads all replies (one round trip for
// the batch). Each reply is decoded strictly against its request.
func (r *RemoteProvider) GetMany(reqs []Request) ([]*Material, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	errc := make(chan error, 1)
	go func() {
		for _, q := range reqs {
			b, err := q.MarshalBinary()
			if err == nil {
				err = r.conn.Send(b)
			}
			if err != nil {
				errc <- fmt.Errorf("mpc: dealer request %v %q: %w", q.Kind, q.Label, err)
				return
			}
		}
		errc <- nil
	}()
	out := make([]*Material, 0, len(reqs))
	var first error // first refused or malformed reply; later replies are still read
	for _, q := range reqs {
		b, err := r.conn.Recv()
		if err != nil {
			// The connection is out of step with the request stream.
			r.conn.Close()
			<-errc
			return nil, fmt.Errorf("mpc: dealer reply %v %q: %w", q.Kind, q.Label, err)
		}
		if first != nil {
			continue
		}
		switch {
		case len(b) == 0 || b[0] > replyErr:
			first = fmt.Errorf("mpc: dealer reply %v %q: malformed", q.Kind, q.Label)
			continue
		case b[0] == replyErr:
			first = fmt.Errorf("mpc: dealer refused %v %q: %.200s", q.Kind, q.Label, b[1:])
			continue
		}
		m, err := UnmarshalMaterialFor(b[1:], q, r.party)
		if err != nil {
			first = fmt.Errorf("mpc: dealer reply %v %q: %w", q.Kind, q.Label, err)
			continue
		}
		r.stats.Add(q.Kind, int64(len(b)-1))
		out = append(out, m)
	}
	if err := <-errc; err != nil {
		return nil, err
	}
	if first != nil {
		return nil, first
	}
	return out, nil
}
