package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/autorep/autorep/internal/bufpool"
)

// Wire format: each message is a frame of a 4-byte little-endian payload
// length followed by the payload.

// HeaderSize is the size of a frame header in bytes.
const HeaderSize = 4

// A frame is read in chunks of readChunk bytes (the read deadline is
// extended after each). Its buffer starts at up to initialAlloc bytes, or
// at the size of the largest frame the peer has completed on this
// connection, and doubles as data arrives, so a peer that announces a huge
// frame and then stalls or disconnects costs at most about
// max(initialAlloc, its largest earlier frame, 2× what it sent) of memory,
// while a stream of large frames of similar sizes (dealer material) is
// read into buffers of the right size at once, without regrowing copies.
const (
	readChunk    = 1 << 20
	initialAlloc = 16 << 20
)

// WriteFrame writes b as one frame.
func WriteFrame(w io.Writer, b []byte) error { return writeFrameParts(w, b) }

// writeFrameParts writes the concatenation of parts as one frame.
func writeFrameParts(w io.Writer, parts ...[]byte) error {
	n := uint64(0)
	for _, b := range parts {
		n += uint64(len(b))
	}
	if n > MaxFrameLimit {
		return fmt.Errorf("transport: write %d bytes: %w", n, ErrFrameTooLarge)
	}
	var hdr [HeaderSize]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(n))
	bufs := append(net.Buffers{hdr[:]}, parts...)
	if _, err := bufs.WriteTo(w); err != nil {
		return fmt.Errorf("transport: write frame: %w", err)
	}
	return nil
}

// ReadFrame reads one frame of at most maxSize payload bytes. A clean end
// of stream before the frame gives io.EOF; a partial frame gives an error
// wrapping io.ErrUnexpectedEOF; a length above maxSize gives an error
// wrapping ErrFrameTooLarge without reading or allocating the payload.
func ReadFrame(r io.Reader, maxSize int) ([]byte, error) {
	return readFrame(r, maxSize, nil, 0)
}

// readFrame is ReadFrame calling progress (if not nil) before each read, to
// extend a deadline; the buffer starts at up to max(initialAlloc, prealloc)
// bytes.
func readFrame(r io.Reader, maxSize int, progress func(), prealloc int) ([]byte, error) {
	if progress != nil {
		progress()
	}
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("transport: truncated frame header: %w", err)
		}
		return nil, fmt.Errorf("transport: read frame header: %w", err)
	}
	n := uint64(binary.LittleEndian.Uint32(hdr[:]))
	if maxSize < 0 || n > uint64(maxSize) {
		return nil, fmt.Errorf("transport: frame of %d bytes (max %d): %w", n, maxSize, ErrFrameTooLarge)
	}
	size := int(n)
	// Buffers of a megabyte or more come from the pool of recycled dealer
	// material (see corr.Material.Release), and outgrown ones go back to it.
	buf := frameBuf(0, min(size, max(initialAlloc, prealloc)))
	for len(buf) < size {
		step := min(size-len(buf), readChunk)
		if cap(buf)-len(buf) < step {
			nb := frameBuf(len(buf), min(size, max(2*cap(buf), len(buf)+step)))
			copy(nb, buf)
			bufpool.PutBuffer(buf)
			buf = nb
		}
		if progress != nil {
			progress()
		}
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+step])
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("transport: truncated frame (%d of %d bytes): %w", len(buf), size, io.ErrUnexpectedEOF)
			}
			return nil, fmt.Errorf("transport: read frame (%d of %d bytes): %w", len(buf), size, err)
		}
	}
	return buf, nil
}

// frameBuf returns a buffer of length n and capacity at least c for a
// frame, from the buffer pool when large.
func frameBuf(n, c int) []byte {
	if c >= bufpool.MinPooled {
		return bufpool.GetBuffer(c)[:n]
	}
	return make([]byte, n, c)
}

// FramedConn is a Conn over a net.Conn (TCP, Unix socket, ...) using
// length-prefixed frames.
type FramedConn struct {
	nc    net.Conn
	opts  Options
	stats *Stats

	rmu    sync.Mutex
	r      *bufio.Reader
	rerr   error // sticky: the stream is out of sync after a framing error
	rmax   int   // largest frame received so far (its size may be allocated at once)
	wmu    sync.Mutex
	werr   error // sticky: a failed write may have left a partial frame
	closed chan struct{}
	once   sync.Once
}

// NewConn wraps nc with DefaultOptions.
func NewConn(nc net.Conn) *FramedConn { return NewConnOptions(nc, DefaultOptions()) }

// NewConnOptions wraps nc with the given options.
func NewConnOptions(nc net.Conn, o Options) *FramedConn {
	return &FramedConn{
		nc:     nc,
		opts:   o.normalized(),
		stats:  NewStats(),
		r:      bufio.NewReaderSize(nc, 64<<10),
		closed: make(chan struct{}),
	}
}

// Dial connects to a FramedConn peer at addr (host:port) over TCP with
// DefaultOptions.
func Dial(ctx context.Context, addr string) (*FramedConn, error) {
	return DialOptions(ctx, addr, DefaultOptions())
}

// DialOptions is Dial with the given options.
func DialOptions(ctx context.Context, addr string, o Options) (*FramedConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: dial %s: %w", addr, err)
	}
	return NewConnOptions(nc, o), nil
}

