package dealer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/autorep/autorep/internal/frame"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/transport"
)

// Remote is one party's corr.Provider backed by its connection to a
// network dealer session, with its one prefetch queue (corr.Prefetching):
// Prefetch fetches what the queue lacks of a request list in one
// pipelined burst (the offline phase) and Get serves matching requests
// from that queue in order; other requests cost one round trip each.
// Safe for concurrent use (requests are serialised).
type Remote struct {
	conn  transport.Conn
	party mpc.Party
	tag   SessionTag
	// Refill, if set, lists the requests fetched together when Get misses
	// the queue on a request equal to the list's first one (typically the
	// requests of one more inference).
	Refill func() []corr.Request

	mu    sync.Mutex         // serialises the connection
	queue corr.MaterialQueue // prefetched material
	qmu   sync.Mutex         // guards stats and used
	stats corr.OfflineStats
	used  int64

	lastUse   atomic.Int64 // unix nanoseconds of the last dealer traffic
	stopAlive chan struct{}
	closeOnce sync.Once
}

// Join sends the hello for party p of session sid (with the public-plan
// hash both parties must agree on) on conn and waits for the dealer's
// answer. On success the Provider owns conn. It presents no ticket: see
// JoinTicket for a dealer that requires one.
func Join(ctx context.Context, conn transport.Conn, p mpc.Party, sid SessionID, hash [32]byte) (*Remote, error) {
	return JoinTicket(ctx, conn, p, sid, hash, Ticket{})
}

// JoinTicket is Join presenting a join ticket (see Ticket; the zero
// Ticket is none).
func JoinTicket(ctx context.Context, conn transport.Conn, p mpc.Party, sid SessionID, hash [32]byte, t Ticket) (*Remote, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("dealer: invalid party %d", int(p))
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	transport.SetPhase(conn, transport.PhaseOffline)
	if err := conn.Send(helloMsg{party: byte(p), sid: sid, hash: hash, ticket: t}.encode()); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("dealer: join session %s: %w", sid, err))
	}
	b, err := transport.RecvMax(conn, transport.HandshakeMaxFrame)
	if err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("dealer: join session %s: %w", sid, err))
	}
	if reason, ok := frame.Reason(tagError, b); ok {
		return nil, fmt.Errorf("dealer: join session %s refused: %s", sid, reason)
	}
	if len(b) != okLen || string(b[:len(tagOK)]) != tagOK {
		return nil, fmt.Errorf("dealer: join session %s: malformed answer", sid)
	}
	pr := &Remote{conn: conn, party: p, stopAlive: make(chan struct{})}
	copy(pr.tag[:], b[len(tagOK):])
	pr.touch()
	return pr, nil
}

// Tag is the session tag the dealer answered (see SessionTag): the
// parties compare theirs before setup.
func (p *Remote) Tag() SessionTag { return p.tag }

func (p *Remote) touch() { p.lastUse.Store(time.Now().UnixNano()) }

// KeepAlive pings the dealer whenever the connection has been idle for
// interval, until Close, so that the dealer's read timeout ends a session
// only when its party is gone, not while the party is busy elsewhere
// (computing, or waiting for its user between inferences).
func (p *Remote) KeepAlive(interval time.Duration) {
	if interval <= 0 {
		return
	}
	go func() {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			select {
			case <-p.stopAlive:
				return
			case <-t.C:
				if time.Since(time.Unix(0, p.lastUse.Load())) >= interval {
					if p.Ping() != nil {
						return
					}
				}
			}
		}
	}()
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// Party is the party served.
func (p *Remote) Party() mpc.Party { return p.party }

// Offline returns the material received so far (encoded bytes).
func (p *Remote) Offline() corr.OfflineStats {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	return p.stats.Clone()
}

// Used returns the encoded bytes of the material handed out by Get so far
// (Offline counts what was fetched, including unused prefetched items).
func (p *Remote) Used() int64 {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	return p.used
}

// Queued returns the number of prefetched items not yet used.
func (p *Remote) Queued() int { return p.queue.Len() }

// Close closes the connection to the dealer (ending the party's part of
// the session).
func (p *Remote) Close() error {
	p.closeOnce.Do(func() { close(p.stopAlive) })
	return p.conn.Close()
}

// Conn returns the connection to the dealer (for its traffic counters).
func (p *Remote) Conn() transport.Conn { return p.conn }

// Ping checks that the dealer still serves the session (one round trip).
func (p *Remote) Ping() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.touch()
	if err := p.conn.Send([]byte(tagPing)); err != nil {
		return fmt.Errorf("dealer: ping: %w", err)
	}
	return p.answer(tagPing, "ping")
}

