package secnet

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/autorep/autorep/transport"
)

// Shape wraps nc so that every byte written leaves like on link l: it is
// serialised at l's bandwidth and delivered after half of l's round-trip
// time (the one-way delay). Reads are untouched, so both ends of a
// connection must shape their writes to emulate the link in both
// directions. It is the in-process fallback for `tc netem` where the
// kernel lacks it; the last 2 ms of every delay are spun, not slept, so
// sub-millisecond delays hold (timer wake-ups would round them up to
// ~1 ms). Write returns once the data is queued (at most shapeQueue
// chunks are in flight); Close delivers what is queued first
// (waiting at most the delay plus one second).
func Shape(nc net.Conn, l transport.Link) net.Conn {
	s := &shapedConn{Conn: nc, delay: l.RTT / 2, q: make(chan chunk, shapeQueue), done: make(chan struct{})}
	if l.BitsPerSecond > 0 {
		s.perByte = float64(time.Second) * 8 / l.BitsPerSecond
	}
	go s.writer()
	return s
}

const shapeQueue = 4096

type chunk struct {
	b   []byte
	due time.Time
}

type shapedConn struct {
	net.Conn
	delay   time.Duration
	perByte float64 // ns per byte
	q       chan chunk
	done    chan struct{}

	mu       sync.Mutex
	nextFree time.Time
	err      error
	closed   bool
	once     sync.Once
}

// Write queues b for delivery after its serialisation time and the delay.
func (s *shapedConn) Write(b []byte) (int, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, net.ErrClosed
	}
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return 0, err
	}
	now := time.Now()
	start := s.nextFree
	if start.Before(now) {
		start = now
	}
	s.nextFree = start.Add(time.Duration(float64(len(b)) * s.perByte))
	c := chunk{b: append([]byte(nil), b...), due: s.nextFree.Add(s.delay)}
	s.mu.Unlock()
	select {
	case s.q <- c:
		return len(b), nil
	case <-s.done:
		return 0, net.ErrClosed
	}
}

// writer delivers queued chunks when due.
func (s *shapedConn) writer() {
	for {
		select {
		case c := <-s.q:
			waitUntil(c.due)
			if _, err := s.Conn.Write(c.b); err != nil {
				s.mu.Lock()
				if s.err == nil {
					s.err = err
				}
				s.mu.Unlock()
			}
		case <-s.done:
			return
		}
	}
}

// spinBelow is the part of a delay the writer spins instead of sleeping:
// a Go sleep while the process is otherwise idle ends on the netpoller's
// millisecond timeout, so a 0.15 ms one-way delay (the emulated LAN) took
// about 1 ms and every protocol round several times the link's round trip
// (BenchmarkShapeRoundTripLAN).
const spinBelow = 2 * time.Millisecond

// waitUntil returns at t: it sleeps all but the last spinBelow of the wait
// and yields the processor in a loop for the rest.
func waitUntil(t time.Time) {
	if d := time.Until(t); d > spinBelow {
		time.Sleep(d - spinBelow)
	}
	for time.Now().Before(t) {
		runtime.Gosched()
	}
}

// Close delivers the queued data (bounded wait) and closes the connection.
func (s *shapedConn) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		deadline := time.Now().Add(s.delay + time.Second)
		for len(s.q) > 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		close(s.done)
		err = s.Conn.Close()
	})
	return err
}

// ParseLink reads a link emulation setting: "lan", "wan" (DESIGN §2.4:
// 3 Gbit/s with 0.3 ms round trip, 400 Mbit/s with 40 ms), "RTT,RATE"
// (e.g. "10ms,100mbit") or "" / "none" for no emulation (nil).
func ParseLink(s string) (*transport.Link, error) {
	switch strings.ToLower(s) {
	case "", "none":
		return nil, nil
	case "lan":
		l := transport.LAN
		return &l, nil
	case "wan":
		l := transport.WAN
		return &l, nil
	}
	rtt, rate, ok := strings.Cut(s, ",")
	if !ok {
		return nil, fmt.Errorf("link %q: want lan, wan, none or RTT,RATE (e.g. 10ms,100mbit)", s)
	}
	d, err := time.ParseDuration(rtt)
	if err != nil || d < 0 {
		return nil, fmt.Errorf("link %q: bad round-trip time", s)
	}
	bps, err := parseRate(rate)
	if err != nil {
		return nil, fmt.Errorf("link %q: %w", s, err)
	}
	return &transport.Link{Name: s, RTT: d, BitsPerSecond: bps}, nil
}

// parseRate reads "400mbit", "3gbit", "100kbit" or bits per second.
func parseRate(s string) (float64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range []struct {
		suffix string
		m      float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	var v float64
	if _, err := fmt.Sscanf(s, "%g", &v); err != nil || v <= 0 {
		return 0, errors.New("bad rate (want e.g. 400mbit)")
	}
	return v * mult, nil
}