// DialRetry is Dial repeated every interval until it succeeds or ctx ends,
// for a party that may start before its peer listens.
func DialRetry(ctx context.Context, addr string, interval time.Duration, o Options) (*FramedConn, error) {
	for {
		c, err := DialOptions(ctx, addr, o)
		if err == nil {
			return c, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("transport: dial %s: %w (last error: %v)", addr, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// Stats returns the connection's counters.
func (c *FramedConn) Stats() *Stats { return c.stats }

// NetConn returns the underlying connection (a *tls.Conn over TLS), for
// its peer's identity; reading or writing it directly breaks the framing.
func (c *FramedConn) NetConn() net.Conn { return c.nc }

// RemoteAddr is the peer's network address.
func (c *FramedConn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

func (c *FramedConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// Send writes b as one frame, waiting at most WriteTimeout. After a failed
// write the stream may hold a partial frame, so every later Send returns the
// same error.
func (c *FramedConn) Send(b []byte) error {
	if err := c.checkSend(len(b)); err != nil {
		return err
	}
	c.stats.RecordSend(len(b))
	return c.write(b)
}

// SendParts implements PartsSender: the concatenation of parts is sent as
// one frame, as Send would, without building it.
func (c *FramedConn) SendParts(parts ...[]byte) error {
	n := 0
	for _, b := range parts {
		n += len(b)
	}
	if err := c.checkSend(n); err != nil {
		return err
	}
	c.stats.RecordSend(n)
	return c.write(parts...)
}

func (c *FramedConn) checkSend(n int) error {
	if c.isClosed() {
		return ErrClosed
	}
	if n > c.opts.MaxFrame {
		return fmt.Errorf("transport: send %d bytes (max %d): %w", n, c.opts.MaxFrame, ErrFrameTooLarge)
	}
	return nil
}

// SendAsync implements AsyncSender.
func (c *FramedConn) SendAsync(b []byte) <-chan error {
	ch := make(chan error, 1)
	if err := c.checkSend(len(b)); err != nil {
		ch <- err
		return ch
	}
	c.stats.RecordSend(len(b))
	go func() { ch <- c.write(b) }()
	return ch
}

func (c *FramedConn) write(parts ...[]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return c.werr
	}
	if d := c.opts.WriteTimeout; d > 0 {
		if err := c.nc.SetWriteDeadline(time.Now().Add(d)); err != nil {
			return fmt.Errorf("transport: send: %w", err)
		}
	}
	if err := writeFrameParts(c.nc, parts...); err != nil {
		if c.isClosed() {
			return ErrClosed
		}
		c.werr = fmt.Errorf("transport: send to %v: %w", c.nc.RemoteAddr(), err)
		return c.werr
	}
	return nil
}

// Recv reads the next frame. Each read waits at most ReadTimeout for
// progress. After an error (timeout, truncated or oversized frame) the
// stream is out of step, so every later Recv returns the same error.
func (c *FramedConn) Recv() ([]byte, error) { return c.recv(c.opts.MaxFrame) }

// RecvMax implements LimitedReceiver: Recv for a frame of at most max
// bytes (and MaxFrame). A longer frame is refused from its header, before
// anything is read or allocated for it, and the error is sticky as for
// any framing error.
func (c *FramedConn) RecvMax(max int) ([]byte, error) { return c.recv(min(max, c.opts.MaxFrame)) }

func (c *FramedConn) recv(maxSize int) ([]byte, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.isClosed() {
		return nil, ErrClosed
	}
	if c.rerr != nil {
		return nil, c.rerr
	}
	var progress func()
	if d := c.opts.ReadTimeout; d > 0 {
		progress = func() { _ = c.nc.SetReadDeadline(time.Now().Add(d)) }
	}
	b, err := readFrame(c.r, maxSize, progress, min(c.rmax, maxSize))
	if err != nil {
		if c.isClosed() {
			return nil, ErrClosed
		}
		if err != io.EOF {
			err = fmt.Errorf("transport: recv from %v: %w", c.nc.RemoteAddr(), err)
		}
		c.rerr = err
		return nil, err
	}
	c.rmax = max(c.rmax, len(b))
	c.stats.RecordRecv(len(b))
	return b, nil
}

// Close closes the underlying connection; blocked Send and Recv calls
// return ErrClosed.
func (c *FramedConn) Close() error {
	var err error
	c.once.Do(func() {
		close(c.closed)
		err = c.nc.Close()
	})
	if err != nil {
		return fmt.Errorf("transport: close: %w", err)
	}
	return nil
}

// Listener accepts FramedConn connections.
type Listener struct {
	ln   net.Listener
	opts Options
}

// Listen listens on a TCP address (host:port; port 0 picks a free port)
// with DefaultOptions for accepted connections.
func Listen(addr string) (*Listener, error) { return ListenOptions(addr, DefaultOptions()) }

// ListenOptions is Listen with the given options for accepted connections.
func ListenOptions(addr string, o Options) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen %s: %w", addr, err)
	}
	return &Listener{ln: ln, opts: o}, nil
}

// Addr is the listening address (useful with port 0).
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Accept waits for the next connection or for ctx to end.
func (l *Listener) Accept(ctx context.Context) (*FramedConn, error) {
	type res struct {
		nc  net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		nc, err := l.ln.Accept()
		ch <- res{nc, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("transport: accept: %w", r.err)
		}
		return NewConnOptions(r.nc, l.opts), nil
	case <-ctx.Done():
		// Unblock the pending Accept, close a connection it may still
		// return, and restore the listener for later calls.
		d, ok := l.ln.(interface{ SetDeadline(time.Time) error })
		if !ok {
			return nil, fmt.Errorf("transport: accept: %w (listener cannot be interrupted)", ctx.Err())
		}
		_ = d.SetDeadline(time.Now())
		if r := <-ch; r.nc != nil {
			r.nc.Close()
		}
		_ = d.SetDeadline(time.Time{})
		return nil, fmt.Errorf("transport: accept: %w", ctx.Err())
	}
}

// Close stops listening.
func (l *Listener) Close() error {
	if err := l.ln.Close(); err != nil {
		return fmt.Errorf("transport: close listener: %w", err)
	}
	return nil
}
