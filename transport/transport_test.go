package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// tcpPair returns two FramedConns connected over loopback TCP.
func tcpPair(t testing.TB, o Options) (*FramedConn, *FramedConn) {
	t.Helper()
	ln, err := ListenOptions("127.0.0.1:0", o)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type res struct {
		c   *FramedConn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept(ctx)
		ch <- res{c, err}
	}()
	a, err := DialOptions(ctx, ln.Addr().String(), o)
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { a.Close(); r.c.Close() })
	return a, r.c
}

type pairFunc func(t *testing.T) (Conn, Conn)

func pairs() map[string]pairFunc {
	o := DefaultOptions()
	o.ReadTimeout = 10 * time.Second
	return map[string]pairFunc{
		"pipe": func(t *testing.T) (Conn, Conn) {
			a, b := PipeOptions(o)
			t.Cleanup(func() { a.Close(); b.Close() })
			return a, b
		},
		"tcp": func(t *testing.T) (Conn, Conn) { return tcpPair(t, o) },
	}
}

func TestRoundTrip(t *testing.T) {
	for name, mk := range pairs() {
		t.Run(name, func(t *testing.T) {
			a, b := mk(t)
			msgs := [][]byte{[]byte("hello"), {}, bytes.Repeat([]byte{7}, 3<<20+5), {1, 2, 3}}
			go func() {
				for _, m := range msgs {
					if err := a.Send(m); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			for i, want := range msgs {
				got, err := b.Recv()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("message %d: %d bytes, want %d", i, len(got), len(want))
				}
			}
			v := []uint64{0, 1, 1 << 63, ^uint64(0), 0x0102030405060708}
			if err := SendUint64s(b, v); err != nil {
				t.Fatal(err)
			}
			got, err := RecvUint64s(a)
			if err != nil || !slices.Equal(got, v) {
				t.Fatalf("RecvUint64s = %v, %v", got, err)
			}
			if err := SendUint64s(a, v); err != nil {
				t.Fatal(err)
			}
			dst := make([]uint64, len(v))
			if err := RecvUint64sInto(b, dst); err != nil || !slices.Equal(dst, v) {
				t.Fatalf("RecvUint64sInto = %v, %v", dst, err)
			}
			// Wrong word counts are errors.
			_ = a.Send([]byte{1, 2, 3})
			if _, err := RecvUint64s(b); err == nil {
				t.Error("RecvUint64s of 3 bytes: no error")
			}
			_ = SendUint64s(a, v)
			if err := RecvUint64sInto(b, make([]uint64, 2)); err == nil {
				t.Error("RecvUint64sInto with wrong length: no error")
			}
		})
	}
}

func TestSendReusesBuffer(t *testing.T) {
	for name, mk := range pairs() {
		t.Run(name, func(t *testing.T) {
			a, b := mk(t)
			buf := []byte{1, 2, 3}
			if err := a.Send(buf); err != nil {
				t.Fatal(err)
			}
			buf[0] = 9
			if err := a.Send(buf); err != nil {
				t.Fatal(err)
			}
			m1, _ := b.Recv()
			m2, _ := b.Recv()
			if m1[0] != 1 || m2[0] != 9 {
				t.Errorf("got %v %v: Send kept the caller's buffer", m1, m2)
			}
		})
	}
}

func TestExchangeConcurrent(t *testing.T) {
	for name, mk := range pairs() {
		t.Run(name, func(t *testing.T) {
			a, b := mk(t)
			// Large simultaneous messages would deadlock two blocking
			// Sends over TCP; Exchange must not.
			n := 4 << 20 / 8
			va := make([]uint64, n)
			vb := make([]uint64, n)
			for i := range va {
				va[i], vb[i] = uint64(i), ^uint64(i)
			}
			const rounds = 3
			var wg sync.WaitGroup
			for _, side := range []struct {
				c         Conn
				out, want []uint64
			}{{a, va, vb}, {b, vb, va}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range rounds {
						got, err := ExchangeUint64s(side.c, side.out)
						if err != nil {
							t.Error(err)
							return
						}
						if !slices.Equal(got, side.want) {
							t.Error("exchange returned wrong data")
							return
						}
					}
				}()
			}
			wg.Wait()
			for _, c := range []Conn{a, b} {
				tot := c.Stats().Total()
				if tot.Rounds != rounds || tot.MsgsSent != rounds || tot.MsgsRecv != rounds ||
					tot.BytesSent != int64(rounds*8*n) || tot.BytesRecv != int64(rounds*8*n) {
					t.Errorf("stats after %d exchanges: %+v", rounds, tot)
				}
			}
			dst := make([]uint64, n)
			var wg2 sync.WaitGroup
			wg2.Add(1)
			go func() { defer wg2.Done(); _, _ = ExchangeUint64s(b, vb) }()
			if err := ExchangeUint64sInto(a, va, dst); err != nil || !slices.Equal(dst, vb) {
				t.Errorf("ExchangeUint64sInto: %v", err)
			}
			wg2.Wait()
		})
	}
}

