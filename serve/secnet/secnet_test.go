package secnet

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/transport"
)

func TestCheckLoopback(t *testing.T) {
	for _, a := range []string{"127.0.0.1:1", "localhost:2", "[::1]:3", "127.9.9.9:0"} {
		if err := CheckLoopback(a); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	for _, a := range []string{"10.0.0.1:1", ":7001", "0.0.0.0:1", "example.com:1", "nonsense"} {
		if err := CheckLoopback(a); err == nil {
			t.Errorf("%s accepted as loopback", a)
		}
	}
	if _, err := Listen("0.0.0.0:0", Config{Insecure: true}, transport.DefaultOptions()); err == nil {
		t.Error("insecure listener on all interfaces")
	}
	if _, err := Listen("127.0.0.1:0", Config{}, transport.DefaultOptions()); err == nil {
		t.Error("TLS listener without a certificate")
	}
}

// TestTLS checks a TLS round trip with a generated certificate, and that
// a client without the CA or expecting another name is refused.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key, err := GenerateSelfSigned(dir, []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0", Config{CertFile: cert, KeyFile: key}, transport.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx := context.Background()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c, err := ln.Handshake(ctx, nc)
				if err != nil {
					return
				}
				defer c.Close()
				if b, err := c.Recv(); err == nil {
					c.Send(append([]byte("echo "), b...))
				}
			}()
		}
	}()
	addr := ln.Addr().String()
	c, err := Dial(ctx, addr, Config{CAFile: cert}, transport.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Recv(); err != nil || string(b) != "echo hi" {
		t.Fatalf("got %q, %v", b, err)
	}
	c.Close()
	if _, err := Dial(ctx, addr, Config{}, transport.DefaultOptions()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("dial without the CA: %v", err)
	}
	if _, err := Dial(ctx, addr, Config{CAFile: cert, ServerName: "other.example"}, transport.DefaultOptions()); err == nil {
		t.Error("dial expecting another name succeeded")
	}
}

// TestShape checks the emulated delay and bandwidth.
func TestShape(t *testing.T) {
	l, err := ParseLink("20ms,80mbit")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"fast", "10ms", "10ms,fast", "-1ms,1mbit"} {
		if _, err := ParseLink(bad); err == nil {
			t.Errorf("ParseLink(%q) accepted", bad)
		}
	}
	if w, _ := ParseLink("wan"); w.RTT != 40*time.Millisecond || w.BitsPerSecond != 400e6 {
		t.Errorf("wan = %+v", w)
	}
	a, b := net.Pipe()
	sa, sb := Shape(a, *l), Shape(b, *l)
	defer sa.Close()
	defer sb.Close()
	go func() { // echo 1 byte back
		buf := make([]byte, 1)
		for {
			if _, err := io.ReadFull(sb, buf); err != nil {
				return
			}
			sb.Write(buf)
		}
	}()
	t0 := time.Now()
	sa.Write([]byte{1})
	io.ReadFull(sa, make([]byte, 1))
	if rtt := time.Since(t0); rtt < 20*time.Millisecond || rtt > 200*time.Millisecond {
		t.Errorf("round trip %v, want about 20ms", rtt)
	}
	// 1 MB at 80 Mbit/s takes 100 ms plus the 10 ms delay.
	c, d := net.Pipe()
	sc := Shape(c, *l)
	defer sc.Close()
	go func() {
		for i := 0; i < 16; i++ {
			sc.Write(make([]byte, 1<<16))
		}
	}()
	t0 = time.Now()
	if _, err := io.ReadFull(d, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el < 100*time.Millisecond || el > time.Second {
		t.Errorf("1 MB in %v, want about 110ms", el)
	}
}
