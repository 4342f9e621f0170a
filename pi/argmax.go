package pi

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

// ParseOutput maps a command-line output mode to Public.TopK: "logits"
// (or "") is 0, "label" is 1 and "topk:K" is K ≥ 1. The class count is
// checked by Public.Validate.
func ParseOutput(mode string) (int, error) {
	switch mode {
	case "", "logits":
		return 0, nil
	case "label":
		return 1, nil
	}
	if k, ok := strings.CutPrefix(mode, "topk:"); ok {
		n, err := strconv.Atoi(k)
		if err == nil && n >= 1 && n <= maxDim {
			return n, nil
		}
	}
	return 0, fmt.Errorf("pi: output mode %q, want logits, label or topk:K (K ≥ 1)", mode)
}

// OutputName is the command-line name of Public.TopK (ParseOutput's
// inverse).
func OutputName(topK int) string {
	switch topK {
	case 0:
		return "logits"
	case 1:
		return "label"
	}
	return fmt.Sprintf("topk:%d", topK)
}

// argmaxGates are a suite's two primitives of the secure argmax, on shares
// of its ring.
type argmaxGates interface {
	// geq returns shares of the bits 1{d ≥ 0} for shared signed values d
	// at the plan's gate width (the dealer suite: additive shares of 0/1;
	// the two-party suite: XOR shares, one bit per value).
	geq(label string, d []uint64) ([]uint64, error)
	// mux returns shares of bit[j]·x[j], bit from geq.
	mux(label string, bit, x []uint64) ([]uint64, error)
	// ringMask is 2^ℓ − 1 for the suite's ring Z_2^ℓ.
	ringMask() uint64
	// isServer tells whether this party adds the public constants.
	isServer() bool
}

// argmaxLevel is one compare-and-select round of the tournament: pairs
// comparisons and width multiplexed values per image.
type argmaxLevel struct {
	pairs, width int
}

// argmaxNode is a tournament node: the classes [lo, hi) it covers.
type argmaxNode struct{ lo, hi int }

// argmaxLevels returns the public shape of the top-k tournaments over
// classes values: per round (one per output label), the levels. The
// nodes of a level pair up in order (2j with 2j+1; an odd last node
// passes), so the left node always covers the lower classes. Every round
// but the last carries the winner's one-hot vector over its classes (to
// knock it out); the last carries its index.
func argmaxLevels(classes, k int) [][]argmaxLevel {
	rounds := make([][]argmaxLevel, k)
	for r := range k {
		oneHot := r < k-1
		nodes := make([]argmaxNode, classes)
		for c := range nodes {
			nodes[c] = argmaxNode{c, c + 1}
		}
		for len(nodes) > 1 {
			lv := argmaxLevel{pairs: len(nodes) / 2}
			next := make([]argmaxNode, 0, (len(nodes)+1)/2)
			for j := 0; j+1 < len(nodes); j += 2 {
				a, b := nodes[j], nodes[j+1]
				lv.width++ // the value
				if oneHot {
					lv.width += b.hi - a.lo
				} else {
					lv.width++
				}
				next = append(next, argmaxNode{a.lo, b.hi})
			}
			if len(nodes)%2 == 1 {
				next = append(next, nodes[len(nodes)-1])
			}
			rounds[r] = append(rounds[r], lv)
			nodes = next
		}
	}
	return rounds
}

// argmaxLabel names the material of one tournament level.
func argmaxLabel(round, level int) string { return fmt.Sprintf("argmax/%d/%d", round, level) }

// argmaxRequests lists the dealer requests of the secure top-k of n images
// (none in logits mode): per level one DReLU gate per comparison and one
// Beaver triple per multiplexed value.
func argmaxRequests(pub *Public, n int) []corr.Request {
	if pub.TopK == 0 {
		return nil
	}
	var reqs []corr.Request
	for r, levels := range argmaxLevels(pub.Classes, pub.TopK) {
		for l, lv := range levels {
			label := argmaxLabel(r, l)
			reqs = append(reqs, fssgates.GateRequest(fssgates.KindDReLU, label, n*lv.pairs, 0, pub.Ell),
				corr.Request{Kind: mpc.KindTriple, Label: label, N: n * lv.width})
		}
	}
	return reqs
}

