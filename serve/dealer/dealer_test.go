package dealer

import (
	"bytes"
	"context"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/internal/frame"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

// FuzzParseHello: arbitrary hellos are refused or round-trip.
func FuzzParseHello(f *testing.F) {
	f.Add(helloMsg{party: 1, sid: SessionID{9}, hash: [32]byte{1}, ticket: Ticket{2}}.encode())
	f.Add([]byte("ADH1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHello(b)
		if err == nil && !bytes.Equal(h.encode(), b) {
			t.Fatalf("hello %x does not round-trip", b)
		}
		if r, ok := frame.Reason(tagError, b); ok && len(r) > 200 {
			t.Fatalf("error reason of %d bytes", len(r))
		}
	})
}

// TestDealerSessions checks the dealer's session rules over TCP: both
// parties' material matches (Beaver triple c = a·b), a wrong plan hash and
// a second join of the same party are refused, an ended session id cannot
// be reused, a malformed request ends only that connection, and pings and
// pipelined prefetches work.
func TestDealerSessions(t *testing.T) {
	ln, err := secnet.Listen("127.0.0.1:0", secnet.Config{Insecure: true}, transport.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Generator: mpcdealer.NewGenerator(ring.Seed{4}), Grace: -1, Logf: t.Logf}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	addr := ln.Addr().String()
	join := func(p mpc.Party, sid SessionID, h [32]byte) (*Remote, error) {
		c, err := secnet.Dial(ctx, addr, secnet.Config{Insecure: true}, transport.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		pr, err := Join(ctx, c, p, sid, h)
		if err != nil {
			c.Close()
		}
		return pr, err
	}
	sid, _ := NewSessionID()
	hash := [32]byte{1}
	p0, err := join(mpc.Server, sid, hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := join(mpc.Client, sid, [32]byte{2}); err == nil || !strings.Contains(err.Error(), "hash") {
		t.Errorf("wrong hash: %v", err)
	}
	p1, err := join(mpc.Client, sid, hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := join(mpc.Server, sid, hash); err == nil || !strings.Contains(err.Error(), "replay") {
		t.Errorf("second server join: %v", err)
	}
	reqs := []corr.Request{{Kind: mpc.KindTriple, Label: "t", N: 5}, {Kind: mpc.KindTriple, Label: "t", N: 3}}
	if err := p0.Prefetch(reqs); err != nil {
		t.Fatal(err)
	}
	// The queue is the run's one queue: prefetching what it holds asks
	// the dealer nothing (pi's offline phase after a pooled prefetch), and
	// a list that differs from what is queued is an error before the
	// online phase.
	fetched := p0.Offline().Items
	if err := p0.Prefetch(reqs); err != nil || p0.Offline().Items != fetched || p0.Queued() != len(reqs) {
		t.Errorf("prefetch of queued requests: %v, %d items fetched, %d queued", err, p0.Offline().Items-fetched, p0.Queued())
	}
	if err := p0.Prefetch([]corr.Request{{Kind: mpc.KindTriple, Label: "t", N: 4}}); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("prefetch differing from the queue: %v", err)
	}
	if err := p1.Ping(); err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs {
		m0, err := p0.Get(r)
		if err != nil {
			t.Fatal(err)
		}
		m1, err := p1.Get(r)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < r.N; j++ {
			a := m0.Vecs[0].Data[j] + m1.Vecs[0].Data[j]
			b := m0.Vecs[1].Data[j] + m1.Vecs[1].Data[j]
			c := m0.Vecs[2].Data[j] + m1.Vecs[2].Data[j]
			if a*b != c {
				t.Fatalf("request %d element %d: c ≠ a·b", i, j)
			}
		}
	}
	if p0.Queued() != 0 || p0.Used() == 0 || p0.Offline().Bytes != p0.Used() {
		t.Errorf("server provider: queued %d, used %d, fetched %d", p0.Queued(), p0.Used(), p0.Offline().Bytes)
	}
	// A request the other party made differently is an error for this
	// session only.
	if _, err := p0.Get(corr.Request{Kind: mpc.KindSquare, Label: "s", N: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := p1.Get(corr.Request{Kind: mpc.KindSquare, Label: "s", N: 3}); err == nil {
		t.Error("mismatched request served")
	}
	p0.Close()
	p1.Close()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().Open > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := join(mpc.Client, sid, hash); err == nil || !strings.Contains(err.Error(), "replay") {
		t.Errorf("join of an ended session: %v", err)
	}
	// Malformed request: the connection ends with an error frame.
	sid2, _ := NewSessionID()
	p2, err := join(mpc.Server, sid2, hash)
	if err != nil {
		t.Fatal(err)
	}
	if err := p2.conn.Send([]byte("ARQ1garbage")); err != nil {
		t.Fatal(err)
	}
	if b, err := p2.conn.Recv(); err != nil {
		t.Fatal(err)
	} else if r, ok := frame.Reason(tagError, b); !ok || !strings.Contains(r, "request") {
		t.Errorf("malformed request answered %q", b)
	}
	p2.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestKeepAlive: with a short dealer read timeout, an idle party's session
// survives when it keeps alive and is ended when it does not.
func TestKeepAlive(t *testing.T) {
	opts := transport.DefaultOptions()
	opts.ReadTimeout = 300 * time.Millisecond
	ln, err := secnet.Listen("127.0.0.1:0", secnet.Config{Insecure: true}, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Generator: mpcdealer.NewGenerator(ring.Seed{5}), Grace: -1}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	for _, alive := range []bool{true, false} {
		c, err := secnet.Dial(ctx, ln.Addr().String(), secnet.Config{Insecure: true}, transport.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		sid, _ := NewSessionID()
		p, err := Join(ctx, c, mpc.Server, sid, [32]byte{})
		if err != nil {
			t.Fatal(err)
		}
		if alive {
			p.KeepAlive(100 * time.Millisecond)
		}
		time.Sleep(time.Second)
		_, err = p.Get(corr.Request{Kind: mpc.KindSquare, Label: "x", N: 4})
		if alive && err != nil {
			t.Errorf("kept-alive session ended: %v", err)
		}
		if !alive && (err == nil || !strings.Contains(err.Error(), "idle timeout")) {
			t.Errorf("idle session without keep-alive: %v", err)
		}
		p.Close()
	}
	cancel()
	<-done
}
