package mpc_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/autorep/autorep/internal/privacytest"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// words returns all 64-bit words a party received.
func words(r result) []uint64 {
	var w []uint64
	for _, m := range r.Rec.Messages(0) {
		for i := 0; i+8 <= len(m); i += 8 {
			w = append(w, binary.LittleEndian.Uint64(m[i:]))
		}
	}
	return w
}

// chi2 is the chi-square statistic of the 16-bucket histogram of the 4
// bits of each word at bit offset shift, against the uniform law.
func chi2(w []uint64, shift uint) float64 { return privacytest.Chi2(w, shift) }

// chi2crit is the 0.1% critical value of chi-square with 15 degrees of
// freedom: a uniform source exceeds it once in a thousand tests.
const chi2crit = 37.70

// twoSample is the chi-square homogeneity statistic of the top-4-bit
// histograms of a and b (15 degrees of freedom).
func twoSample(a, b []uint64) float64 { return privacytest.TwoSample(a, b, 60) }

// miniNet runs input sharing, a dense layer, a mixed activation layer, a
// second dense layer and the reveal; it returns both parties' results and
// the plaintext fixed-point reference logits.
func miniNet(t *testing.T, x []uint64, seed byte) ([2]result, []uint64) {
	const in, hid, out = 64, 48, 10
	p1, p2 := corr.DenseSpec(1, in, hid), corr.DenseSpec(1, hid, out)
	w1, w2 := randSigned(p1.WLen(), 15, 50), randSigned(p2.WLen(), 15, 51)
	b1 := randSigned(hid, 20, 52)
	spec := corr.ActSpec{N: 1, C: hid, HW: 1, ReLU: maskWhere(hid, func(i int) bool { return i%4 == 0 })}
	co := polyCoefs(hid)
	r := run2rec(t, seed, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
		var (
			k1, k2 *mpc.LinearKey
			pk     *mpc.PolyKey
			err    error
		)
		if s.Party == mpc.Server {
			if k1, err = s.SetupLinear(src, "fc1", p1, w1, b1); err == nil {
				if k2, err = s.SetupLinear(src, "fc2", p2, w2, nil); err == nil {
					pk, err = s.SetupPoly(src, "act1", hid, co)
				}
			}
		} else {
			if k1, err = s.SetupLinear(src, "fc1", p1, nil, nil); err == nil {
				if k2, err = s.SetupLinear(src, "fc2", p2, nil, nil); err == nil {
					pk, err = s.SetupPoly(src, "act1", hid, nil)
				}
			}
		}
		if err != nil {
			return nil, err
		}
		var xin []uint64
		if s.Party == mpc.Client {
			xin = x
		}
		h, err := s.ShareInput(xin, in)
		if err != nil {
			return nil, err
		}
		if h, err = s.Linear(src, k1, h); err != nil {
			return nil, err
		}
		if h, err = s.Act(src, "act1", pk, spec, h); err != nil {
			return nil, err
		}
		if h, err = s.Linear(src, k2, h); err != nil {
			return nil, err
		}
		return s.RevealToClient("logits", h)
	})
	z := refConv(p1, w1, x)
	for i := range z {
		z[i] += b1[i]
	}
	return r, refConv(p2, w2, actRef(spec, co, z))
}

func TestMiniNetEndToEnd(t *testing.T) {
	x := randSigned(64, frac+1, 60) // inputs in [−1, 1)
	r, want := miniNet(t, x, 11)
	if r[0].Out != nil {
		t.Fatal("server got the logits")
	}
	// Polynomial outputs may be one unit (2^−16) above the floor; the
	// second layer's weights (|w| < 2^14) spread that over its inputs.
	closeVec(t, "logits", r[1].Out, want, 48<<14)
	near := 0
	for i := range want {
		if d := int64(r[1].Out[i] - want[i]); d > -1<<20 && d < 1<<20 {
			near++
		}
	}
	if near != len(want) {
		t.Fatalf("%d of %d logits far from the reference", len(want)-near, len(want))
	}
}

// TestTranscriptHidesInputAndOutput searches the server's received bytes
// for the client's input values and the logits in the clear.
func TestTranscriptHidesInputAndOutput(t *testing.T) {
	x := randSigned(64, frac+1, 61)
	r, want := miniNet(t, x, 12)
	var tr []byte
	for _, m := range r[0].Rec.Messages(0) {
		tr = append(tr, m...)
	}
	if len(tr) == 0 {
		t.Fatal("empty server transcript")
	}
	var b [8]byte
	for what, vals := range map[string][]uint64{"input": x, "logit": want} {
		for i, v := range vals {
			if v == 0 {
				continue
			}
			binary.LittleEndian.PutUint64(b[:], v)
			if bytes.Contains(tr, b[:]) {
				t.Errorf("server transcript contains %s %d in the clear", what, i)
			}
			binary.LittleEndian.PutUint64(b[:], -v)
			if bytes.Contains(tr, b[:]) {
				t.Errorf("server transcript contains −%s %d in the clear", what, i)
			}
		}
	}
}

