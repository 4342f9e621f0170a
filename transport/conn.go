// Package transport moves messages between the two parties (and the dealer)
// of a secure computation and counts the traffic.
//
// A Conn sends and receives whole messages ([]byte) in order. Two
// implementations: Pipe, an in-memory buffered pair for tests and
// in-process runs, and FramedConn, a length-prefixed framing over any
// net.Conn (Dial, Listen, NewConn) with a maximum frame size and read/write
// timeouts. Every Conn has Stats that count bytes, messages and rounds per
// phase ("offline", "online") and per layer label.
package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"
)

// Conn is a reliable, ordered, message-oriented connection to one peer.
//
// Send must not retain b after it returns (callers may reuse the buffer).
// Recv returns a slice owned by the caller. One goroutine may Send while
// another Recvs; concurrent Sends (or concurrent Recvs) are not allowed.
type Conn interface {
	// Send transmits one message. It may return before the peer receives it.
	Send(b []byte) error
	// Recv blocks until the next message arrives, the read timeout expires
	// (the error wraps os.ErrDeadlineExceeded), or the connection fails; a
	// peer that closed cleanly gives io.EOF.
	Recv() ([]byte, error)
	// Close releases the connection; the peer's pending and later Recvs
	// fail after the messages already sent are drained.
	Close() error
	// Stats returns the connection's traffic counters.
	Stats() *Stats
}

// Options configure a connection.
type Options struct {
	// MaxFrame is the largest message accepted, in bytes (at most
	// MaxFrameLimit). Larger outgoing messages and incoming length prefixes
	// are errors; nothing is allocated for an oversized prefix.
	MaxFrame int
	// ReadTimeout bounds how long Recv waits without progress (0: forever).
	ReadTimeout time.Duration
	// WriteTimeout bounds how long Send may block (0: forever).
	WriteTimeout time.Duration
}

// Defaults for Options.
const (
	DefaultMaxFrame     = 1 << 30 // 1 GiB
	MaxFrameLimit       = 1<<32 - 1
	DefaultReadTimeout  = 10 * time.Minute
	DefaultWriteTimeout = 10 * time.Minute
)

// DefaultOptions returns MaxFrame 1 GiB and 10-minute read and write
// timeouts: generous enough for a slow peer computing a large layer, yet a
// dead peer does not hang a party forever.
func DefaultOptions() Options {
	return Options{MaxFrame: DefaultMaxFrame, ReadTimeout: DefaultReadTimeout, WriteTimeout: DefaultWriteTimeout}
}

func (o Options) normalized() Options {
	if o.MaxFrame <= 0 {
		o.MaxFrame = DefaultMaxFrame
	}
	if uint64(o.MaxFrame) > MaxFrameLimit {
		o.MaxFrame = int(min(uint64(MaxFrameLimit), uint64(math.MaxInt)))
	}
	return o
}

// Errors returned by the transports.
var (
	// ErrClosed is returned by operations on a connection closed locally.
	ErrClosed = errors.New("transport: connection closed")
	// ErrFrameTooLarge is returned for a message above the maximum frame size.
	ErrFrameTooLarge = errors.New("transport: frame too large")
)

func timeoutErr(op string, d time.Duration) error {
	return fmt.Errorf("transport: %s: no data for %v: %w", op, d, os.ErrDeadlineExceeded)
}

// SetPhase attributes c's subsequent traffic to phase (PhaseOffline or
// PhaseOnline).
func SetPhase(c Conn, phase string) { c.Stats().SetPhase(phase) }

// SetLayer attributes c's subsequent traffic to a layer label.
func SetLayer(c Conn, label string) { c.Stats().SetLayer(label) }

// AsyncSender is an optional interface of a Conn, implemented by Pipe and
// FramedConn: SendAsync counts the message in Stats at once and transmits
// it in the background; the channel delivers Send's result, and neither b
// may be modified nor another message sent before then. Exchange uses it so that rounds are counted the
// same whatever the goroutine schedule; a Conn wrapper should forward it.
type AsyncSender interface {
	SendAsync(b []byte) <-chan error
}

