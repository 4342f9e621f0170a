package ot

import (
	"encoding/binary"
	"fmt"
)

// Single- and multi-point correlated OT for Ferret (ferret.go), after
// Yang, Weng, Lan, Zhang and Wang, "Ferret: Fast Extension for coRRElated
// oT with small communication", CCS 2020, §3 (semi-honest: no consistency
// check; a malicious sender could puncture a tree inconsistently).
//
// SPCOT of a tree of depth h: the sender expands a random seed into the
// 2^h leaves v_j of a GGM tree whose PRG is G(x) = (π(x) ⊕ x,
// π(x ⊕ 1) ⊕ x ⊕ 1), π the fixed-key AES of hash.go: in the ideal-
// permutation model each child is pseudo-random while x stays unqueried,
// which the receiver never learns for the nodes on its path. For level
// l < h let K_0^l, K_1^l be the XOR of the left and of the right nodes of
// level l+1. Level l uses one COT (q_l, t_l = q_l ⊕ b_l·Δ) with the
// receiver's random choice b_l; the receiver's punctured leaf α has bit
// α_l = 1 − b_l (most significant first), so it needs no choice message.
// The sender sends c_l^b = K_b^l ⊕ H(w_l, q_l ⊕ b·Δ) for b = 0, 1 and
// c = Δ ⊕ ⊕_j v_j; the receiver learns K_{b_l}^l = c_l^{b_l} ⊕ H(w_l, t_l),
// the sum of the off-path side, which with the nodes it already expanded
// gives the off-path sibling at every level, hence every v_j for j ≠ α,
// and w_α = c ⊕ ⊕_{j≠α} v_j = v_α ⊕ Δ. So the receiver holds
// w_j = v_j ⊕ [j = α]·Δ: a COT of the unit vector e_α with the same
// global Δ. H is the TCCR hash with a tweak w_l used once per COT
// (ferretTweak), so the masked K_{1−b_l}^l is pseudo-random to the
// receiver exactly as in the extension's chosen-message OT.
//
// MPCOT with regular noise: t trees of depth h over consecutive bins of
// 2^h positions, one punctured point per bin (n = t·2^h outputs from t·h
// COTs and t·(2h+1) blocks of message).

// ggmRight is XORed into a node to make its right child's input.
var ggmRight = Block{Lo: 1}

// ggmLevel expands the m nodes of nodes[:m] into the 2m children in
// nodes[:2m] (node i's children at 2i, 2i+1) through in (len ≥ 2m).
func ggmLevel(nodes, in []Block, m int) {
	for i := range m {
		in[2*i], in[2*i+1] = nodes[i], nodes[i].Xor(ggmRight)
	}
	permBlocks(nodes[:2*m], in[:2*m])
	for i := range 2 * m {
		nodes[i] = nodes[i].Xor(in[i])
	}
}

// ggmExpand expands seed into the len(leaves) = 2^h leaves of a GGM tree
// (h = len(k0)) and sets k0[l], k1[l] to the XOR of the left and of the
// right nodes of level l+1. tmp is scratch.
func ggmExpand(seed Block, leaves, k0, k1 []Block, tmp *[]Block) {
	in := grow(tmp, len(leaves))
	leaves[0] = seed
	for l := range k0 {
		m := 1 << l
		ggmLevel(leaves, in, m)
		var a, b Block
		for i := 0; i < 2*m; i += 2 {
			a, b = a.Xor(leaves[i]), b.Xor(leaves[i+1])
		}
		k0[l], k1[l] = a, b
	}
}

// ggmPuncture rebuilds every leaf of the sender's tree but leaf alpha
// (set to zero) from kn[l] = K^l_{1−α_l}, the XOR of the level-(l+1)
// nodes off alpha's side (h = len(kn), len(leaves) = 2^h).
func ggmPuncture(alpha int, kn, leaves []Block, tmp *[]Block) {
	h := len(kn)
	in := grow(tmp, len(leaves))
	leaves[0] = Block{}
	p := 0 // alpha's ancestor at level l
	for l := range h {
		m := 1 << l
		ggmLevel(leaves, in, m) // the path node's children come out garbage
		a := alpha >> (h - 1 - l) & 1
		on, sib := 2*p+a, 2*p+1-a
		sum := kn[l]
		for i := 1 - a; i < 2*m; i += 2 {
			if i != sib {
				sum = sum.Xor(leaves[i])
			}
		}
		leaves[sib], leaves[on] = sum, Block{}
		p = on
	}
}

