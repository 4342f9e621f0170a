package hesimd

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/internal/rq"
	"github.com/autorep/autorep/ring"
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
	for _, pBits := range []int{20, 27, 28, 32, 48, 50} {
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
			checkQuad(t, cl, s, "edges", deg, a, b, c, xs, xc)
		}
		// The largest plaintexts the tail bound allows: with xs = 0 the
		// server's plaintexts are b (and a), whose coefficients are all
		// (P−1)/2 (‖w‖² = N·((P−1)/2)², the bound's worst case).
		wMax := s.P.maxPlain()
		zero := make([]uint64, s.P.Slots())
		xc := randVec(rng, s.P.Slots(), P)
		checkQuad(t, cl, s, "largest plaintexts", 1, nil, wMax, zero, zero, xc)
		checkQuad(t, cl, s, "largest plaintexts", 2, wMax, wMax, zero, zero, xc)
	}
}

// checkQuad runs Quad and compares the shares' sum with the reference.
func checkQuad(t *testing.T, cl *Client, s *Server, what string, deg int, a, b, c, xs, xc []uint64) {
	t.Helper()
	P := s.P.P()
	ys, yc, errS, errC := run(cl, s, deg, a, b, c, xs, xc)
	if errS != nil || errC != nil {
		t.Fatalf("pBits %d deg %d, %s: %v / %v", s.P.PBits, deg, what, errS, errC)
	}
	for i := range ys {
		if got, w := (ys[i]+yc[i])%P, want(P, deg, a, b, c, xs, xc, i); got != w {
			t.Fatalf("pBits %d deg %d, %s: element %d: y = %d, want %d", s.P.PBits, deg, what, i, got, w)
		}
	}
}

// maxPlain returns the slots of the plaintext whose coefficients are all
// (P−1)/2.
func (p *Params) maxPlain() []uint64 {
	m := p.rP.NewPoly()
	for j := range m.Coeffs[0] {
		m.Coeffs[0][j] = (p.p - 1) / 2
	}
	p.rP.NTT(m, m)
	return m.Coeffs[0]
}

// TestRounding checks the two roundings of the noise analysis against big
// integers: scaleRound(c, j, t, u) = ⌊t·c/Q + u⌋ mod t (u = ½: nearest;
// uniform u: randomised) at the edges of c and u, and the client's
// randomised encoding ⌊Q·m/P⌋ + β, β = 1 with probability frac(Q·m/P).
func TestRounding(t *testing.T) {
	p, err := NewParams(33)
	if err != nil {
		t.Fatal(err)
	}
	bigQ := big.NewInt(1)
	for _, q := range p.Q {
		bigQ.Mul(bigQ, new(big.Int).SetUint64(q))
	}
	rng := rand.New(rand.NewPCG(5, 6))
	cs := []*big.Int{big.NewInt(0), big.NewInt(1), new(big.Int).Sub(bigQ, big.NewInt(1)),
		new(big.Int).Rsh(bigQ, 1), new(big.Int).Add(new(big.Int).Rsh(bigQ, 1), big.NewInt(1))}
	for range 200 {
		cs = append(cs, new(big.Int).Mod(new(big.Int).SetBytes(randBytes(rng, 32)), bigQ))
	}
	poly := p.rQ.NewPoly()
	for j, c := range cs {
		for i, q := range p.Q {
			poly.Coeffs[i][j] = new(big.Int).Mod(c, new(big.Int).SetUint64(q)).Uint64()
		}
	}
	tol := new(big.Int).Rsh(bigQ, 45) // float accuracy: skip near-ties
	for _, tt := range []uint64{p.QR, 1 << p.C0Bits} {
		bt := new(big.Int).SetUint64(tt)
		for _, u53 := range []uint64{1 << 52, 0, 1<<53 - 1, rng.Uint64N(1 << 53)} {
			u := float64(u53) * 0x1p-53
			for j, c := range cs {
				// ⌊(t·c·2^53 + u53·Q) / (Q·2^53)⌋: num mod (Q·2^53) is the
				// distance past the last integer.
				num := new(big.Int).Lsh(new(big.Int).Mul(bt, c), 53)
				num.Add(num, new(big.Int).Mul(new(big.Int).SetUint64(u53), bigQ))
				den := new(big.Int).Lsh(bigQ, 53)
				q, r := new(big.Int).QuoRem(num, den, new(big.Int))
				if r.Rsh(r, 53).Cmp(tol) < 0 || new(big.Int).Sub(bigQ, r).Cmp(tol) < 0 {
					continue
				}
				if got, want := p.scaleRound(poly, j, tt, u), q.Mod(q, bt).Uint64(); got != want {
					t.Fatalf("t = %d, u = %v, c = %v: scaleRound %d, want %d", tt, u, c, got, want)
				}
			}
		}
	}
	// The encoding: all N coefficients m with frac(Q·m/P) = rem/P ≈ fr.
	P := p.P()
	bp := new(big.Int).SetUint64(P)
	qInv := new(big.Int).ModInverse(new(big.Int).Mod(bigQ, bp), bp).Uint64()
	prg, err := ring.NewRandomPRG()
	if err != nil {
		t.Fatal(err)
	}
	for _, fr := range []float64{0, 1.0 / 3, 0.5, 0.9} {
		rem := uint64(fr * float64(P))
		m := rq.MulMod(rem, qInv, P) // Q·m ≡ rem (mod P)
		ms := make([]uint64, p.N)
		for j := range ms {
			ms[j] = m
		}
		fl := new(big.Int).Div(new(big.Int).Mul(bigQ, new(big.Int).SetUint64(m)), bp)
		for _, randomised := range []bool{false, true} {
			var g *ring.PRG
			if randomised {
				g = prg
			}
			p.encodeScaled(ms, poly, g)
			ups := 0
			for j := range p.N {
				up := -1
				for _, d := range []int64{0, 1} {
					v := new(big.Int).Add(fl, big.NewInt(d))
					ok := true
					for i, q := range p.Q {
						ok = ok && new(big.Int).Mod(v, new(big.Int).SetUint64(q)).Uint64() == poly.Coeffs[i][j]
					}
					if ok {
						up = int(d)
					}
				}
				if up < 0 {
					t.Fatalf("frac %.3f: coefficient %d is neither ⌊Qm/P⌋ nor ⌊Qm/P⌋ + 1", fr, j)
				}
				ups += up
			}
			pr := float64(rem) / float64(P)
			if !randomised {
				if want := map[bool]int{false: 0, true: p.N}[2*rem >= P]; ups != want {
					t.Errorf("frac %.3f: round half up gave %d of %d up", fr, ups, p.N)
				}
				continue
			}
			sd := math.Sqrt(float64(p.N) * pr * (1 - pr))
			if d := math.Abs(float64(ups) - pr*float64(p.N)); d > 6*sd+1e-9 {
				t.Errorf("frac %.3f: randomised rounding up %d of %d times, expected %.0f ± %.0f", fr, ups, p.N, pr*float64(p.N), sd)
			}
		}
	}
}