// LimitedReceiver is an optional interface of a Conn, implemented by
// FramedConn and Pipe: RecvMax is Recv for a message of at most max bytes.
// A receiver that knows the size of the message it expects (a hello, a
// protocol message of a known shape) uses it through RecvMax so that a
// peer cannot make it read, or allocate, a frame up to the connection's
// MaxFrame first. A Conn wrapper should forward it.
type LimitedReceiver interface {
	RecvMax(max int) ([]byte, error)
}

// HandshakeMaxFrame is the frame limit for hellos and handshake answers:
// far above any of autorep's (at most a few hundred bytes, an error reason
// included), far below a protocol message.
const HandshakeMaxFrame = 4 << 10

// RecvMax receives one message of at most max bytes from c. Through
// LimitedReceiver (FramedConn) a longer message is refused from its length
// prefix, before it is read or allocated; other Conns receive it and then
// refuse it. The error wraps ErrFrameTooLarge; the connection is out of
// step afterwards.
func RecvMax(c Conn, max int) ([]byte, error) {
	if l, ok := c.(LimitedReceiver); ok {
		return l.RecvMax(max)
	}
	b, err := c.Recv()
	if err != nil {
		return nil, err
	}
	return checkMax(b, max)
}

// ErrMessageSize is wrapped by the errors of RecvExact and ExchangeExact
// for a message that is not of the size the protocol step expects.
var ErrMessageSize = errors.New("transport: message of the wrong size")

// RecvExact receives one message of exactly n bytes from c, for a
// protocol step that knows the size of the peer's message from its own
// parameters. A longer message is refused as RecvMax does, from its length
// prefix on a FramedConn (the error wraps ErrMessageSize and
// ErrFrameTooLarge); a shorter one is refused once read (ErrMessageSize).
// Either way the connection is out of step afterwards.
func RecvExact(c Conn, n int) ([]byte, error) {
	b, err := RecvMax(c, n)
	return checkExact(b, n, err)
}

// ExchangeExact is Exchange receiving a message of exactly n bytes (see
// RecvExact); like Exchange it closes c when the receive fails.
func ExchangeExact(c Conn, out []byte, n int) ([]byte, error) {
	b, err := ExchangeMax(c, out, n)
	if err == nil && len(b) != n {
		c.Close() // as for a failed receive: the stream is out of step
	}
	return checkExact(b, n, err)
}

// checkExact turns a receive's result into RecvExact's.
func checkExact(b []byte, n int, err error) ([]byte, error) {
	if errors.Is(err, ErrFrameTooLarge) {
		return nil, fmt.Errorf("%w (want %d bytes): %w", ErrMessageSize, n, err)
	}
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrMessageSize, len(b), n)
	}
	return b, nil
}

// checkMax refuses a received message longer than max.
func checkMax(b []byte, max int) ([]byte, error) {
	if len(b) > max {
		return nil, fmt.Errorf("transport: message of %d bytes (max %d): %w", len(b), max, ErrFrameTooLarge)
	}
	return b, nil
}

// PartsSender is an optional interface of a Conn, implemented by
// FramedConn: SendParts sends the concatenation of parts as one message
// (the same bytes, counters and framing as Send) without building it, so
// a large message assembled from existing buffers is written out without
// copying it first. A Conn wrapper should forward it.
type PartsSender interface {
	SendParts(parts ...[]byte) error
}

// SendParts sends the concatenation of parts as one message on c: through
// PartsSender when c has it, else by concatenating and calling Send.
func SendParts(c Conn, parts ...[]byte) error {
	if p, ok := c.(PartsSender); ok {
		return p.SendParts(parts...)
	}
	n := 0
	for _, b := range parts {
		n += len(b)
	}
	msg := make([]byte, 0, n)
	for _, b := range parts {
		msg = append(msg, b...)
	}
	return c.Send(msg)
}

// Exchange sends out and receives the peer's message concurrently, so two
// parties can both call Exchange without deadlock whatever the message
// sizes. It returns the received message. When the receive fails, Exchange
// closes c before it returns: the stream is out of step anyway, and a send
// still blocked on a peer that stopped reading would otherwise keep Exchange
// (and its sending goroutine) waiting for up to the write timeout, or
// forever without one.
func Exchange(c Conn, out []byte) ([]byte, error) { return exchange(c, out, c.Recv) }