// ferretTweak is the TCCR tweak of Ferret's COT number i: its high word
// keeps it apart from the extension's row indices (high word 0) and the
// 1-of-N tree tweaks (small high words).
func ferretTweak(i uint64) Block { return Block{i, 1 << 63} }

// mpcotMsgBytes is the sender's MPCOT message for t trees of depth h.
func mpcotMsgBytes(t, h int) int { return t * (2*h + 1) * 16 }

// mpcotSend runs the sender's side of t = len(seeds) trees of depth h:
// it writes the leaves of tree i to out[i·2^h:(i+1)·2^h] and returns the
// message. q holds the sender's t·h COTs (tree i's levels at i·h…),
// tweaks counted from tw.
func mpcotSend(delta Block, q []Block, seeds []Block, h int, tw uint64, out []Block, sc *ferretScratch) []byte {
	t := len(seeds)
	bin := 1 << h
	k0, k1 := grow(&sc.k0, t*h), grow(&sc.k1, t*h)
	msg := grow(&sc.msg, mpcotMsgBytes(t, h))
	for i, sd := range seeds {
		leaves := out[i*bin : (i+1)*bin]
		ggmExpand(sd, leaves, k0[i*h:(i+1)*h], k1[i*h:(i+1)*h], &sc.tmp)
		sum := delta
		for _, v := range leaves {
			sum = sum.Xor(v)
		}
		putBlock(msg[(t*2*h+i)*16:], sum)
	}
	// The level masks, hashed in one batch per side.
	tws := grow(&sc.tw, t*h)
	for j := range tws {
		tws[j] = ferretTweak(tw + uint64(j))
	}
	x := grow(&sc.x, t*h)
	for b := range 2 {
		for j := range x {
			x[j] = q[j]
			if b == 1 {
				x[j] = x[j].Xor(delta)
			}
		}
		tccrBlocks(x, x, tws, &sc.tmp2)
		k := k0
		if b == 1 {
			k = k1
		}
		for j := range x {
			putBlock(msg[(2*j+b)*16:], k[j].Xor(x[j]))
		}
	}
	return msg
}

// mpcotRecv is the receiver's side of mpcotSend: from its COTs (r, with
// choice bits b) it sets out to the sender's leaves except that leaf α_i
// of tree i is v ⊕ Δ, and returns the α_i (positions within each bin).
func mpcotRecv(r []Block, b []byte, t, h int, tw uint64, msg []byte, out []Block, sc *ferretScratch) ([]int, error) {
	if len(msg) != mpcotMsgBytes(t, h) {
		return nil, fmt.Errorf("ot: ferret tree message has %d bytes, want %d", len(msg), mpcotMsgBytes(t, h))
	}
	bin := 1 << h
	tws := grow(&sc.tw, t*h)
	for j := range tws {
		tws[j] = ferretTweak(tw + uint64(j))
	}
	x := grow(&sc.x, t*h)
	tccrBlocks(x, r[:t*h], tws, &sc.tmp2)
	alphas := make([]int, t)
	for i := range t {
		alpha := 0
		kn := grow(&sc.k0, h)
		for l := range h {
			j := i*h + l
			alpha = alpha<<1 | int(1-b[j])
			kn[l] = getBlock(msg[(2*j+int(b[j]))*16:]).Xor(x[j])
		}
		leaves := out[i*bin : (i+1)*bin]
		ggmPuncture(alpha, kn, leaves, &sc.tmp)
		sum := getBlock(msg[(t*2*h+i)*16:])
		for _, v := range leaves {
			sum = sum.Xor(v)
		}
		leaves[alpha] = sum
		alphas[i] = alpha
	}
	return alphas, nil
}

func putBlock(b []byte, x Block) {
	binary.LittleEndian.PutUint64(b, x.Lo)
	binary.LittleEndian.PutUint64(b[8:], x.Hi)
}

func getBlock(b []byte) Block {
	return Block{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])}
}

// ferretScratch holds one Ferret side's working buffers.
type ferretScratch struct {
	k0, k1, tw, x, tmp, tmp2 []Block
	msg                      []byte
	idx                      []uint64
}
