package hesimd

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/transport"
)

// session returns a connected client and server for pBits.
func session(t testing.TB, pBits int) (*Client, *Server) {
	t.Helper()
	p, err := NewParams(pBits)
	if err != nil {
		t.Fatal(err)
	}
	a, b := transport.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	done := make(chan error, 1)
	var cl *Client
	go func() {
		var err error
		cl, err = NewClient(b, p)
		done <- err
	}()
	s, err := NewServer(a, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return cl, s
}

// run runs Quad on both sides.
func run(cl *Client, s *Server, deg int, a, b, c, xs, xc []uint64) (ys, yc []uint64, errS, errC error) {
	done := make(chan struct{})
	go func() {
		yc, errC = cl.Quad(deg, xc)
		close(done)
	}()
	ys, errS = s.Quad(deg, a, b, c, xs)
	if errS != nil {
		cl.Conn.Close()
	}
	<-done
	return
}

// want is the plain reference a·x² + b·x + c mod P in big integers.
func want(P uint64, deg int, a, b, c, xs, xc []uint64, i int) uint64 {
	bp := new(big.Int).SetUint64(P)
	x := new(big.Int).SetUint64(xs[i])
	x.Add(x, new(big.Int).SetUint64(xc[i]))
	y := new(big.Int).Mul(x, new(big.Int).SetUint64(b[i]))
	y.Add(y, new(big.Int).SetUint64(c[i]))
	if deg == 2 {
		x2 := new(big.Int).Mul(x, x)
		y.Add(y, x2.Mul(x2, new(big.Int).SetUint64(a[i])))
	}
	return y.Mod(y, bp).Uint64()
}

func randVec(rng *rand.Rand, n int, P uint64) []uint64 {
	v := make([]uint64, n)
	for i := range v {
		v[i] = rng.Uint64N(P)
	}
	return v
}

func TestQuadCorrect(t *testing.T) {
	for _, pBits := range []int{20, 32, 48, 50} {
		cl, s := session(t, pBits)
		P := s.P.P()
		rng := rand.New(rand.NewPCG(uint64(pBits), 1))
		n := s.P.Slots() + 37 // two ciphertexts, the second partly padding
		edges := []uint64{0, 1, P - 1, P / 2, P/2 + 1, P/2 - 1}
		for _, deg := range []int{1, 2} {
			var a []uint64
			if deg == 2 {
				a = randVec(rng, n, P)
			}
			b, c, xs, xc := randVec(rng, n, P), randVec(rng, n, P), randVec(rng, n, P), randVec(rng, n, P)
			for i, e := range edges { // edge values in every operand
				for _, v := range [][]uint64{a, b, c, xs, xc} {
					if v != nil {
						v[i] = e
						v[n-1-i] = edges[len(edges)-1-i]
					}
				}
				xs[len(edges)+i], xc[len(edges)+i] = e, 0 // x = e exactly
				if deg == 2 {
					a[len(edges)+i] = P - 1
				}
				b[len(edges)+i] = P - 1
			}
			ys, yc, errS, errC := run(cl, s, deg, a, b, c, xs, xc)
			if errS != nil || errC != nil {
				t.Fatalf("pBits %d deg %d: %v / %v", pBits, deg, errS, errC)
			}
			for i := range n {
				if got, w := (ys[i]+yc[i])%P, want(P, deg, a, b, c, xs, xc, i); got != w {
					t.Fatalf("pBits %d deg %d: element %d: y = %d, want %d", pBits, deg, i, got, w)
				}
			}
		}
	}
}
