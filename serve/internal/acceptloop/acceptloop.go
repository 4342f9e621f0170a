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
	// Logf, if set, receives one line per failed handshake.
	Logf func(format string, args ...any)

	conns secnet.ConnSet
}

// Run accepts connections on ln until ctx ends or Accept fails (accept
// timeouts are retried), handling each in its own goroutine. Then it
// closes ln, runs Stopped, waits up to Grace for the running handlers,
// cancels the rest, closes their connections and waits for them. It
// returns nil after a shutdown, or the accept error.
func (l *Loop) Run(ctx context.Context, ln *secnet.Listener) error {
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
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				acceptErr = fmt.Errorf("%s: accept: %w", l.Name, err)
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.handle(connCtx, ln, nc)
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
func (l *Loop) handle(ctx context.Context, ln *secnet.Listener, nc net.Conn) {
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
