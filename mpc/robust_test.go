package mpc_test

import (
	"errors"
	"fmt"
	"github.com/autorep/autorep/mpc/dealer"
	"slices"
	"sync"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/mpc/internal/mpctest"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// clientAgainst runs f as the client against a fake server that sends the
// given raw messages and then closes; it returns f's error.
func clientAgainst(t *testing.T, msgs [][]byte, f func(s *mpc.Session, src corr.Provider) error) error {
	t.Helper()
	var seed ring.Seed
	_, p1 := dealer.LocalProviders(dealer.NewGenerator(seed))
	c0, c1 := transport.Pipe()
	src := p1
	s, err := newSession(mpc.Client, c1, 16)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, m := range msgs {
			if err := c0.Send(m); err != nil {
				return
			}
		}
		c0.Close()
	}()
	err = f(s, src)
	wg.Wait()
	return err
}

func TestMalformedPeerMessages(t *testing.T) {
	x := make([]uint64, 10)
	spec := corr.ActSpec{N: 1, C: 2, HW: 5, ReLU: corr.MaskOf([]bool{true, true, false, true, false, true, true, true, false, true})}
	cases := map[string]func(s *mpc.Session, src corr.Provider) error{
		"reveal": func(s *mpc.Session, src corr.Provider) error { _, err := s.RevealToClient("o", x); return err },
		"relu":   func(s *mpc.Session, src corr.Provider) error { _, err := fssgates.ReLU(s, src, "r", x, 0); return err },
		"trunc": func(s *mpc.Session, src corr.Provider) error {
			_, err := fssgates.Trunc(s, src, "t", x, 16, 0)
			return err
		},
		"mul": func(s *mpc.Session, src corr.Provider) error { _, err := s.Mul(src, "m", x, x); return err },
		"act": func(s *mpc.Session, src corr.Provider) error {
			k, err := s.SetupPoly(src, "p", 2, nil)
			if err != nil {
				return err
			}
			_, err = s.Act(src, "a", k, spec, x)
			return err
		},
		"setup": func(s *mpc.Session, src corr.Provider) error {
			_, err := s.SetupLinear(src, "l", corr.DenseSpec(1, 10, 3), nil, nil)
			return err
		},
	}
	for name, f := range cases {
		for _, msgs := range [][][]byte{
			nil,                   // peer closes at once
			{{1, 2, 3}},           // not a whole number of words
			{make([]byte, 8*11)},  // one value too many
			{make([]byte, 8*4*2)}, // too short for every case
		} {
			if err := clientAgainst(t, msgs, f); err == nil {
				t.Errorf("%s: malformed peer messages %d accepted", name, len(msgs))
			}
		}
	}
}

// badProvider corrupts the material of an honest provider.
type badProvider struct {
	corr.Provider
	corrupt func(m *corr.Material)
}

func (b badProvider) Get(r corr.Request) (*corr.Material, error) {
	m, err := b.Provider.Get(r)
	if err != nil {
		return nil, err
	}
	c := *m
	c.Vecs = slices.Clone(m.Vecs)
	b.corrupt(&c)
	return &c, nil
}