func TestStatsRoundsPhasesLayers(t *testing.T) {
	a, b := Pipe()
	defer a.Close()
	defer b.Close()
	SetPhase(a, PhaseOffline)
	SetPhase(b, PhaseOffline)
	// Offline: a sends twice in a row (one round), b receives.
	_ = a.Send(make([]byte, 10))
	_ = a.Send(make([]byte, 20))
	_, _ = b.Recv()
	_, _ = b.Recv()
	SetPhase(a, PhaseOnline)
	SetPhase(b, PhaseOnline)
	SetLayer(a, "conv1")
	SetLayer(b, "conv1")
	// Online ping-pong: a, b, a.
	_ = a.Send(make([]byte, 8))
	_, _ = b.Recv()
	_ = b.Send(make([]byte, 16))
	_, _ = a.Recv()
	SetLayer(a, "relu1")
	_ = a.Send(make([]byte, 4))
	_, _ = b.Recv()

	sa := a.Stats().Snapshot()
	if want := (Counts{BytesSent: 42, BytesRecv: 16, MsgsSent: 4, MsgsRecv: 1, Rounds: 2}); sa.Total != want {
		t.Errorf("a total %+v, want %+v", sa.Total, want)
	}
	if want := (Counts{BytesSent: 30, MsgsSent: 2, Rounds: 1}); sa.Phases[PhaseOffline] != want {
		t.Errorf("a offline %+v, want %+v", sa.Phases[PhaseOffline], want)
	}
	if want := (Counts{BytesSent: 12, BytesRecv: 16, MsgsSent: 2, MsgsRecv: 1, Rounds: 1}); sa.Phases[PhaseOnline] != want {
		t.Errorf("a online %+v, want %+v", sa.Phases[PhaseOnline], want)
	}
	wantLayers := []LayerCounts{
		{PhaseOffline, "", Counts{BytesSent: 30, MsgsSent: 2, Rounds: 1}},
		{PhaseOnline, "conv1", Counts{BytesSent: 8, BytesRecv: 16, MsgsSent: 1, MsgsRecv: 1}},
		{PhaseOnline, "relu1", Counts{BytesSent: 4, MsgsSent: 1, Rounds: 1}},
	}
	if !slices.Equal(sa.Layers, wantLayers) {
		t.Errorf("a layers %+v,\nwant %+v", sa.Layers, wantLayers)
	}
	sb := b.Stats().Snapshot()
	if want := (Counts{BytesSent: 16, BytesRecv: 42, MsgsSent: 1, MsgsRecv: 4, Rounds: 1}); sb.Total != want {
		t.Errorf("b total %+v, want %+v", sb.Total, want)
	}
	// JSON round trip.
	js, err := json.Marshal(sa)
	if err != nil {
		t.Fatal(err)
	}
	var back Snapshot
	if err := json.Unmarshal(js, &back); err != nil || back.Total != sa.Total || !slices.Equal(back.Layers, sa.Layers) {
		t.Errorf("JSON round trip: %v\n%s", err, js)
	}
	if !bytes.Contains(js, []byte(`"bytes_sent":42`)) {
		t.Errorf("JSON lacks bytes_sent: %s", js)
	}
	m := sa.Merge(sb)
	if m.Total.Bytes() != 58*2 || m.Phases[PhaseOnline].Rounds != 2 {
		t.Errorf("merge: %+v", m)
	}
	a.Stats().Reset()
	if s := a.Stats().Snapshot(); s.Total != (Counts{}) || len(s.Layers) != 0 {
		t.Errorf("after Reset: %+v", s)
	}
	if a.Stats().Phase() != PhaseOnline || a.Stats().Layer() != "relu1" {
		t.Error("Reset changed phase or layer")
	}
	_ = a.Send([]byte{1})
	if r := a.Stats().Total().Rounds; r != 1 {
		t.Errorf("first send after Reset: %d rounds", r)
	}
}

func TestFrameErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFrame(&buf, []byte("payload")); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	if got, err := ReadFrame(bytes.NewReader(full), 100); err != nil || string(got) != "payload" {
		t.Fatalf("ReadFrame = %q, %v", got, err)
	}
	if _, err := ReadFrame(bytes.NewReader(nil), 100); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
	for cut := 1; cut < len(full); cut++ {
		_, err := ReadFrame(bytes.NewReader(full[:cut]), 100)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("truncated at %d: %v", cut, err)
		}
	}
	if _, err := ReadFrame(bytes.NewReader(full), 3); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("over max: %v", err)
	}
	// A 4 GiB prefix with no payload: an error without allocating.
	huge := []byte{0xff, 0xff, 0xff, 0xff}
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := ReadFrame(bytes.NewReader(huge), DefaultMaxFrame); !errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("huge prefix: %v", err)
		}
	})
	if allocs > 10 {
		t.Errorf("%v allocations for a rejected prefix", allocs)
	}
	// A large announced frame that is cut short allocates a bounded amount.
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], 512<<20)
	r := io.MultiReader(bytes.NewReader(hdr[:]), bytes.NewReader(make([]byte, 100)))
	var before, after runtimeMem
	before.read()
	if _, err := ReadFrame(r, DefaultMaxFrame); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short large frame: %v", err)
	}
	after.read()
	if d := after.total - before.total; d > initialAlloc+(4<<20) {
		t.Errorf("short 512 MiB frame allocated %d bytes", d)
	}
}

func TestTCPOversizedPrefix(t *testing.T) {
	o := DefaultOptions()
	o.MaxFrame = 1000
	o.ReadTimeout = 5 * time.Second
	a, b := tcpPair(t, o)
	if err := a.Send(make([]byte, 1001)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("send over max: %v", err)
	}
	// A raw oversized header from the peer.
	if _, err := a.nc.Write([]byte{0, 0, 0, 0x40}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Recv(); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("recv oversized prefix: %v", err)
	}
	if _, err := b.Recv(); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("error not sticky: %v", err)
	}
	p, _ := PipeOptions(o)
	if err := p.Send(make([]byte, 1001)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("pipe send over max: %v", err)
	}
}

func TestPeerCloseMidFrame(t *testing.T) {
	o := DefaultOptions()
	o.ReadTimeout = 20 * time.Second // the test must end long before this
	a, b := tcpPair(t, o)
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], 1000)
	if _, err := a.nc.Write(append(hdr[:], make([]byte, 10)...)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := b.Recv(); done <- err }()
	time.Sleep(20 * time.Millisecond)
	a.Close()
	select {
	case err := <-done:
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("peer closed mid-frame: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Recv hangs after the peer closed mid-frame")
	}
	// Clean close between frames gives io.EOF.
	c, d := tcpPair(t, o)
	_ = c.Send([]byte("x"))
	c.Close()
	if m, err := d.Recv(); err != nil || string(m) != "x" {
		t.Fatalf("message before close: %q, %v", m, err)
	}
	if _, err := d.Recv(); err != io.EOF {
		t.Errorf("after clean close: %v, want io.EOF", err)
	}
	if err := c.Send([]byte("y")); !errors.Is(err, ErrClosed) {
		t.Errorf("send after own close: %v", err)
	}
}

