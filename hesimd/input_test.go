package hesimd

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// TestParamsSecurity checks every parameter set against the HE standard's
// 128-bit bound and the noise analysis's requirements.
func TestParamsSecurity(t *testing.T) {
	for pBits := MinPBits; pBits <= MaxPBits; pBits++ {
		p, err := NewParams(pBits)
		if err != nil {
			t.Fatalf("pBits %d: %v", pBits, err)
		}
		P := p.P()
		if P >= 1<<pBits || P < 1<<(pBits-1) || P%uint64(2*p.N) != 1 {
			t.Errorf("pBits %d: P = %d not a %d-bit prime ≡ 1 mod 2N", pBits, P, pBits)
		}
		if p.LogQ > p.MaxLogQ() || p.MaxLogQ() == 0 {
			t.Errorf("pBits %d: log Q = %.1f above the 128-bit bound %.0f for N = %d", pBits, p.LogQ, p.MaxLogQ(), p.N)
		}
		// The package doc's bounds, recomputed here: E at δ = 2^−64, the
		// flood F with δ + E/(2F) ≤ 2^−42, and the three decryption margins
		// with the actual Q (big integers), q' and b summing below ½.
		fn, fp := float64(p.N), float64(P)
		z := math.Sqrt(130 * math.Ln2)
		e := (fp-1)/2*math.Sqrt(10.75*2*fn)*z + 0.5
		F := math.Exp2(float64(p.FloodBits - 1))
		if d := math.Exp2(-64) + e/(2*F); d > math.Exp2(-42) {
			t.Errorf("pBits %d: flood 2^%d leaves distance 2^%.2f > 2^−42 per coefficient", pBits, p.FloodBits-1, math.Log2(d))
		}
		bigQ := big.NewInt(1)
		for _, q := range p.Q {
			bigQ.Mul(bigQ, new(big.Int).SetUint64(q))
		}
		fq, _ := new(big.Float).Quo(big.NewFloat(fp*(F+e+42*fn+21)), new(big.Float).SetInt(bigQ)).Float64()
		fr := fp * (math.Sqrt(fn/4)*z + fn*0x1p-48) / float64(p.QR)
		fc := fp * (0.5 + 0x1p-50) / math.Exp2(float64(p.C0Bits))
		if fq+fr+fc >= 0.5 {
			t.Errorf("pBits %d: decryption margins %.4f + %.4f + %.4f ≥ ½", pBits, fq, fr, fc)
		}
		if bigQ.BitLen() > int(p.MaxLogQ()) {
			t.Errorf("pBits %d: Q of %d bits above the 128-bit bound %.0f", pBits, bigQ.BitLen(), p.MaxLogQ())
		}
		if p.LogN > 12 { // the smallest ring degree that holds Q
			if _, err := newParams(pBits, p.LogN-1, securityTable[p.LogN-13].maxLogQ); err != errTooBig {
				t.Errorf("pBits %d: N = %d chosen, but N/2 gives %v", pBits, p.N, err)
			}
		}
		if got := bigQ.BitLen(); float64(got) < p.LogQ || float64(got) > p.LogQ+1 {
			t.Errorf("pBits %d: Q has %d bits, LogQ %.2f", pBits, got, p.LogQ)
		}
	}
	for _, b := range []int{0, 19, 51, 64} {
		if _, err := NewParams(b); err == nil {
			t.Errorf("NewParams(%d) accepted", b)
		}
	}
}

// TestQuadBadInput checks that wrong degrees, lengths and values ≥ P are
// refused with an error before anything is sent.
func TestQuadBadInput(t *testing.T) {
	cl, s := session(t, 24)
	P := s.P.P()
	v := []uint64{1, 2, 3}
	big := []uint64{1, P, 3}
	for _, c := range []struct {
		name       string
		deg        int
		a, b, c, x []uint64
	}{
		{"degree 0", 0, nil, v, v, v},
		{"degree 3", 3, v, v, v, v},
		{"deg 1 with a", 1, v, v, v, v},
		{"deg 2 without a", 2, nil, v, v, v},
		{"short b", 1, nil, v[:2], v, v},
		{"short c", 2, v, v, v[:1], v},
		{"a ≥ P", 2, big, v, v, v},
		{"b ≥ P", 1, nil, big, v, v},
		{"c ≥ P", 1, nil, v, big, v},
		{"xs ≥ P", 1, nil, v, v, big},
	} {
		if _, err := s.Quad(c.deg, c.a, c.b, c.c, c.x); err == nil {
			t.Errorf("server accepted %s", c.name)
		}
	}
	for _, deg := range []int{0, 3} {
		if _, err := cl.Quad(deg, v); err == nil {
			t.Errorf("client accepted degree %d", deg)
		}
	}
	if _, err := cl.Quad(1, big); err == nil {
		t.Error("client accepted xc ≥ P")
	}
}

