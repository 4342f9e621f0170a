package pi

import (
	"github.com/autorep/autorep/transport"
)

// preBatchLayer labels the traffic of the PolyHE degree-1 batch
// (precomputeDeg1) in the connection's statistics; the backend's
// preBytes attributes it to the steps.
const preBatchLayer = "polyhe/degree-1 batch"

// precomputePoly draws the hesimd masks of the polynomial positions of
// degree-2 activation step i for n images (in splitAct's order, as polyHE
// uses them), with the first answer offline (PrecomputeQuad: the server
// knows the quadratic coefficients already).
func (b *twoPartyBackend) precomputePoly(i int, st *Step, n int) (any, error) {
	_, idx := splitAct(st, n, n*st.Positions())
	if b.party == tpClient {
		return b.qc.PrecomputeQuad(len(idx))
	}
	ca, _, _ := b.heCoefs(i, st, idx)
	return b.qs.PrecomputeQuad(ca)
}

// precomputeDeg1 precomputes the degree-1 PolyHE steps steps for n images
// in one hesimd batch (PrecomputeLinear is elementwise on both sides), so
// that only the batch's last group of Slots() positions has padding, not
// every step's; the batch is split into per-step single-use masks. Its
// traffic is attributed to the steps in proportion to their positions
// (preBytes).
func (b *twoPartyBackend) precomputeDeg1(steps []int, n int) error {
	if len(steps) == 0 {
		return nil
	}
	transport.SetLayer(b.conn, preBatchLayer)
	before := b.conn.Stats().Total()
	sizes := make([]int, len(steps))
	var cb []uint64
	for k, i := range steps {
		st := &b.pub.Steps[i]
		_, idx := splitAct(st, n, n*st.Positions())
		sizes[k] = len(idx)
		if b.party == tpServer {
			_, c, _ := b.heCoefs(i, st, idx)
			cb = append(cb, c...)
		}
	}
	var masks []any
	if b.party == tpClient {
		m, err := b.qc.PrecomputeLinear(sum(sizes))
		if err != nil {
			return err
		}
		ms, err := m.Split(sizes)
		if err != nil {
			return err
		}
		for _, p := range ms {
			masks = append(masks, p)
		}
	} else {
		m, err := b.qs.PrecomputeLinear(cb)
		if err != nil {
			return err
		}
		ms, err := m.Split(sizes)
		if err != nil {
			return err
		}
		for _, p := range ms {
			masks = append(masks, p)
		}
	}
	after := b.conn.Stats().Total()
	split := splitBytes(after.Bytes()-before.Bytes(), sizes)
	for k, i := range steps {
		b.pre[i] = masks[k]
		b.preBytes[i] = split[k]
	}
	return nil
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
