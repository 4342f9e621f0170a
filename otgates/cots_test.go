package otgates

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/autorep/autorep/ot"
	"github.com/autorep/autorep/transport"
)

// cotGate is one gate of TestCOTsAhead: run gives party p's output
// (bits as 0/1 words) on its share x (and the case's other inputs), want
// its count of COTs and triples, open the value its two outputs give.
type cotGate struct {
	name    string
	run     func(p *Party, x []uint64) ([]uint64, error)
	cots    COTs
	triples int
	open    func(z0, z1 []uint64) []uint64
	// slack: the largest difference between two runs' values (0: the
	// value is a function of the input shares alone; Poly2 truncates
	// shares of x² that the OTs randomize).
	slack int64
}

// cotGates lists every gate at width ℓ on n inputs (a multiple of 4).
func cotGates(rng *rand.Rand, n, ell int) []cotGate {
	m := mask(ell)
	add := func(z0, z1 []uint64) []uint64 {
		out := make([]uint64, len(z0))
		for i := range z0 {
			out[i] = (z0[i] + z1[i]) & m
		}
		return out
	}
	xor := func(z0, z1 []uint64) []uint64 {
		out := make([]uint64, len(z0))
		for i := range z0 {
			out[i] = z0[i] ^ z1[i]
		}
		return out
	}
	bit := func(x []uint64) []uint8 {
		b := make([]uint8, len(x))
		for i, v := range x {
			b[i] = uint8(v >> 3 & 1)
		}
		return b
	}
	const s, f = 12, 10
	a := make([]uint64, n)
	for i := range a {
		a[i] = rng.Uint64() & m
	}
	// The polynomials' coefficients: |a|, |b| < 2^(f+1), c < 2^(2f).
	pa, pb, pc := make([]uint64, n), make([]uint64, n), make([]uint64, n)
	for i := range pa {
		pa[i] = uint64(rng.Int64N(1<<(f+2))-1<<(f+1)) & m
		pb[i] = uint64(rng.Int64N(1<<(f+2))-1<<(f+1)) & m
		pc[i] = uint64(rng.Int64N(1 << (2 * f)))
	}
	coef := func(p *Party, c []uint64) []uint64 {
		if p.ID == 0 {
			return c
		}
		return nil
	}
	P := primeBelow(ell - 3)
	modP := func(z0, z1 []uint64) []uint64 {
		out := make([]uint64, len(z0))
		for i := range z0 {
			out[i] = (z0[i] + z1[i]) % P
		}
		return out
	}
	return []cotGate{
		{name: "LessThan", run: func(p *Party, x []uint64) ([]uint64, error) { return bitWords(p.LessThan(x, ell-1)) },
			cots: LessThanCOTs(n, ell-1), triples: LessThanTriples(n, ell-1), open: xor},
		{name: "DReLU", run: func(p *Party, x []uint64) ([]uint64, error) { return bitWords(p.DReLU(x, ell)) },
			cots: DReLUCOTs(n, ell), triples: DReLUTriples(n, ell), open: xor},
		{name: "Select", run: func(p *Party, x []uint64) ([]uint64, error) { return p.Select(bit(x), x, ell) },
			cots: SelectCOTs(n), open: add},
		{name: "ReLU", run: func(p *Party, x []uint64) ([]uint64, error) { return p.ReLU(x, ell) },
			cots: ReLUCOTs(n, ell), triples: DReLUTriples(n, ell), open: add},
		{name: "B2A", run: func(p *Party, x []uint64) ([]uint64, error) { return p.B2A(bit(x), ell) },
			cots: B2ACOTs(n), open: add},
		{name: "Trunc", run: func(p *Party, x []uint64) ([]uint64, error) { return p.Trunc(x, ell, s) },
			cots: TruncCOTs(n, s), open: add},
		{name: "TruncExact", run: func(p *Party, x []uint64) ([]uint64, error) { return p.TruncExact(x, ell, s) },
			cots: TruncExactCOTs(n, s), triples: TruncExactTriples(n, s), open: add},
		{name: "ReLUTrunc", run: func(p *Party, x []uint64) ([]uint64, error) { return p.ReLUTrunc(x, ell, s) },
			cots: ReLUTruncCOTs(n, ell, s), triples: ReLUTruncTriples(n, ell), open: add},
		{name: "ReLUTrunc s=0", run: func(p *Party, x []uint64) ([]uint64, error) { return p.ReLUTrunc(x, ell, 0) },
			cots: ReLUTruncCOTs(n, ell, 0), triples: ReLUTruncTriples(n, ell), open: add},
		{name: "Square", run: func(p *Party, x []uint64) ([]uint64, error) { return p.Square(x, ell) },
			cots: SquareCOTs(n, ell), open: add},
		{name: "MulPrivate", run: func(p *Party, x []uint64) ([]uint64, error) { return p.MulPrivate(coef(p, a), x, ell) },
			cots: MulPrivateCOTs(n, ell), open: add},
		{name: "MaxPool2x2", run: func(p *Party, x []uint64) ([]uint64, error) { return p.MaxPool2x2(x, ell) },
			cots: MaxCOTs(n/2, ell).Add(MaxCOTs(n/4, ell)), triples: MaxTriples(n/2, ell) + MaxTriples(n/4, ell), open: add},
		{name: "Poly2", run: func(p *Party, x []uint64) ([]uint64, error) {
			return p.Poly2(coef(p, pa), coef(p, pb), coef(p, pc), x, ell, f)
		}, cots: Poly2COTs(n, ell, f), open: add, slack: 6}, // each run: ±1 on y times |a| ≤ 2, ±1 at the end
		{name: "Poly2Exact", run: func(p *Party, x []uint64) ([]uint64, error) {
			return p.Poly2Exact(coef(p, pa), coef(p, pb), coef(p, pc), x, ell, f)
		}, cots: Poly2ExactCOTs(n, ell, f), triples: Poly2ExactTriples(n, f), open: add},
		{name: "Poly1Exact", run: func(p *Party, x []uint64) ([]uint64, error) {
			return p.Poly1Exact(coef(p, pb), coef(p, pc), x, ell, f)
		}, cots: Poly1ExactCOTs(n, ell, f), triples: Poly1ExactTriples(n, f), open: add},
		{name: "ToPrimeTrunc", run: func(p *Party, x []uint64) ([]uint64, error) { return p.ToPrimeTrunc(x, ell, f, P) },
			cots: PrimeCOTs(n), open: modP},
		{name: "FromPrimeTrunc", run: func(p *Party, x []uint64) ([]uint64, error) {
			y := make([]uint64, len(x))
			for i, v := range x {
				y[i] = v % P
			}
			return p.FromPrimeTrunc(y, P, ell, f)
		}, cots: PrimeCOTs(n), open: add},
	}
}