// TestBadMessages checks that malformed, short, oversized and unreduced
// messages give errors on both sides, never a panic or a hang.
func TestBadMessages(t *testing.T) {
	p, err := NewParams(24)
	if err != nil {
		t.Fatal(err)
	}
	good := ring.SeedSize + p.freshBytes()
	unreduced := make([]byte, good)
	for i := range unreduced {
		unreduced[i] = 0xff
	}
	for name, msg := range map[string][]byte{
		"empty": {}, "short": make([]byte, good-1), "long": make([]byte, good+1),
		"unreduced": unreduced,
	} {
		a, b := transport.Pipe()
		go b.Send(msg)
		if _, err := NewServer(a, p); err == nil {
			t.Errorf("server accepted public key %s", name)
		}
		a.Close()
		b.Close()
	}
	// Query and answer of the wrong sizes.
	for _, delta := range []int{-1, 1, -good / 2} {
		cl, s := session(t, 24)
		go func() {
			b, _ := cl.Conn.Recv() // the server does not answer; drain nothing
			_ = b
		}()
		q := append(queryHeader(degSplit, 1), make([]byte, ring.SeedSize+uploads(degSplit)*p.freshBytes()+delta)...)
		if err := cl.Conn.Send(q); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Quad(2, []uint64{1}, []uint64{1}, []uint64{1}, []uint64{1}); err == nil || !strings.Contains(err.Error(), "hesimd") {
			t.Errorf("server accepted a query %d bytes off: %v", delta, err)
		}
	}
	// A degree-2 query in Precompute's form (Enc(x), Enc(x²)) to Quad.
	{
		cl, s := session(t, 24)
		go cl.sendQuery(2, []uint64{1})
		v := []uint64{1}
		if _, err := s.Quad(2, v, v, v, v); err == nil || !strings.Contains(err.Error(), "hesimd") {
			t.Errorf("server accepted a query of form 2 for Quad's degree 2: %v", err)
		}
	}
	// Parties that disagree on the degree or the length.
	for _, c := range []struct{ degC, nC, degS, nS int }{{1, 3, 2, 3}, {2, 3, 1, 3}, {1, 3, 1, 4}} {
		cl, s := session(t, 24)
		v := make([]uint64, c.nS)
		var a []uint64
		if c.degS == 2 {
			a = v
		}
		go cl.Quad(c.degC, make([]uint64, c.nC))
		if _, err := s.Quad(c.degS, a, v, v, v); err == nil {
			t.Errorf("server accepted a client query of degree %d on %d elements for degree %d on %d", c.degC, c.nC, c.degS, c.nS)
		}
	}
	// Answers that are short, long, or whose c1 is not reduced mod q'.
	bad := make([]byte, p.replyBytes())
	for i := range bad {
		bad[i] = 0xff
	}
	for name, ans := range map[string][]byte{"short": make([]byte, p.replyBytes()-1),
		"long": make([]byte, p.replyBytes()+1), "unreduced": bad} {
		cl, s := session(t, 24)
		done := make(chan error, 1)
		go func() {
			_, err := cl.Quad(1, []uint64{5})
			done <- err
		}()
		if _, err := s.Conn.Recv(); err != nil {
			t.Fatal(err)
		}
		if err := s.Conn.Send(ans); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err == nil {
			t.Errorf("client accepted a %s answer", name)
		}
	}
}

// FuzzParseQuery feeds arbitrary bytes to the server's query parser
// (header, then seeded ciphertexts): it must return an error or the
// expected number of ciphertexts, never panic.
func FuzzParseQuery(f *testing.F) {
	p, err := NewParams(20)
	if err != nil {
		f.Fatal(err)
	}
	cl := &Client{P: p, sk: p.rQ.NewPoly(), prg: ring.NewPRG(ring.Seed{})}
	good, err := cl.encrypt([][]uint64{make([]uint64, p.N)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append(queryHeader(degSplit, 5), good...))
	good = append(queryHeader(1, 5), good...)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	f.Add(good[:headerSize])
	rng := rand.New(rand.NewPCG(1, 2))
	f.Add(randBytes(rng, len(good)))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, deg := range []int{1, 2, degSplit} {
			c0, c1, err := p.parseQuery(b, deg, 5)
			if err == nil && (len(c0) != uploads(deg) || len(c1) != uploads(deg)) {
				t.Fatalf("%d ciphertexts for the form %d", len(c0), deg)
			}
		}
	})
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}