func TestFaultyProvider(t *testing.T) {
	var seed ring.Seed
	corruptions := map[string]func(m *corr.Material){
		"party":   func(m *corr.Material) { m.Party = 1 - m.Party },
		"kind":    func(m *corr.Material) { m.Kind = mpc.KindSquare },
		"short":   func(m *corr.Material) { m.Vecs[0] = corr.Vec{Data: m.Vecs[0].Data[:len(m.Vecs[0].Data)-1]} },
		"no keys": func(m *corr.Material) { m.Keys = nil },
		"shift":   func(m *corr.Material) { m.Param++ },
	}
	for name, c := range corruptions {
		p0, _ := dealer.LocalProviders(dealer.NewGenerator(seed))
		c0, _ := transport.Pipe()
		src := badProvider{p0, c}
		s, err := newSession(mpc.Server, c0, 16)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fssgates.ReLU(s, src, "r", make([]uint64, 8), 0); err == nil && name != "shift" {
			t.Errorf("%s: corrupted ReLU material accepted", name)
		}
		if _, err := fssgates.Trunc(s, src, "t", make([]uint64, 8), 16, 0); err == nil {
			t.Errorf("%s: corrupted truncation material accepted", name)
		}
		if name == "no keys" || name == "shift" {
			continue // triples have no keys; Mul would wait for the peer
		}
		if _, err := s.Mul(src, "m", make([]uint64, 8), make([]uint64, 8)); err == nil {
			t.Errorf("%s: corrupted triple accepted", name)
		}
	}
	// A provider that fails.
	p0, _ := dealer.LocalProviders(dealer.NewGenerator(seed))
	c0, _ := transport.Pipe()
	src := errProvider{p0}
	s, _ := newSession(mpc.Server, c0, 16)
	if _, err := fssgates.Trunc(s, src, "t", make([]uint64, 3), 16, 0); err == nil {
		t.Error("provider error swallowed")
	}
}

type errProvider struct{ corr.Provider }

func (errProvider) Get(corr.Request) (*corr.Material, error) { return nil, errors.New("dealer down") }

func TestBadArguments(t *testing.T) {
	r := run2(t, 30, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
		var errs []error
		_, err := s.Mul(src, "m", make([]uint64, 3), make([]uint64, 4))
		errs = append(errs, err)
		_, err = s.Act(src, "a", nil, corr.ActSpec{N: 1, C: 2, HW: 2}, make([]uint64, 4)) // polynomial positions without a key
		errs = append(errs, err)
		_, err = s.Act(src, "a", nil, corr.ActSpec{N: 1, C: 2, HW: 2}, make([]uint64, 5))
		errs = append(errs, err)
		_, err = s.MaxPool(src, "p", mpc.PoolSpec{N: 1, C: 1, H: 2, W: 2, K: 3, Stride: 1}, make([]uint64, 4))
		errs = append(errs, err)
		_, err = fssgates.Trunc(s, src, "t", make([]uint64, 2), 64, 0)
		errs = append(errs, err)
		_, err = s.ShareInput(make([]uint64, 2), 3)
		if s.Party == mpc.Client {
			errs = append(errs, err)
		}
		_, err = s.SetupPoly(src, "p", 0, nil)
		errs = append(errs, err)
		if s.Party == mpc.Server {
			_, err = s.SetupLinear(src, "l", corr.DenseSpec(1, 3, 2), make([]uint64, 5), nil)
			errs = append(errs, err)
			_, err = s.SetupPoly(src, "p", 2, [][]float64{{1, 2, 3, 4}, {1}})
			errs = append(errs, err)
		}
		for i, e := range errs {
			if e == nil {
				t.Errorf("%v: bad call %d accepted", s.Party, i)
			}
		}
		return nil, nil
	})
	_ = r
}