// TestCOTsAhead: every gate at ℓ 32 and 64, on edge and random inputs,
// gives the same value with its COTs (and triples) made ahead as with
// the inline extension, takes exactly the COTs and triples its count
// functions give, and sends no offline traffic online — over the default
// extensions (two, K and KMul) and over one (KMul = K).
func TestCOTsAhead(t *testing.T) {
	for _, cfg := range []ot.Config{ot.DefaultConfig, {K: 4}} {
		c0, c1 := transport.Pipe()
		i0, i1 := newPair(t, c0, c1, ot.DefaultConfig) // inline
		d0, d1 := transport.Pipe()
		a0, a1 := newPair(t, d0, d1, cfg) // COTs made ahead
		rng := rand.New(rand.NewPCG(7, uint64(cfg.KMul)))
		for _, ell := range []int{32, 64} {
			n := 200
			// Inputs within |x| < 2^(ℓ−2−2f−2) serve every gate; the
			// edge values of that range first.
			lo, hi := -(int64(1) << 8), int64(1)<<8
			x := inputs(rng, n, ell, lo, hi)
			big, _ := quarterRange(ell)
			x = append(x[:n-4], uint64(big)&mask(ell), uint64(big+1)&mask(ell), uint64(-big-1)&mask(ell), mask(ell))
			x0, x1 := share(rng, x, ell)
			for _, g := range cotGates(rng, n, ell) {
				if g.name == "Poly2" || g.name == "Poly2Exact" || g.name == "Poly1Exact" {
					// Inputs the polynomials keep in range.
					x0, x1 = share(rng, inputs(rng, n, ell, lo, hi), ell)
				}
				in := [2][]uint64{x0, x1}
				z0, z1 := run(t, i0, i1, func(p *Party) ([]uint64, error) { return g.run(p, in[p.ID]) })
				want := g.open(z0, z1)
				tri := run2(t, a0, a1, func(p *Party) ([]*Triples, error) { return p.MakeTriples([]int{g.triples}) })
				_, _ = run(t, a0, a1, func(p *Party) (struct{}, error) { return struct{}{}, p.MakeCOTs(g.cots) })
				for d, p := range []*Party{a0, a1} {
					p.UseTriples(tri[d][0])
				}
				left := a0.COTsLeft()
				off := d0.Stats().Snapshot().Phases[transport.PhaseOffline]
				y0, y1 := run(t, a0, a1, func(p *Party) ([]uint64, error) { return g.run(p, in[p.ID]) })
				got := g.open(y0, y1)
				for i := range want {
					if dv := signed(got[i]-want[i], ell); dv > g.slack || -dv > g.slack {
						t.Fatalf("%v ℓ=%d %s: value %d is %d with COTs made ahead, %d inline", cfg, ell, g.name, i, got[i], want[i])
					}
				}
				for d, p := range []*Party{a0, a1} {
					if l := p.COTsLeft(); l.Total() != 0 {
						t.Fatalf("%v ℓ=%d %s: party %d has %v COTs left (counted %v)", cfg, ell, g.name, d, l, g.cots)
					}
					if tri[d][0].Len() != 0 {
						t.Fatalf("%v ℓ=%d %s: %d triples left", cfg, ell, g.name, tri[d][0].Len())
					}
					p.UseTriples(nil)
				}
				if !a0.COTsUsed(left, g.cots) {
					t.Fatalf("%v ℓ=%d %s: COTs used differ from the count", cfg, ell, g.name)
				}
				if _, err := a0.MakeTriples([]int{1}); err == nil {
					t.Fatal("triples made with COTs made ahead installed")
				}
				a0.DropCOTs()
				a1.DropCOTs()
				if now := d0.Stats().Snapshot().Phases[transport.PhaseOffline]; now != off {
					t.Fatalf("%v ℓ=%d %s: %d offline bytes online", cfg, ell, g.name, now.Bytes()-off.Bytes())
				}
			}
		}
	}
}

