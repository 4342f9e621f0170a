package pi

import (
	"fmt"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/otgates"
	"github.com/autorep/autorep/transport"
)

// The two-party suite's bit triples (the AND trees of otgates' comparisons)
// are made in the request's offline phase, not while its gates run: the
// count each step's gates consume follows from the public plan, ℓ and n
// (tripleCounts), so precomputeTriples makes one store per step (and one
// for the secure top-k) in the offline phase, and the online step takes
// its gates' triples from its store (withTriples). The traffic is the
// inline triples', moved; the online phase then sends no offline traffic.

// tripleLayer labels the traffic of a request's bit triples in the
// connection's statistics; statsRecorder attributes it to the steps in
// proportion to their counts.
const tripleLayer = "otgates/triples"

// argmaxTriples is the key of the secure top-k's triples in tripleCounts
// and twoPartyBackend.tri: one past the steps.
func argmaxTriples(pub *Public) int { return len(pub.Steps) }

// tripleCounts returns the bit triples the online phase of a request of n
// images consumes, per step and, last, for the secure top-k. Each count
// follows the gates the step runs (act, actFaithful, maxPool, trunc,
// runTopK's geq) with otgates' per-gate counts; withTriples checks it.
func tripleCounts(pub *Public, n int) ([]int, error) {
	ell := effEll(pub.Ell)
	f := int(pub.Frac)
	exact := pub.Trunc != TruncFaithful
	counts := make([]int, len(pub.Steps)+1)
	for i := range pub.Steps {
		st := &pub.Steps[i]
		switch st.Op {
		case OpAct:
			m, nr := n*st.Positions(), n*st.ReLUs
			np := m - nr
			if !exact {
				// ReLUTrunc at the ReLU positions; the polynomial
				// positions' truncations (Trunc, ToPrimeTrunc,
				// FromPrimeTrunc, Poly2) compare nothing.
				counts[i] = otgates.ReLUTruncTriples(nr, ell)
				continue
			}
			// TruncExact by f everywhere, the ReLU's DReLU at ℓ − f,
			// then the polynomial form's exact truncations.
			c := otgates.TruncExactTriples(m, f) + otgates.DReLUTriples(nr, ell-f)
			switch {
			case np == 0:
			case pub.Poly == PolyNarrow && st.PolyDeg == 1:
				c += otgates.Poly1ExactTriples(np, f)
			case pub.Poly == PolyNarrow:
				c += otgates.Poly2ExactTriples(np, f)
			default: // widePoly's final truncation by 2f
				c += otgates.TruncExactTriples(np, 2*f)
			}
			counts[i] = c
		case OpMaxPool:
			// The tournament's rounds of Max, counted on zero-size values.
			c := 0
			spec := poolSpec(st, n)
			if err := spec.Validate(); err != nil {
				return nil, fmt.Errorf("pi: step %q: %w", st.Name, err)
			}
			_, err := mpc.Tournament(spec, make([]struct{}, spec.N*spec.C*spec.H*spec.W), func(a, _ []struct{}) ([]struct{}, error) {
				c += otgates.MaxTriples(len(a), ell)
				return a, nil
			})
			if err != nil {
				return nil, fmt.Errorf("pi: step %q: %w", st.Name, err)
			}
			counts[i] = c
		case OpTrunc:
			if exact {
				counts[i] = otgates.TruncExactTriples(n*st.Positions(), int(st.Shift))
			}
		}
	}
	if pub.TopK > 0 {
		c := 0
		for _, levels := range argmaxLevels(pub.Classes, pub.TopK) {
			for _, lv := range levels {
				c += otgates.DReLUTriples(n*lv.pairs, ell)
			}
		}
		counts[argmaxTriples(pub)] = c
	}
	return counts, nil
}

// precomputeTriples makes the bit triples of a request of n images, one
// store per step that consumes any (tripleCounts), in otgates' batches
// over all steps (labelled tripleLayer).
func (b *twoPartyBackend) precomputeTriples(n int) error {
	b.tri = nil
	counts, err := tripleCounts(b.pub, n)
	if err != nil {
		return err
	}
	transport.SetLayer(b.conn, tripleLayer)
	stores, err := b.gates.MakeTriples(counts)
	if err != nil {
		return fmt.Errorf("bit triples: %w", err)
	}
	b.tri = map[int]*otgates.Triples{}
	for k, s := range stores {
		if counts[k] > 0 {
			b.tri[k] = s
		}
	}
	return nil
}