// secureTopK returns shares of the indices of the k = pub.TopK largest of
// each image's pub.Classes values y (n images), largest first, ties to the
// lower index (the plaintext argmax's first maximum).
//
// Each round is a tournament of compare-and-select on (value, payload)
// pairs: d = a − b, bit = 1{d ≥ 0} (geq), then one multiplexer on all the
// pairs' values and payloads at once (b + bit·(a − b)): two rounds per
// level, ⌈log2 Classes⌉ levels. The last round's payload is the class
// index (shares start as the public class number, held by the server);
// earlier rounds carry the winner's one-hot vector e (a node over classes
// [lo, hi) holds bit·e_a ‖ e_b − bit·e_b), whose dot product with the
// class numbers is the index and which knocks the winner out locally:
// y_c −= e_c·2^(ℓ−2). This needs every value in [−2^(ℓ−3), 2^(ℓ−3)) so that
// all differences stay in the gates' signed ℓ-bit range and a knocked-out
// value loses to every other.
func secureTopK(g argmaxGates, pub *Public, n int, y []uint64) ([]uint64, error) {
	classes, k := pub.Classes, pub.TopK
	if len(y) != n*classes {
		return nil, fmt.Errorf("pi: argmax of %d values for %d images of %d classes", len(y), n, classes)
	}
	m := g.ringMask()
	var one uint64
	if g.isServer() {
		one = 1
	}
	knock := uint64(1) << uint(effEll(pub.Ell)-2)
	vals := append([]uint64(nil), y...)
	out := make([]uint64, n*k)
	for r, levels := range argmaxLevels(classes, k) {
		oneHot := r < k-1
		// Per image: the nodes' values and payloads (index or one-hot).
		nodes := make([]argmaxNode, classes)
		v := make([][]uint64, n)
		pay := make([][][]uint64, n)
		for i := range n {
			v[i] = make([]uint64, classes)
			pay[i] = make([][]uint64, classes)
			for c := range classes {
				v[i][c] = vals[i*classes+c]
				if oneHot {
					pay[i][c] = []uint64{one}
				} else {
					pay[i][c] = []uint64{one * uint64(c) & m}
				}
			}
		}
		for c := range nodes {
			nodes[c] = argmaxNode{c, c + 1}
		}
		for l, lv := range levels {
			label := argmaxLabel(r, l)
			d := make([]uint64, 0, n*lv.pairs)
			for i := range n {
				for j := 0; j+1 < len(nodes); j += 2 {
					d = append(d, (v[i][j]-v[i][j+1])&m)
				}
			}
			bits, err := g.geq(label, d)
			if err != nil {
				return nil, fmt.Errorf("pi: argmax: %w", err)
			}
			sel := make([]uint64, 0, n*lv.width)
			xs := make([]uint64, 0, n*lv.width)
			for i := range n {
				for j := 0; j+1 < len(nodes); j += 2 {
					bit := bits[i*lv.pairs+j/2]
					sel = append(sel, bit)
					xs = append(xs, d[i*lv.pairs+j/2])
					if oneHot {
						for _, p := range [][]uint64{pay[i][j], pay[i][j+1]} {
							for _, e := range p {
								sel = append(sel, bit)
								xs = append(xs, e)
							}
						}
					} else {
						sel = append(sel, bit)
						xs = append(xs, (pay[i][j][0]-pay[i][j+1][0])&m)
					}
				}
			}
			if len(xs) != n*lv.width {
				return nil, fmt.Errorf("pi: argmax level of %d values, want %d", len(xs), n*lv.width)
			}
			prod, err := g.mux(label, sel, xs)
			if err != nil {
				return nil, fmt.Errorf("pi: argmax: %w", err)
			}
			next := make([]argmaxNode, 0, (len(nodes)+1)/2)
			for j := 0; j+1 < len(nodes); j += 2 {
				next = append(next, argmaxNode{nodes[j].lo, nodes[j+1].hi})
			}
			odd := len(nodes)%2 == 1
			if odd {
				next = append(next, nodes[len(nodes)-1])
			}
			q := 0
			for i := range n {
				nv := make([]uint64, 0, len(next))
				np := make([][]uint64, 0, len(next))
				for j := 0; j+1 < len(nodes); j += 2 {
					a, b := pay[i][j], pay[i][j+1]
					nv = append(nv, (v[i][j+1]+prod[q])&m)
					q++
					if oneHot {
						p := make([]uint64, 0, len(a)+len(b))
						p = append(p, prod[q:q+len(a)]...)
						q += len(a)
						for t, e := range b {
							p = append(p, (e-prod[q+t])&m)
						}
						q += len(b)
						np = append(np, p)
					} else {
						np = append(np, []uint64{(b[0] + prod[q]) & m})
						q++
					}
				}
				if odd {
					nv = append(nv, v[i][len(nodes)-1])
					np = append(np, pay[i][len(nodes)-1])
				}
				v[i], pay[i] = nv, np
			}
			nodes = next
		}
		for i := range n {
			p := pay[i][0]
			if !oneHot {
				out[i*k+r] = p[0]
				continue
			}
			var idx uint64
			for c, e := range p {
				idx += uint64(c) * e
				vals[i*classes+c] = (vals[i*classes+c] - e*knock) & m
			}
			out[i*k+r] = idx & m
		}
	}
	return out, nil
}

