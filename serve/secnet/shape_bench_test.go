package secnet

import (
	"io"
	"net"
	"testing"
)

// BenchmarkShapeRoundTripLAN measures what one round trip of a small
// message costs through two shaped connections on the emulated LAN
// (0.3 ms round trip) over TCP loopback, the path serve-bench's processes
// use: ns/op against the link's 300,000 ns is the emulator's own overhead
// per round (timer wake-ups, the writer goroutine, loopback), which
// multiplies with a protocol's online rounds.
func BenchmarkShapeRoundTripLAN(b *testing.B) {
	link, err := ParseLink("lan")
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	sc, ok := <-accepted
	if !ok {
		b.Fatal("accept failed")
	}
	a, s := Shape(cc, *link), Shape(sc, *link)
	defer a.Close()
	defer s.Close()
	const size = 64
	go func() { // echo
		buf := make([]byte, size)
		for {
			if _, err := io.ReadFull(s, buf); err != nil {
				return
			}
			if _, err := s.Write(buf); err != nil {
				return
			}
		}
	}()
	msg, buf := make([]byte, size), make([]byte, size)
	b.ResetTimer()
	for range b.N {
		if _, err := a.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(a, buf); err != nil {
			b.Fatal(err)
		}
	}
}