func TestPipeClose(t *testing.T) {
	a, b := Pipe()
	_ = a.Send([]byte("last"))
	a.Close()
	if m, err := b.Recv(); err != nil || string(m) != "last" {
		t.Fatalf("drain after close: %q %v", m, err)
	}
	if _, err := b.Recv(); err != io.EOF {
		t.Errorf("after peer close: %v, want io.EOF", err)
	}
	if err := b.Send([]byte("x")); err == nil {
		t.Error("send to closed peer: no error")
	}
	if err := a.Send([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("send after own close: %v", err)
	}
	if _, err := a.Recv(); !errors.Is(err, ErrClosed) {
		t.Errorf("recv after own close: %v", err)
	}
	// Close unblocks a pending Recv.
	c, d := Pipe()
	defer d.Close()
	done := make(chan error, 1)
	go func() { _, err := c.Recv(); done <- err }()
	time.Sleep(10 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("pending Recv: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close does not unblock Recv")
	}
}

func TestReadTimeout(t *testing.T) {
	o := DefaultOptions()
	o.ReadTimeout = 50 * time.Millisecond
	pa, pb := PipeOptions(o)
	defer pa.Close()
	defer pb.Close()
	ta, tb := tcpPair(t, o)
	_ = ta
	for name, c := range map[string]Conn{"pipe": pb, "tcp": tb} {
		start := time.Now()
		_, err := c.Recv()
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: %v, want deadline exceeded", name, err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("%s: timeout after %v", name, el)
		}
	}
	// A stalled frame also times out.
	tc, td := tcpPair(t, o)
	if _, err := tc.nc.Write([]byte{100, 0, 0, 0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := td.Recv(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("stalled frame: %v", err)
	}
}

func TestAcceptCancel(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := ln.Accept(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Accept after ctx deadline: %v", err)
	}
	// The listener still works afterwards.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	go func() {
		if c, err := Dial(ctx2, ln.Addr().String()); err == nil {
			_ = c.Send([]byte("hi"))
			c.Close()
		}
	}()
	c, err := ln.Accept(ctx2)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if m, err := c.Recv(); err != nil || string(m) != "hi" {
		t.Errorf("after cancelled Accept: %q %v", m, err)
	}
	// DialRetry gives up when ctx ends.
	l2, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l2.Addr().String()
	l2.Close()
	ctx3, cancel3 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel3()
	if _, err := DialRetry(ctx3, addr, 20*time.Millisecond, DefaultOptions()); err == nil {
		t.Error("DialRetry to a closed port succeeded")
	}
}

func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteFrame(&buf, []byte("hello"))
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Add([]byte{3, 0, 0, 0, 1, 2})
	f.Add([]byte{0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ReadFrame(bytes.NewReader(data), 1<<16)
		if err != nil {
			return
		}
		// A frame that decodes re-encodes to a prefix of the input.
		var out bytes.Buffer
		if err := WriteFrame(&out, b); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, out.Bytes()) {
			t.Fatalf("decoded %d bytes that do not re-encode to the input", len(b))
		}
	})
}

// plainConn hides the AsyncSender of the Conn it wraps.
type plainConn struct{ Conn }

