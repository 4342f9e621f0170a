package otgates

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/autorep/autorep/transport"
)

// TestMakeTriples: the stores hold valid correlated triples (c = a ∧ b
// per a-bit, XOR-shared), split over batches smaller than a store and
// across stores (with an empty one between), each taken once.
func TestMakeTriples(t *testing.T) {
	defer func(b int) { maxTripleBatch = b }(maxTripleBatch)
	maxTripleBatch = 7
	p0, p1 := parties(t)
	counts := []int{5, 0, 13, 1}
	ones, all := 0, 0
	s0, s1 := run(t, p0, p1, func(p *Party) ([]*Triples, error) { return p.MakeTriples(counts) })
	for k, c := range counts {
		if s0[k].Len() != c || s1[k].Len() != c {
			t.Fatalf("store %d: %d and %d triples, want %d", k, s0[k].Len(), s1[k].Len(), c)
		}
		a, err := s0[k].take(c)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s1[k].take(c)
		if err != nil {
			t.Fatal(err)
		}
		for i := range c {
			w := a.w[i] ^ b.w[i]
			bit := w >> tripleB & 1
			for j := range lessThanWidth {
				if got, want := w>>(tripleC+j)&1, w>>j&1&bit; got != want {
					t.Fatalf("store %d, triple %d, bit %d: c = %d, a ∧ b = %d", k, i, j, got, want)
				}
			}
			ones += int(bit)
			all++
		}
		if s0[k].Len() != 0 {
			t.Errorf("store %d: %d left after taking all", k, s0[k].Len())
		}
		if _, err := s0[k].take(1); c > 0 && err == nil {
			t.Errorf("store %d: a triple taken twice", k)
		}
	}
	if ones == 0 || ones == all {
		t.Errorf("b is %d ones of %d: not random", ones, all)
	}
	if _, err := p0.MakeTriples([]int{-1}); err == nil {
		t.Error("a negative count accepted")
	}
}

// offlineBytes is the traffic counted in the offline phase on p's
// connection.
func offlineBytes(p *Party) int64 {
	return p.Conn.Stats().Snapshot().Phases[transport.PhaseOffline].Bytes()
}