// bitWords passes a gate's XOR-shared bits on as 0/1 words.
func bitWords(b []uint8, err error) ([]uint64, error) {
	out := make([]uint64, len(b))
	for i, v := range b {
		out[i] = uint64(v)
	}
	return out, err
}

// newPair sets up two parties with OT configuration cfg over c0, c1.
func newPair(t *testing.T, c0, c1 transport.Conn, cfg ot.Config) (*Party, *Party) {
	t.Helper()
	var p0, p1 *Party
	errs := make(chan error, 1)
	go func() { var err error; p1, err = NewConfig(c1, 1, cfg); errs <- err }()
	p0, err := NewConfig(c0, 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	return p0, p1
}

// run2 is run returning both results in an array.
func run2[T any](t *testing.T, p0, p1 *Party, f func(p *Party) (T, error)) [2]T {
	r0, r1 := run(t, p0, p1, f)
	return [2]T{r0, r1}
}

// TestCOTsShort: a gate with fewer COTs made ahead than it needs, in
// either direction or extension, fails (no hang, no silent extension):
// the party that runs short says so; too many are left over, which
// COTsLeft shows; negative counts and KK13 sessions are refused.
func TestCOTsShort(t *testing.T) {
	const n, ell = 64, 32
	rng := rand.New(rand.NewPCG(3, 3))
	x0, x1 := share(rng, inputs(rng, n, ell, -100, 100), ell)
	need := ReLUCOTs(n, ell).Add(SquareCOTs(n, ell))
	gate := func(p *Party) (struct{}, error) {
		x := [2][]uint64{x0, x1}[p.ID]
		if _, err := p.ReLU(x, ell); err != nil {
			return struct{}{}, err
		}
		_, err := p.Square(x, ell)
		return struct{}{}, err
	}
	for _, short := range []COTs{{K: [2]int{1, 0}}, {K: [2]int{0, 1}}, {Mul: [2]int{1, 0}}} {
		c0, c1 := transport.Pipe()
		p0, p1 := partiesOver(t, c0, c1)
		tri := run2(t, p0, p1, func(p *Party) ([]*Triples, error) { return p.MakeTriples([]int{DReLUTriples(n, ell)}) })
		run(t, p0, p1, func(p *Party) (struct{}, error) { return struct{}{}, p.MakeCOTs(need.Sub(short)) })
		// A failing party closes its connection (as serve does), so the
		// peer, if it is waiting on a message, fails too.
		errs := make(chan error, 2)
		for d, p := range []*Party{p0, p1} {
			p.UseTriples(tri[d][0])
			go func() {
				_, err := gate(p)
				if err != nil {
					p.Conn.Close()
				}
				errs <- err
			}()
		}
		clear := 0
		for range 2 {
			err := <-errs
			if err == nil {
				t.Fatalf("short by %v: a party finished", short)
			}
			if strings.Contains(err.Error(), "left of those precomputed") {
				clear++
			}
		}
		if clear == 0 {
			t.Fatalf("short by %v: no party says the COTs made ahead ran out", short)
		}
	}
	p0, p1 := parties(t)
	run(t, p0, p1, func(p *Party) (struct{}, error) { return struct{}{}, p.MakeCOTs(SelectCOTs(10)) })
	if l := p0.COTsLeft(); l != SelectCOTs(10) {
		t.Fatalf("left %v, want %v", l, SelectCOTs(10))
	}
	p0.DropCOTs()
	if l := p0.COTsLeft(); l.Total() != 0 {
		t.Fatalf("left %v after DropCOTs", l)
	}
	if err := p0.MakeCOTs(COTs{K: [2]int{-1, 0}}); err == nil {
		t.Fatal("negative count accepted")
	}
	k0, k1 := transport.Pipe()
	q0, _ := newPair(t, k0, k1, ot.Config{K: 4, KK: true})
	if err := q0.MakeCOTs(SelectCOTs(1)); err == nil || !strings.Contains(err.Error(), "KK13") {
		t.Fatalf("KK13 session: %v", err)
	}
}
