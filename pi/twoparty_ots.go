package pi

import (
	"fmt"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/otgates"
	"github.com/autorep/autorep/transport"
)

// The two-party suite's correlated OTs are made in the request's offline
// phase too (OT precomputation, otgates.MakeCOTs): the COTs each step's
// gates extend follow from the public plan, ℓ and n as the triples do
// (cotCounts, with otgates' per-gate counts), so precomputeCOTs extends
// them all, per extension and direction, after the triples; online every
// gate sends one derandomization bit per OT where it sent the
// extension's correction matrix (4 bytes per COT at SoftSpoken k = 4,
// 2 at k = 8), in the same messages and rounds. Each step is checked to
// take exactly its count (withCOTs), and the top-k what is left
// (cotsDone), after which the pool is freed: at most one request's COTs
// are held.

// cotLayer labels the traffic of a request's COTs in the connection's
// statistics; batchShares splits it over the steps by their counts.
const cotLayer = "otgates/cots"

// cotCounts returns the COTs the online phase of a request of n images
// extends, per step and, last, for the secure top-k: the gates act,
// actFaithful, maxPool, trunc and runTopK's geq and mux run, counted
// with otgates' per-gate counts. withCOTs checks each.
func cotCounts(pub *Public, n int) ([]otgates.COTs, error) {
	ell := effEll(pub.Ell)
	f := int(pub.Frac)
	exact := pub.Trunc != TruncFaithful
	trunc := func(m, s int) otgates.COTs { // truncate
		if exact {
			return otgates.TruncExactCOTs(m, s)
		}
		return otgates.TruncCOTs(m, s)
	}
	counts := make([]otgates.COTs, len(pub.Steps)+1)
	for i := range pub.Steps {
		st := &pub.Steps[i]
		var c otgates.COTs
		switch st.Op {
		case OpAct:
			m, nr := n*st.Positions(), n*st.ReLUs
			np := m - nr
			if !exact {
				if nr > 0 {
					c = otgates.ReLUTruncCOTs(nr, ell, f)
				}
				switch {
				case np == 0:
				case st.Folded:
					c = c.Add(otgates.TruncCOTs(np, int(pub.foldTrunc(st))))
				case pub.Poly == PolyHE:
					c = c.Add(otgates.PrimeCOTs(np)).Add(otgates.PrimeCOTs(np))
				default:
					c = c.Add(otgates.TruncCOTs(np, f)).Add(polyCOTs(pub, st, np, ell, f, trunc))
				}
				break
			}
			c = otgates.TruncExactCOTs(m, f)
			if nr > 0 {
				c = c.Add(otgates.DReLUCOTs(nr, ell-f)).Add(otgates.SelectCOTs(nr))
			}
			if np > 0 {
				c = c.Add(polyCOTs(pub, st, np, ell, f, trunc))
			}
		case OpMaxPool:
			spec := poolSpec(st, n)
			if err := spec.Validate(); err != nil {
				return nil, fmt.Errorf("pi: step %q: %w", st.Name, err)
			}
			_, err := mpc.Tournament(spec, make([]struct{}, spec.N*spec.C*spec.H*spec.W), func(a, _ []struct{}) ([]struct{}, error) {
				c = c.Add(otgates.MaxCOTs(len(a), ell))
				return a, nil
			})
			if err != nil {
				return nil, fmt.Errorf("pi: step %q: %w", st.Name, err)
			}
		case OpTrunc:
			c = trunc(n*st.Positions(), int(st.Shift))
		}
		counts[i] = c
	}
	if pub.TopK > 0 {
		var c otgates.COTs
		for _, levels := range argmaxLevels(pub.Classes, pub.TopK) {
			for _, lv := range levels {
				c = c.Add(otgates.DReLUCOTs(n*lv.pairs, ell)).Add(otgates.SelectCOTs(n * lv.width))
			}
		}
		counts[argmaxTriples(pub)] = c
	}
	return counts, nil
}

// polyCOTs counts polyAt at np positions of st (inputs truncated by f):
// the narrow form (Poly1Exact, Poly2Exact; faithfulNarrow's Poly2 or
// MulPrivate and Trunc) or the wide one (Square, MulPrivate of both
// terms, truncate by 2f).
func polyCOTs(pub *Public, st *Step, np, ell, f int, trunc func(m, s int) otgates.COTs) otgates.COTs {
	exact := pub.Trunc != TruncFaithful
	switch {
	case pub.Poly != PolyNarrow:
		return otgates.SquareCOTs(np, ell).Add(otgates.MulPrivateCOTs(2*np, ell)).Add(trunc(np, 2*f))
	case exact && st.PolyDeg == 1:
		return otgates.Poly1ExactCOTs(np, ell, f)
	case exact:
		return otgates.Poly2ExactCOTs(np, ell, f)
	case st.PolyDeg == 1:
		return otgates.MulPrivateCOTs(np, ell).Add(otgates.TruncCOTs(np, f))
	}
	return otgates.Poly2COTs(np, ell, f)
}

// precomputeCOTs makes the COTs of a request of n images ahead
// (cotCounts summed; labelled cotLayer), after the triples, whose own
// OTs must not draw on them.
func (b *twoPartyBackend) precomputeCOTs(n int) error {
	b.cots = nil
	counts, err := cotCounts(b.pub, n)
	if err != nil {
		return err
	}
	var sum otgates.COTs
	for _, c := range counts {
		sum = sum.Add(c)
	}
	transport.SetLayer(b.conn, cotLayer)
	if err := b.gates.MakeCOTs(sum); err != nil {
		return fmt.Errorf("correlated OTs: %w", err)
	}
	b.cots = counts
	return nil
}

// withCOTs runs f, the online gates of step i, and checks that they took
// exactly the step's count of the COTs made ahead (both parties count
// alike, so both fail alike).
func (b *twoPartyBackend) withCOTs(i int, st *Step, f func() ([]uint64, error)) ([]uint64, error) {
	if i >= len(b.cots) {
		return nil, fmt.Errorf("step %q: no correlated OTs made ahead (the offline phase did not run)", st.Name)
	}
	left := b.gates.COTsLeft()
	y, err := f()
	if err == nil && !b.gates.COTsUsed(left, b.cots[i]) {
		err = fmt.Errorf("step %q took %v of the correlated OTs made ahead, counted %v (cotCounts and the gates disagree)", st.Name, left.Sub(b.gates.COTsLeft()), b.cots[i])
	}
	return y, err
}

// cotsDone checks, after the top-k, that no COT made ahead is left (the
// top-k's are what the steps left) and frees the pool.
func (b *twoPartyBackend) cotsDone() error {
	left := b.gates.COTsLeft()
	b.gates.DropCOTs()
	b.cots = nil
	if left.Total() != 0 {
		return fmt.Errorf("the top-k left %v of the correlated OTs made ahead (cotCounts and the gates disagree)", left)
	}
	return nil
}

// cotWeights returns each count's share of the COTs' offline bytes: the
// extension's matrix bits per COT (⌈128/k⌉, 128 for IKNP) times the
// count, per extension.
func (b *twoPartyBackend) cotWeights(counts []otgates.COTs) []int {
	cfg := b.gates.OT.Config
	bits := func(k int) int {
		if k == 0 {
			return 128
		}
		return (128 + k - 1) / k
	}
	kb, mb := bits(cfg.K), bits(cfg.K)
	if cfg.KMul != 0 {
		mb = bits(cfg.KMul)
	}
	w := make([]int, len(counts))
	for i, c := range counts {
		w[i] = kb*(c.K[0]+c.K[1]) + mb*(c.Mul[0]+c.Mul[1])
	}
	return w
}
