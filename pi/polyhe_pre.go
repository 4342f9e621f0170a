package pi

import (
	"fmt"

	"github.com/autorep/autorep/hesimd"
	"github.com/autorep/autorep/transport"
)

// batchLayer labels the traffic of the PolyHE batch of degree deg
// (precomputeBatch) in the connection's statistics; the backend's
// preBytes attributes it to the steps.
func batchLayer(deg int) string { return fmt.Sprintf("polyhe/degree-%d batch", deg) }

// precomputePoly draws the hesimd masks of the polynomial positions of
// degree-2 activation step i for n images (in actSplit.batch's order, as polyHE
// uses them), with the first answer offline (PrecomputeQuad: the server
// knows the quadratic coefficients already).
func (b *twoPartyBackend) precomputePoly(i int, st *Step, n int) (any, error) {
	_, idx := b.acts[i].batch(n)
	if b.party == tpClient {
		return b.qc.PrecomputeQuad(len(idx))
	}
	ca, _, _ := b.heCoefs(i, st, idx)
	return b.qs.PrecomputeQuad(ca)
}

// polySizes returns the number of polynomial positions of each step for n
// images.
func polySizes(pub *Public, steps []int, n int) []int {
	sizes := make([]int, len(steps))
	for k, i := range steps {
		st := &pub.Steps[i]
		sizes[k] = n * (st.Positions() - st.ReLUs)
	}
	return sizes
}

// precomputeDeg2 precomputes the degree-2 PolyHE steps for n images in
// the form with fewer bytes in all (hesimd.Params.Degree2Bytes: both
// parties decide alike from public sizes): one PrecomputeQuadElementwise
// batch (no padding but the last group's, no HE online, one answer more
// offline and e online) or PrecomputeQuad per step.
func (b *twoPartyBackend) precomputeDeg2(steps []int, n int) error {
	if len(steps) == 0 {
		return nil
	}
	if perStep, batch := b.hp.Degree2Bytes(polySizes(b.pub, steps, n)); batch <= perStep && !b.deg2PerStep {
		return b.precomputeBatch(steps, n, 2)
	}
	for _, i := range steps {
		st := &b.pub.Steps[i]
		transport.SetLayer(b.conn, st.Name)
		m, err := b.precomputePoly(i, st, n)
		if err != nil {
			return fmt.Errorf("precompute %q: %w", st.Name, err)
		}
		b.pre[i] = m
	}
	return nil
}

// precomputeBatch precomputes the PolyHE steps steps, all of degree deg,
// for n images in one hesimd batch (PrecomputeLinear for degree 1,
// PrecomputeQuadElementwise for degree 2: elementwise material on both
// sides), so that only the batch's last group of Slots() positions has
// padding, not every step's; the batch is split into per-step single-use
// masks. Its traffic is attributed to the steps in proportion to their
// positions (preBytes).
func (b *twoPartyBackend) precomputeBatch(steps []int, n, deg int) error {
	if len(steps) == 0 {
		return nil
	}
	transport.SetLayer(b.conn, batchLayer(deg))
	before := b.conn.Stats().Total()
	sizes := polySizes(b.pub, steps, n)
	var masks []any
	var err error
	if b.party == tpClient {
		var m *hesimd.ClientMask
		if deg == 1 {
			m, err = b.qc.PrecomputeLinear(sum(sizes))
		} else {
			m, err = b.qc.PrecomputeQuadElementwise(sum(sizes))
		}
		if err == nil {
			masks, err = splitMask(m, sizes)
		}
	} else {
		var coef []uint64 // C1 (degree 1) or C2 residues of all steps in a row
		for _, i := range steps {
			st := &b.pub.Steps[i]
			_, idx := b.acts[i].batch(n)
			ca, cb, _ := b.heCoefs(i, st, idx)
			if deg == 1 {
				ca = cb
			}
			coef = append(coef, ca...)
		}
		var m *hesimd.ServerMask
		if deg == 1 {
			m, err = b.qs.PrecomputeLinear(coef)
		} else {
			m, err = b.qs.PrecomputeQuadElementwise(coef)
		}
		if err == nil {
			masks, err = splitMask(m, sizes)
		}
	}
	if err != nil {
		return err
	}
	after := b.conn.Stats().Total()
	split := splitBytes(after.Bytes()-before.Bytes(), sizes)
	for k, i := range steps {
		b.pre[i] = masks[k]
		b.preBytes[i] = split[k]
	}
	return nil
}

// splitMask splits a batch mask (either party's) into per-step masks.
func splitMask[M any](m interface{ Split([]int) ([]M, error) }, sizes []int) ([]any, error) {
	ms, err := m.Split(sizes)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(ms))
	for k, p := range ms {
		out[k] = p
	}
	return out, nil
}

func sum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}

// splitBytes splits total into integer parts proportional to the
// weights that sum to total exactly (largest remainders, ties to the
// earlier part); all-zero weights give all to the first part.
func splitBytes(total int64, weights []int) []int64 {
	out := make([]int64, len(weights))
	if len(weights) == 0 {
		return out
	}
	var w int64
	for _, x := range weights {
		w += int64(x)
	}
	if w == 0 {
		out[0] = total
		return out
	}
	left := total
	rem := make([]int64, len(weights))
	for k, x := range weights {
		// total·x/w without overflow for total, w < 2^31·2^31.
		q, r := total/w*int64(x), total%w*int64(x)
		out[k] = q + r/w
		rem[k] = r % w
		left -= out[k]
	}
	for ; left > 0; left-- {
		best := 0
		for k := range rem {
			if rem[k] > rem[best] {
				best = k
			}
		}
		out[best]++
		rem[best] = -1
	}
	return out
}