func TestExchangeWithoutAsyncSender(t *testing.T) {
	a, b := tcpPair(t, DefaultOptions())
	pa, pb := plainConn{a}, plainConn{b}
	big := make([]byte, 8<<20)
	done := make(chan error, 1)
	go func() {
		in, err := Exchange(pb, big)
		if err == nil && len(in) != len(big) {
			err = io.ErrShortBuffer
		}
		done <- err
	}()
	in, err := Exchange(pa, big)
	if err != nil || len(in) != len(big) {
		t.Fatalf("Exchange: %d bytes, %v", len(in), err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWriteTimeout(t *testing.T) {
	o := DefaultOptions()
	o.WriteTimeout = 100 * time.Millisecond
	a, _ := tcpPair(t, o)
	// The peer never reads: the kernel buffers fill and Send must give up.
	start := time.Now()
	err := a.Send(make([]byte, 64<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("blocked Send: %v, want deadline exceeded", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("write timeout after %v", el)
	}
	if err := a.Send([]byte{1}); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Send after a failed write: %v, want the same error", err)
	}
}

func TestLinkCommTime(t *testing.T) {
	c := Counts{BytesSent: 25_000_000, BytesRecv: 12_500_000, Rounds: 10} // 3e8 bits
	// 3e8 bits at 3 Gbit/s = 100 ms, plus 10 × 0.3 ms.
	if got, want := LAN.CommTime(c), 103*time.Millisecond; got != want {
		t.Errorf("LAN: %v, want %v", got, want)
	}
	// 3e8 bits at 400 Mbit/s = 750 ms, plus 10 × 40 ms.
	if got, want := WAN.CommTime(c), 1150*time.Millisecond; got != want {
		t.Errorf("WAN: %v, want %v", got, want)
	}
	if got := (Link{RTT: time.Second}).CommTime(Counts{BytesSent: 1, Rounds: 2}); got != 2*time.Second {
		t.Errorf("zero bandwidth: %v", got)
	}
}

// TestSendParts checks that SendParts delivers the concatenation as one
// message and counts it like Send, on every Conn (FramedConn's own
// implementation and the concatenating fallback).
func TestSendParts(t *testing.T) {
	for name, mk := range pairs() {
		t.Run(name, func(t *testing.T) {
			a, b := mk(t)
			defer a.Close()
			defer b.Close()
			parts := [][]byte{[]byte("head"), nil, bytes.Repeat([]byte{7}, 70000), []byte("x")}
			want := slices.Concat(parts...)
			errc := make(chan error, 1)
			go func() { errc <- SendParts(a, parts...) }()
			got, err := b.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("received %d bytes, want the %d-byte concatenation", len(got), len(want))
			}
			if s := a.Stats().Total(); s.BytesSent != int64(len(want)) || s.MsgsSent != 1 {
				t.Fatalf("stats %+v, want one message of %d bytes", s, len(want))
			}
		})
	}
}

// TestLargeFramesPresized checks that after a large frame, a frame of up
// to the same size is read into one buffer of its size (no regrowing
// copies).
func TestLargeFramesPresized(t *testing.T) {
	const size = 3*initialAlloc + 12345
	msg := make([]byte, size)
	msg[size-1] = 9
	var frames bytes.Buffer
	for range 2 {
		if err := WriteFrame(&frames, msg); err != nil {
			t.Fatal(err)
		}
	}
	c := NewConn(&readerConn{Reader: &frames})
	var mid, after runtimeMem
	if b, err := c.Recv(); err != nil || len(b) != size || b[size-1] != 9 {
		t.Fatalf("first frame: %d bytes, %v", len(b), err)
	}
	mid.read()
	if b, err := c.Recv(); err != nil || len(b) != size || b[size-1] != 9 {
		t.Fatalf("second frame: %d bytes, %v", len(b), err)
	}
	after.read()
	if d := after.total - mid.total; d > size+(1<<20) {
		t.Errorf("second frame allocated %d bytes for %d", d, size)
	}
}

// readerConn is a net.Conn reading from a Reader (writes are discarded).
type readerConn struct {
	io.Reader
	net.Conn
}

func (r *readerConn) Read(p []byte) (int, error)       { return r.Reader.Read(p) }
func (r *readerConn) Write(p []byte) (int, error)      { return len(p), nil }
func (r *readerConn) SetReadDeadline(time.Time) error  { return nil }
func (r *readerConn) SetWriteDeadline(time.Time) error { return nil }
func (r *readerConn) Close() error                     { return nil }
func (r *readerConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }

// settledGoroutines waits up to 5 s for the goroutine count to fall to at
// most want (goroutines end asynchronously) and returns the last count.
func settledGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); n > want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	return n
}

// TestExchangeFailedRecvLeavesNoSender: a peer that neither reads nor
// sends makes the receive time out while the send is blocked on full
// kernel buffers (no write timeout); Exchange must return at once, without
// a goroutine left waiting for that send (issue 19, finding 8).
func TestExchangeFailedRecvLeavesNoSender(t *testing.T) {
	o := DefaultOptions()
	o.ReadTimeout, o.WriteTimeout = 100*time.Millisecond, 0
	for _, async := range []bool{true, false} {
		t.Run(fmt.Sprintf("async=%v", async), func(t *testing.T) {
			base := runtime.NumGoroutine()
			a, _ := tcpPair(t, o)
			var c Conn = a
			if !async {
				c = plainConn{a}
			}
			done := make(chan error, 1)
			go func() {
				_, err := Exchange(c, make([]byte, 64<<20))
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("Exchange: %v, want the receive timeout", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Exchange still waiting for its send 10 s after the receive failed")
			}
			// The pair's two conns are still open (closed by Cleanup): only
			// the sender must be gone, so at most base is allowed.
			if n := settledGoroutines(base); n > base {
				buf := make([]byte, 1<<16)
				t.Errorf("%d goroutines after Exchange, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

// TestRecvMax: a frame within the connection's MaxFrame but above the
// receiver's own limit is refused from its header, without reading or
// allocating it; on a pipe and a wrapper without LimitedReceiver it is
// refused after receipt (issue 19, finding 5).
func TestRecvMax(t *testing.T) {
	o := DefaultOptions()
	o.ReadTimeout = 5 * time.Second
	a, b := tcpPair(t, o)
	if err := a.Send([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got, err := RecvMax(b, 5); err != nil || string(got) != "hello" {
		t.Fatalf("RecvMax at the limit: %q, %v", got, err)
	}
	// A header announcing 512 MiB and then nothing: the refusal must not
	// wait for the payload nor allocate a buffer for it.
	var hdr [HeaderSize]byte
	binary.LittleEndian.PutUint32(hdr[:], 512<<20)
	if _, err := a.nc.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := RecvMax(b, HandshakeMaxFrame)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized frame: %v, want ErrFrameTooLarge", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Errorf("refusing a 512 MiB header allocated %d bytes", d)
	}
	if _, err := b.Recv(); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("refusal not sticky: %v", err)
	}

	p, q := PipeOptions(o)
	defer p.Close()
	for _, c := range []Conn{q, plainConn{q}} {
		if err := p.Send(make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		if _, err := RecvMax(c, 9); !errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("%T: 10 bytes with max 9: %v", c, err)
		}
	}
}

// TestExchangeMaxAndWordsInto: the receivers that know the exact size
// (ExchangeMax, RecvUint64sInto, ExchangeUint64sInto) refuse a longer
// message with ErrFrameTooLarge and accept one of the right size.
func TestExchangeMaxAndWordsInto(t *testing.T) {
	o := DefaultOptions()
	o.ReadTimeout = 5 * time.Second
	a, b := tcpPair(t, o)
	go func() {
		ExchangeUint64s(b, make([]uint64, 3))
		SendUint64s(b, make([]uint64, 3))
	}()
	if err := ExchangeUint64sInto(a, make([]uint64, 2), make([]uint64, 2)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("ExchangeUint64sInto of 3 words into 2: %v", err)
	}
	c, d := tcpPair(t, o)
	go SendUint64s(d, make([]uint64, 3))
	if err := RecvUint64sInto(c, make([]uint64, 2)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("RecvUint64sInto of 3 words into 2: %v", err)
	}
	e, f := tcpPair(t, o)
	go Exchange(f, []byte("12345"))
	if got, err := ExchangeMax(e, []byte("x"), 5); err != nil || string(got) != "12345" {
		t.Errorf("ExchangeMax at the limit: %q %v", got, err)
	}
	go Exchange(f, []byte("123456"))
	if _, err := ExchangeMax(e, []byte("x"), 5); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("ExchangeMax over the limit: %v", err)
	}
}
