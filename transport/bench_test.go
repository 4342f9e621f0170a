package transport

import (
	"strconv"
	"testing"
)

// BenchmarkExchange measures a simultaneous exchange of n-word messages
// (both directions) over a pipe and over loopback TCP.
func BenchmarkExchange(b *testing.B) {
	for _, kind := range []string{"pipe", "tcp"} {
		for _, words := range []int{1, 1 << 10, 1 << 20} {
			b.Run(kind+"/"+strconv.Itoa(words), func(b *testing.B) {
				var x, y Conn
				if kind == "pipe" {
					x, y = Pipe()
				} else {
					x, y = tcpPair(b, DefaultOptions())
				}
				defer x.Close()
				defer y.Close()
				v := make([]uint64, words)
				done := make(chan error, 1)
				go func() {
					for {
						if _, err := ExchangeUint64s(y, v); err != nil {
							done <- err
							return
						}
					}
				}()
				b.SetBytes(int64(16 * words))
				for b.Loop() {
					if _, err := ExchangeUint64s(x, v); err != nil {
						b.Fatal(err)
					}
				}
				x.Close()
				<-done
			})
		}
	}
}