// decodeLabels turns the revealed indices (n·TopK values) into a tensor
// [n, TopK] of class numbers, refusing values outside the classes.
func (p *Public) decodeLabels(v []uint64, n int) (*tensor.Tensor, error) {
	if len(v) != n*p.TopK {
		return nil, fmt.Errorf("pi: %d labels revealed, want %d", len(v), n*p.TopK)
	}
	out := tensor.New(n, p.TopK)
	for i, x := range v {
		if x >= uint64(p.Classes) {
			return nil, fmt.Errorf("pi: revealed label %d of %d classes", int64(x), p.Classes)
		}
		out.Data[i] = float32(x)
	}
	return out, nil
}

// decodeResult decodes the revealed output: the logits [n, Classes], or
// in top-k mode the labels [n, TopK].
func (p *Public) decodeResult(v []uint64, n int) (*tensor.Tensor, error) {
	if p.TopK > 0 {
		return p.decodeLabels(v, n)
	}
	return p.DecodeOutput(v, n)
}

// The dealer suite's argmax primitives: the FSS DReLU gate and Beaver
// multiplication, over Z_2^64.

func (b *secureBackend) geq(label string, d []uint64) ([]uint64, error) {
	return fssgates.DReLU(b.s, b.src, label, d, b.pub.Ell)
}

func (b *secureBackend) mux(label string, bit, x []uint64) ([]uint64, error) {
	return b.s.Mul(b.src, label, bit, x)
}

func (b *secureBackend) ringMask() uint64 { return ^uint64(0) }

func (b *secureBackend) isServer() bool { return b.s.Party == mpc.Server }

// The two-party suite's argmax primitives: otgates.DReLU and
// otgates.Select over Z_2^ℓ (XOR-shared bits carried as 0/1 words).

func (b *twoPartyBackend) geq(label string, d []uint64) ([]uint64, error) {
	bits, err := b.gates.DReLU(d, b.ell)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(bits))
	for i, x := range bits {
		out[i] = uint64(x)
	}
	return out, nil
}

func (b *twoPartyBackend) mux(label string, bit, x []uint64) ([]uint64, error) {
	d := make([]uint8, len(bit))
	for i, x := range bit {
		if x > 1 {
			return nil, fmt.Errorf("pi: argmax select bit %d is %d", i, x)
		}
		d[i] = uint8(x)
	}
	return b.gates.Select(d, x, b.ell)
}

func (b *twoPartyBackend) ringMask() uint64 { return ^uint64(0) >> (64 - b.ell) }

func (b *twoPartyBackend) isServer() bool { return b.party == tpServer }

// runTopK runs the secure top-k on the logit shares y when the plan asks
// for it (else returns y), attributing its traffic and time to a layer
// "argmax" of the statistics.
func runTopK(g argmaxGates, conn transport.Conn, pub *Public, n int, y []uint64, st *statsRecorder) ([]uint64, error) {
	if pub.TopK == 0 {
		return y, nil
	}
	transport.SetLayer(conn, "argmax")
	t0 := time.Now()
	out, err := secureTopK(g, pub, n, y)
	if err != nil {
		return nil, err
	}
	t, on, off := st.since(st.last)
	st.last = t
	st.stats.Layers = append(st.stats.Layers, LayerStats{Name: "argmax", Op: "argmax", Bytes: on.Bytes(), Rounds: on.Rounds,
		OfflineBytes: off.Bytes(), OfflineRounds: off.Rounds, Time: time.Since(t0)})
	return out, nil
}