func TestPrefetcherPrefetch(t *testing.T) {
	spec := corr.ActSpec{N: 2, C: 2, HW: 4, ReLU: corr.MaskOf([]bool{true, false, true, true, false, false, true, true})}
	z := randSigned(spec.Len(), 2*frac+3, 31)
	zs := split(z, 32)
	co := polyCoefs(2)
	var seed ring.Seed
	p0, p1 := dealer.LocalProviders(dealer.NewGenerator(seed))
	bp := [2]*corr.Prefetcher{corr.NewPrefetcher(p0), corr.NewPrefetcher(p1)}
	c0, c1 := transport.Pipe()
	var outs [2][]uint64
	mpctest.Run(t, [2]transport.Conn{c0, c1}, [2]corr.Provider{bp[0], bp[1]}, func(s *mpc.Session, src corr.Provider) error {
		p := s.Party
		var c [][]float64
		if p == mpc.Server {
			c = co
		}
		k, err := s.SetupPoly(src, "act", 2, c)
		if err != nil {
			return err
		}
		if err := bp[p].Prefetch(actNeeds(t, s, "act", "act", spec)); err != nil {
			return err
		}
		before := bp[p].Offline().Items
		y, err := s.Act(src, "act", k, spec, zs[p])
		if err != nil {
			return err
		}
		if bp[p].Offline().Items != before {
			t.Errorf("%v: online phase fetched material", p)
		}
		outs[p] = y
		return nil
	})
	got := make([]uint64, len(z))
	ring.AddVec(got, outs[0], outs[1])
	closeVec(t, "buffered act", got, actRef(spec, co, z), 1)
	// A prefetched item that does not match the request is an error.
	b := corr.NewPrefetcher(p0)
	if err := b.Prefetch([]corr.Request{{Kind: fssgates.KindReLU, Label: "x", N: 3}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(corr.Request{Kind: fssgates.KindReLU, Label: "x", N: 4}); err == nil {
		t.Error("mismatched prefetched material served")
	}
}

// wireProvider serves a party from a Pairing through the binary encodings, as
// a network dealer would.
type wireProvider struct {
	h     *dealer.Pairing
	party mpc.Party
	bytes *int64
}

func (w wireProvider) Party() mpc.Party           { return w.party }
func (w wireProvider) Offline() corr.OfflineStats { return corr.OfflineStats{Bytes: *w.bytes} }
func (w wireProvider) Get(req corr.Request) (*corr.Material, error) {
	rb, err := req.MarshalBinary()
	if err != nil {
		return nil, err
	}
	r2, err := corr.UnmarshalRequest(rb)
	if err != nil {
		return nil, err
	}
	m, err := w.h.Get(w.party, r2)
	if err != nil {
		return nil, err
	}
	mb, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	*w.bytes += int64(len(mb))
	return corr.UnmarshalMaterialFor(mb, req, w.party)
}

func TestProtocolsThroughWireEncoding(t *testing.T) {
	var seed ring.Seed
	seed[5] = 1
	h := dealer.NewPairing(dealer.NewGenerator(seed))
	var n0, n1 int64
	provs := [2]corr.Provider{wireProvider{h, mpc.Server, &n0}, wireProvider{h, mpc.Client, &n1}}
	p := corr.LinearSpec{N: 1, C: 2, H: 5, W: 5, K: 3, R: 3, S: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, Groups: 1}
	spec := corr.ActSpec{N: 1, C: 3, HW: 25, ReLU: maskWhere(75, func(i int) bool { return i%5 == 0 })}
	w := randSigned(p.WLen(), 15, 80)
	x := randSigned(p.XLen(), frac+2, 81)
	co := polyCoefs(3)
	c0, c1 := transport.Pipe()
	var outs [2][]uint64
	mpctest.Run(t, [2]transport.Conn{c0, c1}, provs, func(s *mpc.Session, src corr.Provider) error {
		var ww []uint64
		var cc [][]float64
		var in []uint64
		if s.Party == mpc.Server {
			ww, cc = w, co
		} else {
			in = x
		}
		k, err := s.SetupLinear(src, "conv", p, ww, nil)
		if err != nil {
			return err
		}
		pk, err := s.SetupPoly(src, "act", 3, cc)
		if err != nil {
			return err
		}
		xs, _ := s.ShareInput(in, len(x))
		z, err := s.Linear(src, k, xs)
		if err != nil {
			return err
		}
		y, err := s.Act(src, "act", pk, spec, z)
		if err != nil {
			return err
		}
		m, err := s.MaxPool(src, "mp", mpc.PoolSpec{N: 1, C: 3, H: 5, W: 5, K: 2, Stride: 2}, y)
		if err != nil {
			return err
		}
		outs[s.Party] = m
		return nil
	})
	got := make([]uint64, len(outs[0]))
	ring.AddVec(got, outs[0], outs[1])
	a := actRef(spec, co, refConv(p, w, x))
	var want []uint64
	for c := 0; c < 3; c++ {
		for i := 0; i < 2; i++ {
			for j := 0; j < 2; j++ {
				best := int64(-1 << 62)
				for di := 0; di < 2; di++ {
					for dj := 0; dj < 2; dj++ {
						best = max(best, int64(a[c*25+(2*i+di)*5+2*j+dj]))
					}
				}
				want = append(want, uint64(best))
			}
		}
	}
	closeVec(t, "wire", got, want, 1)
	if n0 == 0 || n1 == 0 {
		t.Error("no dealer bytes counted")
	}
}

// TestRequestListsComplete: after prefetching the listed requests, the
// protocols fetch nothing more from the dealer.
func TestRequestListsComplete(t *testing.T) {
	mp := mpc.PoolSpec{N: 2, C: 2, H: 5, W: 5, K: 3, Stride: 2, Pad: 1}
	lin := corr.LinearSpec{N: 1, C: 2, H: 4, W: 4, K: 2, R: 3, S: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, Groups: 1}
	x := randSigned(100, 20, 90)
	var seed ring.Seed
	p0, p1 := dealer.LocalProviders(dealer.NewGenerator(seed))
	bp := [2]*corr.Prefetcher{corr.NewPrefetcher(p0), corr.NewPrefetcher(p1)}
	c0, c1 := transport.Pipe()
	mpctest.Run(t, [2]transport.Conn{c0, c1}, [2]corr.Provider{bp[0], bp[1]}, func(s *mpc.Session, src corr.Provider) error {
		p := s.Party
		var w []uint64
		if p == mpc.Server {
			w = randSigned(lin.WLen(), 12, 91)
		}
		k, err := s.SetupLinear(src, "lin", lin, w, nil)
		if err != nil {
			return err
		}
		var reqs []corr.Request
		mpl, err := mpc.NewMaxPoolLayer("mp", mp, s.Ell, fssgates.Gates{})
		if err != nil {
			return err
		}
		reqs = append(reqs, mpl.Needs(mp.N)...)
		reqs = append(reqs, linearNeeds(k)...)
		if err := bp[p].Prefetch(reqs); err != nil {
			return err
		}
		before := bp[p].Offline().Items
		steps := []func() error{
			func() error { _, err := s.MaxPool(src, "mp", mp, x[:100]); return err },
			func() error { _, err := s.Linear(src, k, x[:32]); return err },
		}
		for i, f := range steps {
			if err := f(); err != nil {
				return fmt.Errorf("step %d: %w", i, err)
			}
		}
		if got := bp[p].Offline().Items; got != before {
			t.Errorf("%v: %d requests were not in the lists", p, got-before)
		}
		return nil
	})
}

// skewProvider answers a different request than asked (another shift and
// width): well-formed material that does not match.
type skewProvider struct{ corr.Provider }

func (p skewProvider) Get(r corr.Request) (*corr.Material, error) {
	r.Shift++
	r.Ell = 60
	return p.Provider.Get(r)
}

func TestMismatchedMaterialRejected(t *testing.T) {
	var seed ring.Seed
	p0, _ := dealer.LocalProviders(dealer.NewGenerator(seed))
	c0, _ := transport.Pipe()
	src := skewProvider{p0}
	s, _ := newSession(mpc.Server, c0, 16)
	if _, err := fssgates.Trunc(s, src, "t", make([]uint64, 4), 16, 0); err == nil {
		t.Error("truncation keys for another shift accepted")
	}
	if _, err := fssgates.ReLUTrunc(s, src, "rt", make([]uint64, 4), 16, 0); err == nil {
		t.Error("ReLU-truncation keys for another shift accepted")
	}
}