// TestGatesOnTriplesAhead: each gate with a comparison, run on a store
// of exactly its count (the *Triples functions), gives the inline gate's
// value, sends no offline traffic and drains the store; the triples'
// traffic ahead equals the inline gate's offline traffic (the same
// messages, moved); one triple short fails both parties.
func TestGatesOnTriplesAhead(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 2))
	const n = 301
	type gate struct {
		name  string
		count int
		bits  bool   // XOR-shared output
		mask  uint64 // 2^ℓ − 1
		f     func(p *Party) ([]uint64, error)
		// several: the gate makes more than one comparison.
		several bool
	}
	var gates []gate
	for _, ell := range []int{17, 64} {
		lo, hi := fullRange(ell)
		x := inputs(rng, n, ell, lo/4, hi/4)
		x0, x1 := share(rng, x, ell)
		y := inputs(rng, n, ell, lo/4, hi/4)
		y0, y1 := share(rng, y, ell)
		xs := func(p *Party) []uint64 { return [][]uint64{x0, x1}[p.ID] }
		ys := func(p *Party) []uint64 { return [][]uint64{y0, y1}[p.ID] }
		const f = 6
		_, _, _, a, b, c := polyCase(rng, ell, f, f+1, true)
		px, _, _, _, _, _ := polyCase(rng, ell, f, f+1, true)
		px0, px1 := share(rng, px, ell)
		coef := func(p *Party, v []uint64) []uint64 { return [][]uint64{v, nil}[p.ID] }
		add := func(name string, count int, bits bool, f func(p *Party) ([]uint64, error)) {
			gates = append(gates, gate{name: name + "/ℓ=" + strconv.Itoa(ell), count: count, bits: bits, mask: mask(ell), f: f,
				several: name == "MaxPool2x2" || name == "Poly2Exact"})
		}
		add("LessThan", LessThanTriples(n, ell), true, func(p *Party) ([]uint64, error) { return bitWords(p.LessThan(xs(p), ell)) })
		add("DReLU", DReLUTriples(n, ell), true, func(p *Party) ([]uint64, error) { return bitWords(p.DReLU(xs(p), ell)) })
		add("ReLU", DReLUTriples(n, ell), false, func(p *Party) ([]uint64, error) { return p.ReLU(xs(p), ell) })
		add("Max", MaxTriples(n, ell), false, func(p *Party) ([]uint64, error) { return p.Max(xs(p), ys(p), ell) })
		add("MaxPool2x2", MaxTriples(2*(n/4), ell)+MaxTriples(n/4, ell), false, func(p *Party) ([]uint64, error) {
			return p.MaxPool2x2(xs(p)[:n/4*4], ell)
		})
		add("TruncExact", TruncExactTriples(n, 11), false, func(p *Party) ([]uint64, error) { return p.TruncExact(xs(p), ell, 11) })
		add("Poly1Exact", Poly1ExactTriples(nTest, f), false, func(p *Party) ([]uint64, error) {
			return p.Poly1Exact(coef(p, b), coef(p, c), [][]uint64{px0, px1}[p.ID], ell, f)
		})
		add("Poly2Exact", Poly2ExactTriples(nTest, f), false, func(p *Party) ([]uint64, error) {
			return p.Poly2Exact(coef(p, a), coef(p, b), coef(p, c), [][]uint64{px0, px1}[p.ID], ell, f)
		})
		// ReLUTrunc's one-unit error depends on the shares' randomness:
		// its count is checked, its value is TestReLUTrunc's.
		add("ReLUTrunc", ReLUTruncTriples(n, ell), false, func(p *Party) ([]uint64, error) { return p.ReLUTrunc(xs(p), ell, 9) })
	}
	combine := func(g gate, r0, r1 []uint64) []uint64 {
		out := make([]uint64, len(r0))
		for i := range r0 {
			if g.bits {
				out[i] = r0[i] ^ r1[i]
			} else {
				out[i] = (r0[i] + r1[i]) & g.mask
			}
		}
		return out
	}
	for k, g := range gates {
		t.Run(g.name, func(t *testing.T) {
			if g.count == 0 {
				t.Fatalf("count 0: no comparison to test")
			}
			p0, p1 := parties(t)
			off0 := offlineBytes(p0)
			r0, r1 := run(t, p0, p1, g.f)
			inlineOff := offlineBytes(p0) - off0
			want := combine(g, r0, r1)

			off0 = offlineBytes(p0)
			s0, s1 := run(t, p0, p1, func(p *Party) ([]*Triples, error) { return p.MakeTriples([]int{g.count}) })
			aheadOff := offlineBytes(p0) - off0
			p0.UseTriples(s0[0])
			p1.UseTriples(s1[0])
			off0 = offlineBytes(p0)
			a0, a1 := run(t, p0, p1, g.f)
			if d := offlineBytes(p0) - off0; d != 0 {
				t.Errorf("%d offline bytes during the gate with triples made ahead", d)
			}
			if s0[0].Len() != 0 || s1[0].Len() != 0 {
				t.Errorf("%d and %d of %d triples left: the count is too high", s0[0].Len(), s1[0].Len(), g.count)
			}
			// One batch ahead for a gate of several comparisons saves the
			// OT extension's padding of the inline batches.
			if aheadOff > inlineOff || !g.several && aheadOff != inlineOff || aheadOff == 0 {
				t.Errorf("triples ahead %d B, inline %d B: not the same traffic moved", aheadOff, inlineOff)
			}
			if !strings.HasPrefix(g.name, "ReLUTrunc") {
				got := combine(g, a0, a1)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("value %d: %d with triples ahead, %d inline", i, got[i], want[i])
					}
				}
			}
			if k != 1 && !strings.HasPrefix(g.name, "Poly2Exact/ℓ=64") {
				return
			}
			// One short: both parties fail at the same gate, neither hangs.
			u0, u1 := parties(t)
			s0, s1 = run(t, u0, u1, func(p *Party) ([]*Triples, error) { return p.MakeTriples([]int{g.count - 1}) })
			u0.UseTriples(s0[0])
			u1.UseTriples(s1[0])
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for id, p := range []*Party{u0, u1} {
				wg.Add(1)
				go func() { defer wg.Done(); _, errs[id] = g.f(p) }()
			}
			wg.Wait()
			for id, err := range errs {
				if err == nil || !strings.Contains(err.Error(), "left of those made ahead") {
					t.Errorf("party %d with one triple short: %v", id, err)
				}
			}
		})
	}
}