// TestOpenedValuesUniform checks that what each party receives is uniform
// and does not depend on the secrets: two very different secret inputs
// (all zero and all large) give transcripts that pass chi-square uniformity
// tests on several bit windows and a two-sample homogeneity test.
func TestOpenedValuesUniform(t *testing.T) {
	const n = 4096
	spec := corr.ActSpec{N: 1, C: 8, HW: n / 8, ReLU: maskWhere(n, func(i int) bool { return i%2 == 0 })}
	p := corr.DenseSpec(n/64, 64, 16)
	w := randSigned(p.WLen(), 16, 70)
	co := polyCoefs(8)
	transcripts := func(val float64, seed byte) [2][]uint64 {
		x := make([]uint64, p.XLen())
		z := make([]uint64, n)
		for i := range x {
			x[i] = ring.Encode(val, frac)
		}
		for i := range z {
			z[i] = ring.Encode(val, 2*frac)
		}
		r := run2rec(t, seed, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
			var k *mpc.LinearKey
			var pk *mpc.PolyKey
			var err error
			if s.Party == mpc.Server {
				if k, err = s.SetupLinear(src, "fc", p, w, nil); err == nil {
					pk, err = s.SetupPoly(src, "act", 8, co)
				}
			} else if k, err = s.SetupLinear(src, "fc", p, nil, nil); err == nil {
				pk, err = s.SetupPoly(src, "act", 8, nil)
			}
			if err != nil {
				return nil, err
			}
			// The client holds the whole secret (server share zero).
			var xin, zin []uint64
			if s.Party == mpc.Client {
				xin, zin = x, z
			}
			xs, _ := s.ShareInput(xin, len(x))
			zs, _ := s.ShareInput(zin, len(z))
			if _, err := s.Linear(src, k, xs); err != nil {
				return nil, err
			}
			return s.Act(src, "act", pk, spec, zs)
		})
		return [2][]uint64{words(r[0]), words(r[1])}
	}
	a := transcripts(0, 21)
	b := transcripts(3.75, 22)
	for p, name := range []string{"server", "client"} {
		for _, tr := range [][]uint64{a[p], b[p]} {
			if len(tr) < n {
				t.Fatalf("%s received only %d words", name, len(tr))
			}
			for _, sh := range []uint{0, 16, 32, 60} {
				if c := chi2(tr, sh); c > chi2crit {
					t.Errorf("%s transcript bits %d..%d: chi2 = %.1f > %.1f", name, sh, sh+3, c, chi2crit)
				}
			}
		}
		if c := twoSample(a[p], b[p]); c > chi2crit {
			t.Errorf("%s transcripts for two inputs differ: chi2 = %.1f", name, c)
		}
	}
}

// TestMSBOpeningsUniform checks the openings of the MSB-trick protocols
// (all-polynomial activation layer, TruncMSB) on their own: for constant
// secrets at both ends of the allowed range the opened values pass
// chi-square uniformity tests (including the top bits, which the
// protocols use in the clear) and a two-sample homogeneity test.
func TestMSBOpeningsUniform(t *testing.T) {
	const n = 4096
	spec := corr.ActSpec{N: 1, C: 8, HW: n / 8} // all polynomial
	co := polyCoefs(8)
	transcripts := func(val uint64, seed byte) [2][]uint64 {
		z := make([]uint64, n)
		for i := range z {
			z[i] = val
		}
		r := run2rec(t, seed, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
			var c [][]float64
			if s.Party == mpc.Server {
				c = co
			}
			pk, err := s.SetupPoly(src, "act", 8, c)
			if err != nil {
				return nil, err
			}
			s.Conn.Stats().Reset()
			var zin []uint64
			if s.Party == mpc.Client {
				zin = z
			}
			zs, _ := s.ShareInput(zin, n)
			if _, err := s.Act(src, "act", pk, spec, zs); err != nil {
				return nil, err
			}
			return s.TruncMSB(src, "t", zs, 16)
		})
		// Skip the setup message (the client's first): only openings.
		tr := [2][]uint64{}
		for p := range 2 {
			w := words(r[p])
			if p == 1 {
				w = w[6*8:]
			}
			tr[p] = w
		}
		return tr
	}
	lim := uint64(1)<<61 - 1
	a := transcripts(0, 31)
	b := transcripts(lim, 32)
	c := transcripts(-lim, 33)
	for p, name := range []string{"server", "client"} {
		for _, tr := range [][]uint64{a[p], b[p], c[p]} {
			if len(tr) != 2*n {
				t.Fatalf("%s received %d words, want %d", name, len(tr), 2*n)
			}
			for _, sh := range []uint{0, 16, 32, 60} {
				if x := chi2(tr, sh); x > chi2crit {
					t.Errorf("%s openings bits %d..%d: chi2 = %.1f > %.1f", name, sh, sh+3, x, chi2crit)
				}
			}
		}
		if x := twoSample(b[p], c[p]); x > chi2crit {
			t.Errorf("%s openings for two inputs differ: chi2 = %.1f", name, x)
		}
		if x := twoSample(a[p], b[p]); x > chi2crit {
			t.Errorf("%s openings for two inputs differ: chi2 = %.1f", name, x)
		}
	}
}