// answer reads the dealer's one-tag answer to what was just sent (p.mu
// held).
func (p *Remote) answer(tag, what string) error {
	b, err := transport.RecvMax(p.conn, transport.HandshakeMaxFrame)
	if err != nil {
		return fmt.Errorf("dealer: %s: %w", what, err)
	}
	if reason, ok := frame.Reason(tagError, b); ok {
		return fmt.Errorf("dealer: %s: %s", what, reason)
	}
	if string(b) != tag {
		return fmt.Errorf("dealer: malformed %s answer", what)
	}
	return nil
}

// Prefetch makes sure the material of reqs is queued (corr.Prefetching):
// it fetches the requests the queue lacks (corr.MaterialQueue.Missing) in
// one pipelined burst. A run's offline phase calls it with the request's
// list, so material prefetched earlier (a pool) is used, not fetched again.
func (p *Remote) Prefetch(reqs []corr.Request) error {
	miss, err := p.queue.Missing(reqs)
	if err != nil {
		return fmt.Errorf("dealer: prefetch: %w (pooled material is for single-image requests)", err)
	}
	return p.burst(miss)
}

// burst fetches the material of reqs now and queues it. The requests are
// sent by one goroutine while the answers are read, so a long list costs
// about one round trip.
func (p *Remote) burst(reqs []corr.Request) error {
	if len(reqs) == 0 {
		return nil
	}
	enc := make([][]byte, len(reqs))
	for i, r := range reqs {
		b, err := r.MarshalBinary()
		if err != nil {
			return fmt.Errorf("dealer: prefetch: %w", err)
		}
		enc[i] = b
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.touch()
	sendErr := make(chan error, 1)
	go func() {
		for _, b := range enc {
			if err := p.conn.Send(b); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- nil
	}()
	got := make([]*corr.Material, len(reqs))
	sizes := make([]int, len(reqs))
	var rerr error
	for i, r := range reqs {
		m, n, err := p.recv(r)
		if err != nil {
			rerr = err
			p.conn.Close() // the stream is out of step; unblock the sender
			break
		}
		got[i], sizes[i] = m, n
	}
	if serr := <-sendErr; serr != nil && rerr == nil {
		rerr = fmt.Errorf("dealer: sending requests: %w", serr)
	}
	if rerr != nil {
		return fmt.Errorf("dealer: prefetch: %w", rerr)
	}
	p.qmu.Lock()
	for i := range reqs {
		p.stats.Add(got[i].Kind, int64(sizes[i]))
	}
	p.qmu.Unlock()
	for i, r := range reqs {
		p.queue.Put(r, got[i], int64(sizes[i]))
	}
	return nil
}

// recv reads the answer to r.
func (p *Remote) recv(r corr.Request) (*corr.Material, int, error) {
	// The answer's exact size is known from the request: a longer frame
	// is refused from its header.
	b, err := transport.RecvMax(p.conn, int(max(RequestCost(r).Bytes[p.party], int64(len(tagError)+frame.MaxReason))))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, 0, errors.New("the dealer closed the connection (restarted, shut down, or idle timeout)")
		}
		return nil, 0, err
	}
	if reason, ok := frame.Reason(tagError, b); ok {
		return nil, 0, fmt.Errorf("dealer refused %v %q: %s", r.Kind, r.Label, reason)
	}
	// b is this frame's own buffer (nothing else refers to it), so the
	// keys may be decoded in place.
	m, err := corr.UnmarshalMaterialOwned(b, r, p.party)
	if err != nil {
		return nil, 0, fmt.Errorf("material for %v %q: %w", r.Kind, r.Label, err)
	}
	return m, len(b), nil
}

// Get returns the party's material for req: the next queued item of its
// (kind, label) if any (which must be for the same spec), else fetched
// now (with the Refill list when req starts it).
func (p *Remote) Get(req corr.Request) (*corr.Material, error) {
	enc, err := req.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if m, ok, err := p.pop(req); ok || err != nil {
		return m, err
	}
	if p.Refill != nil {
		if list := p.Refill(); len(list) > 0 && list[0].Same(req) {
			if err := p.burst(list); err != nil {
				return nil, err
			}
			if m, ok, err := p.pop(req); ok || err != nil {
				return m, err
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.touch()
	if err := p.conn.Send(enc); err != nil {
		return nil, fmt.Errorf("dealer: %v %q: %w", req.Kind, req.Label, err)
	}
	m, n, err := p.recv(req)
	if err != nil {
		p.conn.Close()
		return nil, fmt.Errorf("dealer: %w", err)
	}
	p.qmu.Lock()
	p.stats.Add(m.Kind, int64(n))
	p.used += int64(n)
	p.qmu.Unlock()
	return m, nil
}

// pop takes the head of req's queue if there is one.
func (p *Remote) pop(req corr.Request) (*corr.Material, bool, error) {
	m, size, ok, err := p.queue.Take(req)
	if ok || err != nil {
		p.qmu.Lock()
		p.used += size
		p.qmu.Unlock()
	}
	if err != nil {
		return nil, false, fmt.Errorf("dealer: %w (pooled material is for single-image requests)", err)
	}
	return m, ok, nil
}