// ExchangeMax is Exchange receiving a message of at most max bytes (see
// RecvMax): for a party that knows the size of the peer's message.
func ExchangeMax(c Conn, out []byte, max int) ([]byte, error) {
	return exchange(c, out, func() ([]byte, error) { return RecvMax(c, max) })
}

func exchange(c Conn, out []byte, recv func() ([]byte, error)) ([]byte, error) {
	var done <-chan error
	if a, ok := c.(AsyncSender); ok {
		done = a.SendAsync(out)
	} else {
		ch := make(chan error, 1)
		go func() { ch <- c.Send(out) }()
		done = ch
	}
	in, rerr := recv()
	if rerr != nil {
		c.Close() // unblocks the send
	}
	serr := <-done
	if rerr != nil {
		return nil, fmt.Errorf("transport: exchange: recv: %w", rerr)
	}
	if serr != nil {
		return nil, fmt.Errorf("transport: exchange: send: %w", serr)
	}
	return in, nil
}

// bufPool holds encoding buffers for SendUint64s.
var bufPool sync.Pool

func getBuf(n int) *[]byte {
	if p, ok := bufPool.Get().(*[]byte); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n)
	return &b
}

// EncodeUint64s writes v into dst (len(dst) must be 8·len(v)) as
// little-endian words.
func EncodeUint64s(dst []byte, v []uint64) {
	if len(dst) != 8*len(v) {
		panic(fmt.Sprintf("transport.EncodeUint64s: %d bytes for %d words", len(dst), len(v)))
	}
	for i, x := range v {
		binary.LittleEndian.PutUint64(dst[8*i:], x)
	}
}

// DecodeUint64s reads little-endian words from b into dst; len(b) must be
// exactly 8·len(dst).
func DecodeUint64s(dst []uint64, b []byte) error {
	if len(b) != 8*len(dst) {
		return fmt.Errorf("transport: message of %d bytes, want %d (%d words)", len(b), 8*len(dst), len(dst))
	}
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return nil
}

// SendUint64s sends v as one message of little-endian words.
func SendUint64s(c Conn, v []uint64) error {
	p := getBuf(8 * len(v))
	defer bufPool.Put(p)
	EncodeUint64s(*p, v)
	return c.Send(*p)
}

// RecvUint64s receives one message of little-endian words.
func RecvUint64s(c Conn) ([]uint64, error) {
	b, err := c.Recv()
	if err != nil {
		return nil, err
	}
	return words(b)
}

// words decodes a message of little-endian words.
func words(b []byte) ([]uint64, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("transport: message of %d bytes is not a whole number of words", len(b))
	}
	v := make([]uint64, len(b)/8)
	_ = DecodeUint64s(v, b)
	return v, nil
}

// RecvUint64sInto receives one message of exactly len(dst) words into dst;
// a longer one is refused from its length prefix (RecvMax).
func RecvUint64sInto(c Conn, dst []uint64) error {
	b, err := RecvMax(c, 8*len(dst))
	if err != nil {
		return err
	}
	return DecodeUint64s(dst, b)
}

// ExchangeUint64s sends out and receives the peer's words concurrently
// (see Exchange).
func ExchangeUint64s(c Conn, out []uint64) ([]uint64, error) {
	p := getBuf(8 * len(out))
	defer bufPool.Put(p)
	EncodeUint64s(*p, out)
	b, err := Exchange(c, *p)
	if err != nil {
		return nil, err
	}
	return words(b)
}

// ExchangeUint64sInto is ExchangeUint64s receiving exactly len(dst) words
// into dst (dst may alias out); a longer message is refused from its
// length prefix (ExchangeMax).
func ExchangeUint64sInto(c Conn, out, dst []uint64) error {
	p := getBuf(8 * len(out))
	defer bufPool.Put(p)
	EncodeUint64s(*p, out)
	b, err := ExchangeMax(c, *p, 8*len(dst))
	if err != nil {
		return err
	}
	return DecodeUint64s(dst, b)
}
