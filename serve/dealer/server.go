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
	"github.com/autorep/autorep/serve/internal/acceptloop"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

// Defaults of Server.
const (
	DefaultMaxSessions = 4096
	DefaultMaxUsed     = 1 << 20
	DefaultGrace       = 10 * time.Second
	DefaultMemoryWait  = 30 * time.Second
	helloTimeout       = 10 * time.Second
)

// Server is the network dealer. Each connection serves one party of one
// session; sessions are independent (a failing connection only ends its
// own session's material). Safe for concurrent use; Serve may be called
// once.
type Server struct {
	// Dealer generates the material (NewRandomDealer in production).
	Dealer *mpc.Dealer
	// MaxSessions bounds the sessions open at once (default 4096).
	MaxSessions int
	// MaxUsed bounds the remembered ended session ids used to refuse
	// replays (default 2^20; the oldest are forgotten first).
	MaxUsed int
	// Grace is how long Serve waits for open connections to finish after
	// ctx ends before closing them (default 10 s; negative: close at once).
	Grace time.Duration
	// MaxMemory bounds the material held in memory: the halves generated
	// for one party and waiting until it asks for them (what a pooled
	// session costs before its client arrives; about 0.5 GB for an
	// all-ReLU ResNet-20 inference). A request that would generate new
	// material while this much is held waits up to MemoryWait for it to
	// fall, then fails its session with ErrMemory (the other sessions go
	// on). The check is made before each generation, so concurrent
	// generations may exceed the bound by one request's material each.
	// 0: DefaultMaxMemory(); negative: no bound.
	MaxMemory int64
	// MemoryWait is how long a request waits for memory (default 30 s;
	// keep it below the parties' read timeouts).
	MemoryWait time.Duration
	// Logf, if set, receives one line per session event.
	Logf func(format string, args ...any)

	mu        sync.Mutex
	sessions  map[SessionID]*session
	used      map[SessionID]struct{}
	usedOrder []SessionID

	served   atomic.Int64
	material atomic.Int64
	refused  atomic.Int64 // requests refused for memory
}

type session struct {
	hub    *mpc.Hub
	hash   [32]byte
	joined [2]bool
	active int
}

// Stats are a dealer's counters.
type Stats struct {
	// Sessions is the number of party connections that joined a session.
	Sessions int64 `json:"sessions"`
	// MaterialBytes is the encoded material sent.
	MaterialBytes int64 `json:"material_bytes"`
	// Open is the number of sessions open now.
	Open int `json:"open"`
	// Held is the material held in memory for parties now (see
	// Server.MaxMemory).
	Held int64 `json:"held_bytes"`
	// MemoryRefused is the number of sessions failed by the memory bound.
	MemoryRefused int64 `json:"memory_refused"`
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	open := len(s.sessions)
	s.mu.Unlock()
	return Stats{Sessions: s.served.Load(), MaterialBytes: s.material.Load(), Open: open, Held: s.held(), MemoryRefused: s.refused.Load()}
}

// ErrMemory is returned (and sent to the party) when a request would
// generate material while the dealer holds MaxMemory for longer than
// MemoryWait.
var ErrMemory = errors.New("dealer memory limit reached")

// held returns the material held for parties over all open sessions.
func (s *Server) held() int64 {
	s.mu.Lock()
	hubs := make([]*mpc.Hub, 0, len(s.sessions))
	for _, se := range s.sessions {
		hubs = append(hubs, se.hub)
	}
	s.mu.Unlock()
	var n int64
	for _, h := range hubs {
		n += h.Pending()
	}
	return n
}

// maxMemory is the effective bound (negative: none).
func (s *Server) maxMemory() int64 {
	if s.MaxMemory == 0 {
		return DefaultMaxMemory()
	}
	return s.MaxMemory
}

