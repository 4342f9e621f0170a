package helinear

import (
	"bytes"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/autorep/autorep/internal/privacytest"
	"github.com/autorep/autorep/internal/rq"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// clientView runs one convolution with weights w and returns, for every
// coefficient of every returned ciphertext, the decrypted message m and
// the signed noise e = (c0 + c1·s) − ⌊Q·m/t⌉ (what the client can compute).
func clientView(t *testing.T, ell uint, p ring.ConvParams, w []uint64, seed uint64) (msgs []uint64, noise []*big.Int, pl *plan) {
	t.Helper()
	a, b := transport.Pipe()
	defer a.Close()
	rec := privacytest.NewRecorder(b)
	var cl *Client
	done := make(chan error, 1)
	go func() {
		var err error
		cl, err = NewClient(rec, ell)
		done <- err
	}()
	s, err := NewServer(a, ell)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	xs, xc := randVec(rng, p.XLen()), randVec(rng, p.XLen())
	if _, _, err := both(func() ([]uint64, error) { return s.Conv2d(p, w, nil, xs) },
		func() ([]uint64, error) { return cl.Conv2d(p, xc) }); err != nil {
		t.Fatal(err)
	}
	pl, err = planConv(p, cl.P)
	if err != nil {
		t.Fatal(err)
	}
	reply := rec.Messages(0)
	msg := reply[len(reply)-1]
	pr := cl.P
	kr := pr.ReplyPrimes
	bigQ := big.NewInt(1)
	for _, q := range pr.Q[:kr] {
		bigQ.Mul(bigQ, new(big.Int).SetUint64(q))
	}
	halfQ := new(big.Int).Rsh(bigQ, 1)
	for _, g := range pl.groups(p.N) {
		var c1w, c0w []uint64
		c1w, c0w, msg = pr.unpackReply(msg, pl.groupTargets(g))
		var coefs []int32
		for a, lf := range g {
			for _, tg := range pl.outs[lf.op].targets {
				coefs = append(coefs, pl.packedCoef(tg.coef, a))
			}
		}
		ph, err := cl.phase(coefs, c1w, c0w)
		if err != nil {
			t.Fatal(err)
		}
		m := make([]uint64, N)
		for _, c := range coefs {
			m[c] = pr.decodeAt(pr.reply, ph, int(c))
		}
		enc := pr.rr.NewPoly()
		pr.encodeScaled(pr.reply, m, enc)
		pr.rr.Sub(ph, enc, ph)
		for _, c := range coefs {
			// CRT of the residues at this coefficient.
			e := new(big.Int)
			for i, q := range pr.Q[:kr] {
				bq := new(big.Int).SetUint64(q)
				qHat := new(big.Int).Div(bigQ, bq)
				term := new(big.Int).ModInverse(new(big.Int).Mod(qHat, bq), bq)
				term.Mul(term, new(big.Int).SetUint64(ph.Coeffs[i][c])).Mul(term, qHat)
				e.Add(e, term)
			}
			e.Mod(e, bigQ)
			if e.Cmp(halfQ) > 0 {
				e.Sub(e, bigQ)
			}
			noise = append(noise, e)
			msgs = append(msgs, m[c])
		}
	}
	return msgs, noise, pl
}

// TestCircuitPrivacy checks what the client sees: the decrypted messages
// are uniform and
// distributed alike for two weight sets (all-zero and random), and the
// noise is flooded: uniform over its interval, alike for both weight
// sets, and inside the decryption bound with the expected width.
func TestCircuitPrivacy(t *testing.T) {
	const ell = 64
	p := ring.ConvParams{N: 1, C: 16, H: 16, W: 16, K: 8, R: 3, S: 3, PadH: 1, PadW: 1}
	rng := rand.New(rand.NewPCG(9, 9))
	wRand := randVec(rng, p.WLen())
	wZero := make([]uint64, p.WLen())
	m1, e1, pl := clientView(t, ell, p, wRand, 1)
	m2, e2, _ := clientView(t, ell, p, wZero, 2)
	// The answers are packed (galois.go): the client sees packed
	// ciphertexts, so the checks below are on them.
	if pl.packLog == 0 || len(pl.groups(p.N)) >= len(pl.outs) {
		t.Fatalf("answers not packed (2^%d, %d answers in %d ciphertexts)", pl.packLog, len(pl.outs), len(pl.groups(p.N)))
	}
	t.Logf("%d answers packed 2^%d to %d ciphertexts, %d outputs", len(pl.outs), pl.packLog, len(pl.groups(p.N)), len(m1))
	privacytest.Uniform(t, "decrypted messages (random W)", m1)
	privacytest.Uniform(t, "decrypted messages (zero W)", m2)
	privacytest.SameDistribution(t, "decrypted messages", m1, m2)

	// The client sees the noise after the switch to Q': the flood scaled
	// by Q'/Q plus the switch's rounding. It must be inside the decryption
	// bound and distributed alike for both weight sets (the flooded
	// ciphertext is within 2^−(κ+2) per coefficient of a W-free law, and
	// the switch is public post-processing; TestFlood checks the flood).
	pr, _ := NewParams(ell)
	limit := math.Exp2(pr.LogQReply - ell - 1)
	words := func(es []*big.Int) []uint64 {
		out := make([]uint64, len(es))
		var maxAbs float64
		for i, e := range es {
			f, _ := new(big.Float).SetInt(e).Float64()
			maxAbs = max(maxAbs, math.Abs(f))
			out[i] = uint64(e.Int64())
		}
		if maxAbs >= limit {
			t.Errorf("noise 2^%.1f reaches the decryption limit 2^%.1f", math.Log2(maxAbs), math.Log2(limit))
		}
		t.Logf("max |noise| after the switch 2^%.2f, decryption limit 2^%.1f (flood before the switch 2^%d)", math.Log2(maxAbs), math.Log2(limit), pl.floodBits-1)
		return out
	}
	privacytest.SameDistribution(t, "noise after the switch", words(e1), words(e2))
}

// TestFlood checks the flooding noise itself at full Q: every value in
// [−2^(fb−1), 2^(fb−1)) and its top 64 bits uniform.
func TestFlood(t *testing.T) {
	pr, err := NewParams(64)
	if err != nil {
		t.Fatal(err)
	}
	prg, err := ring.NewRandomPRG()
	if err != nil {
		t.Fatal(err)
	}
	for _, fb := range []int{70, 119, 150} {
		pl := pr.r.NewPoly()
		rq.AddFlood(prg, pr.Q, pl, fb)
		vals := make([]*big.Int, N)
		for j := range vals {
			vals[j] = new(big.Int)
		}
		pr.r.PolyToBigintCentered(pl, 1, vals)
		half := new(big.Int).Lsh(big.NewInt(1), uint(fb-1))
		words := make([]uint64, N)
		for j, v := range vals {
			if v.CmpAbs(half) > 0 || v.Cmp(half) == 0 {
				t.Fatalf("fb %d: flood value %v outside [−2^%d, 2^%d)", fb, v, fb-1, fb-1)
			}
			u := new(big.Int).Add(v, half)
			words[j] = u.Rsh(u, uint(fb-64)).Uint64()
		}
		privacytest.Uniform(t, "flood top bits", words)
	}
}

// TestMalformed feeds truncated, oversized and out-of-range messages to
// every receiving step: each must be a clear error, never a panic.
func TestMalformed(t *testing.T) {
	const ell = 32
	pr, err := NewParams(ell)
	if err != nil {
		t.Fatal(err)
	}
	p := ring.ConvParams{N: 1, C: 2, H: 4, W: 4, K: 2, R: 3, S: 3, PadH: 1, PadW: 1}
	good := ring.SeedSize + pr.freshBytes()
	bad := map[string][]byte{
		"empty":     {},
		"truncated": make([]byte, good-1),
		"long":      make([]byte, good+8),
		"residue ≥ q": func() []byte {
			b := make([]byte, good)
			for i := ring.SeedSize; i < len(b); i++ {
				b[i] = 0xff
			}
			return b
		}(),
		// A well-formed public key, bad Galois keys.
		"keys truncated": make([]byte, good+ring.SeedSize+pr.keyBytes()-1),
		"key residue ≥ q": func() []byte {
			b := make([]byte, good+ring.SeedSize+pr.keyBytes())
			for i := good + ring.SeedSize; i < len(b); i++ {
				b[i] = 0xff
			}
			return b
		}(),
	}
	for name, msg := range bad {
		// Server receiving a bad public key.
		a, b := transport.Pipe()
		go func() { _ = b.Send(msg) }()
		if _, err := NewServer(a, ell); err == nil || !strings.Contains(err.Error(), "helinear") {
			t.Errorf("public key %s: err = %v", name, err)
		}
		a.Close()
		b.Close()
	}
	for name, msg := range bad {
		// Server receiving bad input ciphertexts, client receiving a bad result.
		s, cl := pair(t, ell)
		go func() { _ = cl.Conn.Send(msg) }()
		if _, err := s.Conv2d(p, make([]uint64, p.WLen()), nil, make([]uint64, p.XLen())); err == nil {
			t.Errorf("server, input %s: no error", name)
		}
		go func() { _, _ = s.Conn.Recv(); _ = s.Conn.Send(msg) }()
		if _, err := cl.Conv2d(p, make([]uint64, p.XLen())); err == nil {
			t.Errorf("client, result %s: no error", name)
		}
	}
	// Bad shapes and lengths.
	s, cl := pair(t, ell)
	for _, q := range []ring.ConvParams{{}, {N: 1, C: 3, H: 4, W: 4, K: 2, R: 3, S: 3, Groups: 2}, {N: 1, C: 1, H: 2, W: 2, K: 1, R: 3, S: 3}} {
		if _, err := s.Conv2d(q, nil, nil, nil); err == nil {
			t.Errorf("server conv %+v: no error", q)
		}
		if _, err := cl.Conv2d(q, nil); err == nil {
			t.Errorf("client conv %+v: no error", q)
		}
	}
	if _, err := s.FC(1, 4, 2, make([]uint64, 7), nil, make([]uint64, 4)); err == nil {
		t.Error("fc with short weights: no error")
	}
	if _, err := cl.FC(0, 4, 2, nil); err == nil {
		t.Error("fc with batch 0: no error")
	}
	if _, err := NewParams(0); err == nil {
		t.Error("ℓ = 0: no error")
	}
	if _, err := NewParams(65); err == nil {
		t.Error("ℓ = 65: no error")
	}
}

// FuzzParse feeds arbitrary bytes to the server's ciphertext parser and to
// the client's result handling: errors only, never a panic.
func FuzzParse(f *testing.F) {
	pr, err := NewParams(16)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{1, 2, 3})
	f.Add(bytes.Repeat([]byte{0xff}, ring.SeedSize+pr.freshBytes()))
	f.Add(make([]byte, ring.SeedSize+pr.freshBytes()))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = pr.parseFresh(b, 1, pr.top())
		a, c := transport.Pipe()
		defer a.Close()
		defer c.Close()
		cl := &Client{P: pr, Conn: a, sk: pr.r.NewPoly()}
		cl.prg, _ = ring.NewRandomPRG()
		go func() { _, _ = c.Recv(); _ = c.Send(b) }()
		pl, err := planFC(4, 2, pr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = cl.run(pl, 1, make([]uint64, 4))
	})
}
