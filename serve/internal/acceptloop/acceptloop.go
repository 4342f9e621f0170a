// Package acceptloop is the accept loop and graceful shutdown that the
// inference server (serve.Server) and the network dealer
// (dealer.Server) share: accept connections on a secnet.Listener, run the
// handshake and a handler for each in its own goroutine, and when the
// context ends stop accepting, let the handlers finish for a grace period,
// then cancel them and close their connections.
package acceptloop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

// Loop serves the connections of one listener. Set the fields, then call
// Run once.
type Loop struct {
	// Name prefixes the accept error and the handshake log lines
	// ("serve", "dealer").
	Name string
	// Grace is how long Run lets running handlers finish after its context
	// ends before cancelling them and closing their connections (zero or
	// negative: at once). The servers resolve their own defaults.
	Grace time.Duration
	// Handle serves one connection after its handshake. Its context is
	// cancelled when the grace period ends; Run closes the connection
	// when Handle returns.
	Handle func(ctx context.Context, conn *transport.FramedConn)
	// Stopped, if set, runs once accepting has stopped, before the grace
	// period starts.
	Stopped func()
	// Expired, if set, runs when the grace period ends with handlers still
	// running, before they are cancelled.
	Expired func()
	// Logf, if set, receives one line per failed handshake and per retried
	// accept error.
	Logf func(format string, args ...any)
	// MaxPending bounds the connections not yet authenticated (from
	// accept until the handler calls Authenticated, or returns) over all
	// peers, and MaxPendingPerHost those of one source IP address; a
	// connection above either is closed at once, before its handshake, so
	// a flood of stalled connections costs a bounded number of goroutines
	// and cannot hold every slot for the handshake and hello timeouts. 0:
	// no bound.
	MaxPending, MaxPendingPerHost int
	// Rejected, if set, is called for each connection closed by
	// MaxPending (perHost false) or MaxPendingPerHost (perHost true),
	// before the close; it runs on the accept goroutine, so it must not block.
	Rejected func(host string, perHost bool)

	conns   secnet.ConnSet
	pmu     sync.Mutex
	pending int
	perHost map[string]int
}

// slotKey carries a connection's pending slot in its handler's context.
type slotKey struct{}

// slot is one pending connection's place under MaxPending; release frees
// it once.
type slot struct {
	once    sync.Once
	release func()
}

// Authenticated tells the loop that the connection of the handler running
// with ctx has authenticated (its peer proved who it is, or joined a
// session), so it no longer counts under MaxPending and
// MaxPendingPerHost. Calling it again, or outside a handler, does nothing.
func Authenticated(ctx context.Context) {
	if s, ok := ctx.Value(slotKey{}).(*slot); ok {
		s.once.Do(s.release)
	}
}

// host is the IP address of a connection's peer (the whole address if it
// has no port).
func host(nc net.Conn) string {
	a := nc.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(a); err == nil {
		return h
	}
	return a
}

// reserve takes a pending slot for a connection from h, or reports which
// bound refuses it.
func (l *Loop) reserve(h string) (s *slot, ok, perHost bool) {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if l.MaxPending > 0 && l.pending >= l.MaxPending {
		return nil, false, false
	}
	if l.MaxPendingPerHost > 0 && l.perHost[h] >= l.MaxPendingPerHost {
		return nil, false, true
	}
	if l.perHost == nil {
		l.perHost = map[string]int{}
	}
	l.pending++
	l.perHost[h]++
	return &slot{release: func() {
		l.pmu.Lock()
		defer l.pmu.Unlock()
		l.pending--
		if l.perHost[h]--; l.perHost[h] <= 0 {
			delete(l.perHost, h)
		}
	}}, true, false
}

// Run accepts connections on ln until ctx ends or Accept fails, handling
// each in its own goroutine. Temporary accept errors (timeouts, and running
// out of file descriptors or buffers, as a flood of raw connections causes)
// are retried after a back-off, as net/http does, instead of ending the
// process. Then it closes ln, runs Stopped, waits up to Grace for the
// running handlers, cancels the rest, closes their connections and waits
// for them. It returns nil after a shutdown, or the accept error.
func (l *Loop) Run(ctx context.Context, ln *secnet.Listener) error {
	return l.run(ctx, ln)
}

// listener is the part of *secnet.Listener that Run uses; tests substitute
// one whose Accept fails.
type listener interface {
	Accept() (net.Conn, error)
	Close() error
	Handshake(ctx context.Context, nc net.Conn) (*transport.FramedConn, error)
}

// Back-off bounds after a temporary accept error (those of net/http).
const (
	minAcceptDelay = 5 * time.Millisecond
	maxAcceptDelay = time.Second
)

// temporary reports whether an accept error may pass: a timeout, or a lack
// of file descriptors, buffers or memory, or a connection aborted before it
// was accepted.
func temporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (l *Loop) run(ctx context.Context, ln listener) error {
	if l.Handle == nil {
		ln.Close()
		return fmt.Errorf("%s: no connection handler", l.Name)
	}
	var wg sync.WaitGroup
	connCtx, cancelConns := context.WithCancel(context.Background())
	defer cancelConns()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var acceptErr error
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				if temporary(err) {
					delay = min(max(2*delay, minAcceptDelay), maxAcceptDelay)
					if l.Logf != nil {
						l.Logf("%s: accept: %v; retrying in %v", l.Name, err, delay)
					}
					t := time.NewTimer(delay)
					select {
					case <-t.C:
					case <-ctx.Done():
					}
					t.Stop()
					continue // after a shutdown, Accept fails on the closed ln
				}
				acceptErr = fmt.Errorf("%s: accept: %w", l.Name, err)
			}
			break
		}
		delay = 0
		h := host(nc)
		sl, ok, perHost := l.reserve(h)
		if !ok {
			// Report before closing: a peer that sees the close then
			// finds the rejection already logged (tests rely on it).
			if l.Rejected != nil {
				l.Rejected(h, perHost)
			}
			nc.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sl.once.Do(sl.release)
			l.handle(context.WithValue(connCtx, slotKey{}, sl), ln, nc)
		}()
	}
	ln.Close()
	if l.Stopped != nil {
		l.Stopped()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if l.Grace > 0 {
		t := time.NewTimer(l.Grace)
		select {
		case <-done:
		case <-t.C:
			if l.Expired != nil {
				l.Expired()
			}
		}
		t.Stop()
	}
	cancelConns()
	l.conns.CloseAll()
	<-done
	return acceptErr
}

// handle runs the handshake on nc and, if it succeeds, Handle; the
// connection is tracked so that the shutdown can close it.
func (l *Loop) handle(ctx context.Context, ln listener, nc net.Conn) {
	conn, err := ln.Handshake(ctx, nc)
	if err != nil {
		if l.Logf != nil {
			l.Logf("%s: %v", l.Name, err)
		}
		return
	}
	l.conns.Add(conn)
	defer l.conns.Remove(conn)
	defer conn.Close()
	l.Handle(ctx, conn)
}