// admit waits until party p's request may be served: at once when it
// collects the other party's half or the held material is below the
// bound, else until it falls below it, for at most MemoryWait.
func (s *Server) admit(ctx context.Context, hub *mpc.Hub, p mpc.Party, req mpc.Request) error {
	limit := s.maxMemory()
	if limit < 0 {
		return nil
	}
	wait := s.MemoryWait
	if wait <= 0 {
		wait = DefaultMemoryWait
	}
	deadline := time.Now().Add(wait)
	for {
		if !hub.Generates(p, req) {
			return nil
		}
		held := s.held()
		if held < limit {
			return nil
		}
		if time.Now().After(deadline) {
			s.refused.Add(1)
			return fmt.Errorf("%w: %s of material waiting for parties (limit %s) for %v; retry later", ErrMemory, FormatBytes(held), FormatBytes(limit), wait)
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// ErrReplay is returned (and sent to the party) for a session id that was
// already joined by the same party or has ended.
var ErrReplay = errors.New("session id already used (replay refused)")

// join registers party p in session sid.
func (s *Server) join(sid SessionID, p mpc.Party, hash [32]byte) (*mpc.Hub, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions == nil {
		s.sessions = map[SessionID]*session{}
		s.used = map[SessionID]struct{}{}
	}
	if _, ok := s.used[sid]; ok {
		return nil, ErrReplay
	}
	se, ok := s.sessions[sid]
	if !ok {
		maxS := s.MaxSessions
		if maxS <= 0 {
			maxS = DefaultMaxSessions
		}
		if len(s.sessions) >= maxS {
			return nil, fmt.Errorf("too many open sessions (%d)", maxS)
		}
		se = &session{hub: mpc.NewHub(s.Dealer), hash: hash}
		s.sessions[sid] = se
	}
	if se.joined[p] {
		return nil, ErrReplay
	}
	if se.hash != hash {
		return nil, fmt.Errorf("public plan hash %x differs from the other party's %x", hash[:8], se.hash[:8])
	}
	se.joined[p] = true
	se.active++
	return se.hub, nil
}

// leave ends party p's connection to sid; the session ends (its id is
// remembered as used) when no party is connected.
func (s *Server) leave(sid SessionID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.sessions[sid]
	if !ok {
		return
	}
	se.active--
	if se.active > 0 {
		return
	}
	delete(s.sessions, sid)
	s.used[sid] = struct{}{}
	s.usedOrder = append(s.usedOrder, sid)
	maxU := s.MaxUsed
	if maxU <= 0 {
		maxU = DefaultMaxUsed
	}
	for len(s.usedOrder) > maxU {
		delete(s.used, s.usedOrder[0])
		s.usedOrder = s.usedOrder[1:]
	}
}

// Serve accepts parties on ln until ctx ends, then stops accepting, lets
// open connections finish for Grace and closes the rest. It closes ln and
// returns nil after a shutdown, or the accept error.
func (s *Server) Serve(ctx context.Context, ln *secnet.Listener) error {
	if s.Dealer == nil {
		return errors.New("dealer: no mpc.Dealer")
	}
	grace := s.Grace
	if grace == 0 {
		grace = DefaultGrace
	}
	loop := &acceptloop.Loop{Name: "dealer", Grace: grace, Handle: s.handle, Logf: s.Logf}
	return loop.Run(ctx, ln)
}

// handle serves one party connection past its handshake.
func (s *Server) handle(ctx context.Context, conn *transport.FramedConn) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	timer := time.AfterFunc(helloTimeout, func() { conn.Close() })
	b, err := transport.RecvMax(conn, helloLen) // a longer hello is refused unread
	timer.Stop()
	if err != nil {
		s.logf("dealer: %v: no hello: %v", conn.RemoteAddr(), err)
		return
	}
	party, sid, hash, err := parseHello(b)
	if err != nil {
		s.logf("dealer: %v: %v", conn.RemoteAddr(), err)
		conn.Send(frame.Error(tagError, err.Error()))
		return
	}
	p := mpc.Party(party)
	hub, err := s.join(sid, p, hash)
	if err != nil {
		s.logf("dealer: session %s %v refused: %v", sid, p, err)
		conn.Send(frame.Error(tagError, err.Error()))
		return
	}
	defer s.leave(sid)
	s.served.Add(1)
	if err := conn.Send([]byte(tagOK)); err != nil {
		return
	}
	var items, bytes int64
	err = s.loop(ctx, conn, hub, p, &items, &bytes)
	switch {
	case err == nil, errors.Is(err, io.EOF):
		s.logf("dealer: session %s %v done: %d items, %d bytes", sid, p, items, bytes)
	default:
		s.logf("dealer: session %s %v: %v (after %d items)", sid, p, err, items)
	}
}

// loop answers requests and pings until the party leaves.
func (s *Server) loop(ctx context.Context, conn transport.Conn, hub *mpc.Hub, p mpc.Party, items, bytes *int64) error {
	for {
		b, err := transport.RecvMax(conn, maxRequestFrame)
		if err != nil {
			return err
		}
		if string(b) == tagPing {
			if err := conn.Send([]byte(tagPing)); err != nil {
				return err
			}
			continue
		}
		req, err := mpc.UnmarshalRequest(b)
		if err != nil {
			conn.Send(frame.Error(tagError, err.Error()))
			return err
		}
		if err := s.admit(ctx, hub, p, req); err != nil {
			conn.Send(frame.Error(tagError, err.Error()))
			return err
		}
		m, err := hub.Get(p, req)
		if err != nil {
			conn.Send(frame.Error(tagError, err.Error()))
			return err
		}
		// The FSS keys go out from their own memory (no encoded copy of
		// the material is built).
		head, body, err := m.MarshalParts()
		if err != nil {
			conn.Send(frame.Error(tagError, err.Error()))
			return err
		}
		if err := transport.SendParts(conn, head, body); err != nil {
			return err
		}
		n := int64(len(head) + len(body))
		m.Release() // sent, and held by nobody else: recycle the keys' memory
		*items++
		*bytes += n
		s.material.Add(n)
	}
}