// takeTriples removes and returns store k (an empty store if there is
// none: a gate that then needs a triple fails rather than make it
// online).
func (b *twoPartyBackend) takeTriples(k int) *otgates.Triples {
	t := b.tri[k]
	delete(b.tri, k)
	if t == nil {
		t = &otgates.Triples{}
	}
	return t
}

// withTriples runs f, the online gates of step i, on the step's triples
// made ahead and checks that they used them all (both parties count
// alike, so both fail alike), and its COTs (withCOTs).
func (b *twoPartyBackend) withTriples(i int, st *Step, f func() ([]uint64, error)) ([]uint64, error) {
	t := b.takeTriples(i)
	b.gates.UseTriples(t)
	defer b.gates.UseTriples(nil)
	y, err := b.withCOTs(i, st, f)
	if err == nil && t.Len() > 0 {
		err = fmt.Errorf("step %q left %d of its bit triples unused (tripleCounts and the gates disagree)", st.Name, t.Len())
	}
	return y, err
}

// The two-party run's steps with comparisons take their triples from the
// request's stores.

func (r twoPartyRun) act(i int, st *Step, n int, x []uint64) ([]uint64, error) {
	return r.withTriples(i, st, func() ([]uint64, error) { return r.twoPartyBackend.act(i, st, n, x) })
}

func (r twoPartyRun) maxPool(i int, st *Step, n int, x []uint64) ([]uint64, error) {
	return r.withTriples(i, st, func() ([]uint64, error) { return r.twoPartyBackend.maxPool(i, st, n, x) })
}

func (r twoPartyRun) trunc(i int, st *Step, x []uint64) ([]uint64, error) {
	return r.withTriples(i, st, func() ([]uint64, error) { return r.twoPartyBackend.trunc(i, st, x) })
}

// geq is one level of the secure top-k on the top-k's store, which its
// levels share; reveal checks that they used it all.
func (r twoPartyRun) geq(label string, d []uint64) ([]uint64, error) {
	k := argmaxTriples(r.pub)
	t := r.tri[k]
	if t == nil {
		t = &otgates.Triples{}
	}
	r.gates.UseTriples(t)
	defer r.gates.UseTriples(nil)
	return r.twoPartyBackend.geq(label, d)
}

func (r twoPartyRun) reveal(y []uint64) ([]uint64, error) {
	if t := r.takeTriples(argmaxTriples(r.pub)); t.Len() > 0 {
		return nil, fmt.Errorf("the top-k left %d of its bit triples unused (tripleCounts and the gates disagree)", t.Len())
	}
	if err := r.cotsDone(); err != nil {
		return nil, err
	}
	return r.revealToClient(y)
}

// batchShares implements batchSharer: the PolyHE batches' bytes as the
// backend split them (preBytes, when they are this offline phase's, whose
// batch labels byLabel holds), the bit triples' bytes in proportion to
// the steps' counts, and the COTs' by the steps' COT counts (cotWeights).
func (r twoPartyRun) batchShares(n int, byLabel map[string]int64) (map[int]int64, error) {
	shares := map[int]int64{}
	if batch := byLabel[batchLayer(1)] + byLabel[batchLayer(2)]; batch != 0 {
		var sum int64
		for i, b := range r.preBytes {
			shares[i] += b
			sum += b
		}
		if sum != batch {
			return nil, fmt.Errorf("pi: PolyHE batches of %d B, %d B split over their steps", batch, sum)
		}
	}
	if t := byLabel[cotLayer]; t != 0 {
		counts, err := cotCounts(r.pub, n)
		if err != nil {
			return nil, err
		}
		for k, b := range splitBytes(t, r.cotWeights(counts)) {
			if b != 0 {
				shares[k] += b
			}
		}
	}
	if t := byLabel[tripleLayer]; t != 0 {
		counts, err := tripleCounts(r.pub, n)
		if err != nil {
			return nil, err
		}
		for k, b := range splitBytes(t, counts) {
			if b != 0 {
				shares[k] += b
			}
		}
	}
	return shares, nil
}
