package fss

import (
	"context"
	"fmt"

	"github.com/autorep/autorep/internal/bufpool"
	"github.com/autorep/autorep/ring"
)

// MaxPayload is the largest number of Z_2^64 payload words per DCF key.
const MaxPayload = 16

// dcfWords is the number of uint64 words of one DCF key with n input bits
// and g payload words:
//
//	[0:2]                 root seed (lo, hi); the two low bits of lo are zero
//	per level i < n:      seed correction (lo | tL<<1 | tR, hi), then g value corrections
//	last g words:         leaf correction
func dcfWords(n, g int) int { return 2 + n*(2+g) + g }

// genDCFWords writes the two parties' keys for f(x) = beta if x < alpha
// else 0 (x, alpha read as n-bit unsigned integers) into w0 and w1, which
// must have length dcfWords(n, len(beta)). s0, s1 are the root seeds.
//
// This is the DCF of Boyle et al. (Eurocrypt 2021, Fig. 1) with the
// "less-than" orientation used by LLAMA: walking the binary tree of the
// input from the most significant bit, the path of alpha carries seeds that
// differ between the parties; when x leaves the path to the left of alpha
// (x < alpha at that bit) the value corrections make the accumulated sum
// equal to beta, and from then on the parties' seeds and control bits are
// equal so their further contributions cancel.
func genDCFWords(n int, alpha uint64, beta []uint64, s0, s1 block, w0, w1 []uint64) {
	g := len(beta)
	if g <= maxFast {
		genDCFSmall(n, alpha, beta, s0, s1, w0, w1)
		return
	}
	var (
		s              = [2]block{{s0.lo & seedMask, s0.hi}, {s1.lo & seedMask, s1.hi}}
		t              = [2]uint64{0, 1}
		vAlpha         [MaxPayload]uint64
		vL, vR         [2][MaxPayload]uint64
		sL, sR         [2]block
		tL, tR         [2]uint64
		vKeep0, vKeep1 []uint64
		vLose0, vLose1 []uint64
		sKeep0, sKeep1 block
		sLose0, sLose1 block
		tKeep0, tKeep1 uint64
	)
	w0[0], w0[1] = s[0].lo, s[0].hi
	w1[0], w1[1] = s[1].lo, s[1].hi
	for i := 0; i < n; i++ {
		a := (alpha >> uint(n-1-i)) & 1
		for b := 0; b < 2; b++ {
			sL[b], tL[b] = seedOut(s[b], 0)
			sR[b], tR[b] = seedOut(s[b], 1)
			valOut(s[b], 0, vL[b][:g])
			valOut(s[b], 1, vR[b][:g])
		}
		if a == 0 { // keep left, lose right
			sKeep0, sKeep1, sLose0, sLose1 = sL[0], sL[1], sR[0], sR[1]
			tKeep0, tKeep1 = tL[0], tL[1]
			vKeep0, vKeep1, vLose0, vLose1 = vL[0][:g], vL[1][:g], vR[0][:g], vR[1][:g]
		} else {
			sKeep0, sKeep1, sLose0, sLose1 = sR[0], sR[1], sL[0], sL[1]
			tKeep0, tKeep1 = tR[0], tR[1]
			vKeep0, vKeep1, vLose0, vLose1 = vR[0][:g], vR[1][:g], vL[0][:g], vL[1][:g]
		}
		scw := block{sLose0.lo ^ sLose1.lo, sLose0.hi ^ sLose1.hi}
		tLcw := tL[0] ^ tL[1] ^ a ^ 1
		tRcw := tR[0] ^ tR[1] ^ a
		base := 2 + i*(2+g)
		w0[base] = scw.lo | tLcw<<1 | tRcw
		w0[base+1] = scw.hi
		for j := 0; j < g; j++ {
			v := vLose1[j] - vLose0[j] - vAlpha[j]
			if a == 1 { // x going left here means x < alpha
				v += beta[j]
			}
			if t[1] == 1 {
				v = -v
			}
			w0[base+2+j] = v
			// Accumulated (party 0 − party 1) value along alpha's path.
			if t[1] == 1 {
				vAlpha[j] += vKeep0[j] - vKeep1[j] - v
			} else {
				vAlpha[j] += vKeep0[j] - vKeep1[j] + v
			}
		}
		copy(w1[base:base+2+g], w0[base:base+2+g])
		tKeepCW := tLcw
		if a == 1 {
			tKeepCW = tRcw
		}
		prev := t
		s[0], s[1], t[0], t[1] = sKeep0, sKeep1, tKeep0, tKeep1
		for b := 0; b < 2; b++ {
			if prev[b] == 1 {
				s[b].lo ^= scw.lo
				s[b].hi ^= scw.hi
				t[b] ^= tKeepCW
			}
		}
	}
	var c0, c1 [MaxPayload]uint64
	valOut(s[0], 2, c0[:g])
	valOut(s[1], 2, c1[:g])
	base := 2 + n*(2+g)
	for j := 0; j < g; j++ {
		v := c1[j] - c0[j] - vAlpha[j]
		if t[1] == 1 {
			v = -v
		}
		w0[base+j] = v
		w1[base+j] = v
	}
}

// maxFast is the largest payload length with the interleaved fast paths
// (at most two value blocks per tree node).
const maxFast = 4

// valWord returns payload word j of the value blocks starting at bl[at].
func valWord(bl *[16]block, at, j int) uint64 {
	if j&1 == 0 {
		return bl[at+j>>1].lo
	}
	return bl[at+j>>1].hi
}

// genDCFSmall is genDCFWords for g ≤ maxFast: the same construction with
// all PRG blocks of a level (two parties × two directions × seed and
// values) computed by one interleaved AES call. Seed blocks sit at
// bl[2b+d] for party b, direction d; value blocks at bl[vo+vb·(2b+d)+j].
func genDCFSmall(n int, alpha uint64, beta []uint64, s0, s1 block, w0, w1 []uint64) {
	g := len(beta)
	vb := (g + 1) / 2 // value blocks per node
	vo := 4           // prg8 layout for one value block
	if vb == 2 {
		vo = 8 // prg16 layout
	}
	var be, va [maxFast]uint64 // payload, accumulated (party 0 − party 1) value on alpha's path
	copy(be[:], beta)
	sa, sb := block{s0.lo & seedMask, s0.hi}, block{s1.lo & seedMask, s1.hi}
	ta, tb := uint64(0), uint64(1)
	w0[0], w0[1] = sa.lo, sa.hi
	w1[0], w1[1] = sb.lo, sb.hi
	var bl [16]block
	for i := 0; i < n; i++ {
		a := (alpha >> uint(n-1-i)) & 1
		bl[0], bl[1], bl[2], bl[3] = sa, block{sa.lo ^ 1, sa.hi}, sb, block{sb.lo ^ 1, sb.hi}
		for node := range 4 {
			for j := range vb {
				bl[vo+vb*node+j] = block{bl[node].lo, bl[node].hi ^ uint64(j)}
			}
		}
		if vb == 1 {
			prg8((*[8]block)(bl[:8]))
		} else {
			prg16(&bl)
		}
		ia := int(a)
		keep0, lose0, keep1, lose1 := bl[ia], bl[1-ia], bl[2+ia], bl[3-ia]
		ik0, il0, ik1, il1 := vo+vb*ia, vo+vb*(1-ia), vo+vb*(2+ia), vo+vb*(3-ia)
		scw := block{(lose0.lo ^ lose1.lo) & seedMask, lose0.hi ^ lose1.hi}
		tLcw := bl[0].lo&1 ^ bl[2].lo&1 ^ a ^ 1
		tRcw := bl[1].lo&1 ^ bl[3].lo&1 ^ a
		base := 2 + i*(2+g)
		cw := scw.lo | tLcw<<1 | tRcw
		w0[base], w1[base] = cw, cw
		w0[base+1], w1[base+1] = scw.hi, scw.hi
		am, tm := -a, -tb
		for j := range g {
			// raw = (−1)^tb · V_CW; x going left here (a = 1) means x < alpha.
			raw := valWord(&bl, il1, j) - valWord(&bl, il0, j) - va[j] + be[j]&am
			va[j] += valWord(&bl, ik0, j) - valWord(&bl, ik1, j) + raw
			vcw := (raw ^ tm) + tb // branch-free conditional negation by (−1)^tb
			w0[base+2+j], w1[base+2+j] = vcw, vcw
		}
		tKeepCW := tLcw ^ (tLcw^tRcw)&a
		ma, mb := -ta, -tb
		sa = block{keep0.lo&seedMask ^ scw.lo&ma, keep0.hi ^ scw.hi&ma}
		sb = block{keep1.lo&seedMask ^ scw.lo&mb, keep1.hi ^ scw.hi&mb}
		ta, tb = keep0.lo&1^tKeepCW&ta, keep1.lo&1^tKeepCW&tb
	}
	var c0, c1 [maxFast]uint64
	valOut(sa, 2, c0[:g])
	valOut(sb, 2, c1[:g])
	fin := 2 + n*(2+g)
	for j := range g {
		v := c1[j] - c0[j] - va[j]
		if tb == 1 {
			v = -v
		}
		w0[fin+j], w1[fin+j] = v, v
	}
}

// word24 returns payload word j of the value blocks starting at bl[at].
func word24(bl *[24]block, at, j int) uint64 {
	if j&1 == 0 {
		return bl[at+j>>1].lo
	}
	return bl[at+j>>1].hi
}

// pairKey is the state of one key of genDCFPair along alpha's path.
type pairKey struct {
	sa, sb block     // party 0's and party 1's seeds
	ta, tb uint64    // their control bits
	va     [4]uint64 // accumulated (party 0 − party 1) value
	be     [4]uint64 // payload
	alpha  uint64
}

// level writes the correction words of one tree level (bit a of alpha)
// to x0 and x1 (2+g words each) from the PRG outputs of the key's four
// nodes: seeds sd[2b+d], value blocks v[2(2b+d)+j] for party b, direction
// d; g = len(x0) − 2 is 3 or 4. Selections are branch-free (keep = the
// child on alpha's path).
func (k *pairKey) level(sd *[4]block, v *[8]block, a uint64, x0, x1 []uint64) {
	g := len(x0) - 2
	am := -a
	keep0 := block{sd[0].lo ^ (sd[0].lo^sd[1].lo)&am, sd[0].hi ^ (sd[0].hi^sd[1].hi)&am}
	lose0 := block{sd[1].lo ^ (sd[0].lo^sd[1].lo)&am, sd[1].hi ^ (sd[0].hi^sd[1].hi)&am}
	keep1 := block{sd[2].lo ^ (sd[2].lo^sd[3].lo)&am, sd[2].hi ^ (sd[2].hi^sd[3].hi)&am}
	lose1 := block{sd[3].lo ^ (sd[2].lo^sd[3].lo)&am, sd[3].hi ^ (sd[2].hi^sd[3].hi)&am}
	scw := block{(lose0.lo ^ lose1.lo) & seedMask, lose0.hi ^ lose1.hi}
	tLcw := sd[0].lo&1 ^ sd[2].lo&1 ^ a ^ 1
	tRcw := sd[1].lo&1 ^ sd[3].lo&1 ^ a
	cw := scw.lo | tLcw<<1 | tRcw
	x0[0], x1[0] = cw, cw
	x0[1], x1[1] = scw.hi, scw.hi
	// Payload word j of node (b, d) is word j&1 of value block v[2(2b+d)+j>>1].
	tb := k.tb
	tm := -tb
	c := k.vcw(0, v[0].lo, v[2].lo, v[4].lo, v[6].lo, am, tm, tb)
	x0[2], x1[2] = c, c
	c = k.vcw(1, v[0].hi, v[2].hi, v[4].hi, v[6].hi, am, tm, tb)
	x0[3], x1[3] = c, c
	c = k.vcw(2, v[1].lo, v[3].lo, v[5].lo, v[7].lo, am, tm, tb)
	x0[4], x1[4] = c, c
	if g == 4 {
		c = k.vcw(3, v[1].hi, v[3].hi, v[5].hi, v[7].hi, am, tm, tb)
		x0[5], x1[5] = c, c
	}
	tKeepCW := tLcw ^ (tLcw^tRcw)&a
	ma, mb := -k.ta, -tb
	k.sa = block{keep0.lo&seedMask ^ scw.lo&ma, keep0.hi ^ scw.hi&ma}
	k.sb = block{keep1.lo&seedMask ^ scw.lo&mb, keep1.hi ^ scw.hi&mb}
	k.ta, k.tb = keep0.lo&1^tKeepCW&k.ta, keep1.lo&1^tKeepCW&tb
}

// vcw returns the value correction word of payload word j from that word
// of the four nodes' value outputs (party 0 left/right l0, r0, party 1
// l1, r1) and updates the path accumulator; am is all ones when alpha's
// bit is 1 (keep right), tm = −tb.
func (k *pairKey) vcw(j int, l0, r0, l1, r1, am, tm, tb uint64) uint64 {
	d0, d1 := (l0^r0)&am, (l1^r1)&am
	// raw = (−1)^tb · V_CW; x going left here (a = 1) means x < alpha.
	raw := (r1 ^ d1) - (r0 ^ d0) - k.va[j] + k.be[j]&am
	k.va[j] += (l0 ^ d0) - (l1 ^ d1) + raw
	return (raw ^ tm) + tb // branch-free conditional negation by (−1)^tb
}

// nodes writes the PRG inputs of the key's four nodes: seed blocks to sd,
// value blocks to v (layout of level).
func (k *pairKey) nodes(sd *[4]block, v *[8]block) {
	a, b := k.sa, k.sb
	sd[0], sd[1], sd[2], sd[3] = a, block{a.lo ^ 1, a.hi}, b, block{b.lo ^ 1, b.hi}
	v[0], v[1] = a, block{a.lo, a.hi ^ 1}
	v[2], v[3] = sd[1], block{a.lo ^ 1, a.hi ^ 1}
	v[4], v[5] = b, block{b.lo, b.hi ^ 1}
	v[6], v[7] = sd[3], block{b.lo ^ 1, b.hi ^ 1}
}

// genDCFPair is genDCFSmall for two keys with 3-4 payload words, built in
// lockstep: one prg24 call per level serves both trees (seed blocks of key
// q at bl[4q:4q+4], its value blocks at bl[8+8q:16+8q]), so the AES
// latency of one key's level overlaps with the other key's instead of
// stalling a single chain. Output is identical to two genDCFSmall calls.
func genDCFPair(n int, alpha [2]uint64, beta [2][]uint64, s0, s1 [2]block, w0, w1 [2][]uint64) {
	g := len(beta[0])
	var ks [2]pairKey
	var bl [24]block
	sd0, sd1 := (*[4]block)(bl[0:4]), (*[4]block)(bl[4:8])
	v0, v1 := (*[8]block)(bl[8:16]), (*[8]block)(bl[16:24])
	for q := range 2 {
		k := &ks[q]
		copy(k.be[:], beta[q])
		k.alpha = alpha[q]
		k.sa, k.sb = block{s0[q].lo & seedMask, s0[q].hi}, block{s1[q].lo & seedMask, s1[q].hi}
		k.tb = 1
		w0[q][0], w0[q][1] = k.sa.lo, k.sa.hi
		w1[q][0], w1[q][1] = k.sb.lo, k.sb.hi
	}
	a, b := &ks[0], &ks[1]
	for i := 0; i < n; i++ {
		a.nodes(sd0, v0)
		b.nodes(sd1, v1)
		prg24(&bl)
		sh := uint(n - 1 - i)
		lo, hi := 2+i*(2+g), 4+i*(2+g)+g
		a.level(sd0, v0, (a.alpha>>sh)&1, w0[0][lo:hi], w1[0][lo:hi])
		b.level(sd1, v1, (b.alpha>>sh)&1, w0[1][lo:hi], w1[1][lo:hi])
	}
	// Leaf corrections: one prg24 call for both keys' value blocks
	// (direction tweak 2; the seed slots are unused).
	for q := range 2 {
		v := (*[8]block)(bl[8+8*q : 16+8*q])
		sa, sb := ks[q].sa, ks[q].sb
		v[0], v[1] = block{sa.lo ^ 2, sa.hi}, block{sa.lo ^ 2, sa.hi ^ 1}
		v[2], v[3] = block{sb.lo ^ 2, sb.hi}, block{sb.lo ^ 2, sb.hi ^ 1}
	}
	prg24(&bl)
	fin := 2 + n*(2+g)
	for q := range 2 {
		k := &ks[q]
		for j := range g {
			v := word24(&bl, 8+8*q+2, j) - word24(&bl, 8+8*q, j) - k.va[j]
			if k.tb == 1 {
				v = -v
			}
			w0[q][fin+j], w1[q][fin+j] = v, v
		}
	}
}

// evalDCFWords evaluates one party's key w (n input bits, len(out) payload
// words) at the low n bits of x and writes that party's additive share of
// f(x) to out.
func evalDCFWords(party int, n int, w []uint64, x uint64, out []uint64) {
	g := len(out)
	var acc, v [MaxPayload]uint64
	s := block{w[0] & seedMask, w[1]}
	t := uint64(party & 1)
	for i := 0; i < n; i++ {
		d := (x >> uint(n-1-i)) & 1
		base := 2 + i*(2+g)
		so, to := seedOut(s, d)
		valOut(s, d, v[:g])
		if t == 1 {
			cw := w[base]
			so.lo ^= cw & seedMask
			so.hi ^= w[base+1]
			to ^= (cw >> (1 - d)) & 1
			vcw := w[base+2 : base+2+g]
			for j := range g {
				acc[j] += v[j] + vcw[j]
			}
		} else {
			for j := range g {
				acc[j] += v[j]
			}
		}
		s, t = so, to
	}
	valOut(s, 2, v[:g])
	fin := w[2+n*(2+g) : 2+n*(2+g)+g]
	for j := range g {
		acc[j] += v[j] + t*fin[j]
	}
	if party == 1 {
		for j := range g {
			out[j] = -acc[j]
		}
	} else {
		copy(out, acc[:g])
	}
}

// evalDCFMany evaluates the DCF keys w[i*st+off:] (n input bits, g
// payload words) at x[i] for every i and writes the shares to out[i*g:].
// With g ≤ maxFast, groups of keys are evaluated in lockstep by
// evalDCFLanes (lanes keys for g ≤ 2, four for g ≤ 4) or, for g of 3-4
// with eight lanes, evalDCFLanes8.
func evalDCFMany(party, n, g int, w []uint64, st, off int, x, out []uint64) {
	i := 0
	if g > 2 && g <= maxFast && lanes == 8 {
		for ; i+8 <= len(x); i += 8 {
			evalDCFLanes8(party, n, g, w[i*st+off:], st, x[i:i+8], out[i*g:(i+8)*g])
		}
	}
	if g <= maxFast {
		L := lanes
		if g > 2 {
			L = 4
		}
		for ; i+L <= len(x); i += L {
			evalDCFLanes(party, n, g, w[i*st+off:], st, x[i:i+L], out[i*g:(i+L)*g])
		}
	}
	dw := dcfWords(n, g)
	for ; i < len(x); i++ {
		evalDCFWords(party, n, w[i*st+off:i*st+off+dw], x[i], out[i*g:(i+1)*g])
	}
}

// evalDCFLanes is evalDCFWords for L = len(x) keys (at w[0:], w[st:], ...)
// in lockstep, so each tree level is one interleaved AES call: L ∈ {4, 8}
// for g ≤ 2 and L = 4 for g ≤ 4. Seed blocks sit at bl[k], value blocks at
// bl[vo+vb·k+j].
func evalDCFLanes(party, n, g int, w []uint64, st int, x, out []uint64) {
	L := len(x)
	vb := (g + 1) / 2
	wide := L == 8 || vb == 2 // sixteen-block layout and prg16
	vo := L
	if wide {
		vo = 8
	}
	var (
		s   [8]block
		t   [8]uint64
		acc [8][maxFast]uint64
		bl  [16]block
	)
	for k := range L {
		s[k] = block{w[k*st] & seedMask, w[k*st+1]}
		t[k] = uint64(party & 1)
	}
	for i := 0; i < n; i++ {
		sh := uint(n - 1 - i)
		base := 2 + i*(2+g)
		for k := range L {
			d := (x[k] >> sh) & 1
			bl[k] = block{s[k].lo ^ d, s[k].hi}
			for j := range vb {
				bl[vo+vb*k+j] = block{s[k].lo ^ d, s[k].hi ^ uint64(j)}
			}
		}
		if wide {
			prg16(&bl)
		} else {
			prg8((*[8]block)(bl[:8]))
		}
		for k := range L {
			cw := w[k*st+base : k*st+base+2+g]
			m := -t[k] // all ones when the control bit is set: apply the corrections
			s[k], t[k] = stepSeed(bl[k], cw[0], cw[1], m, (x[k]>>sh)&1)
			for j := range g {
				acc[k][j] += valWord(&bl, vo+vb*k, j) + cw[2+j]&m
			}
		}
	}
	for k := range L {
		bl[k] = block{}
		for j := range vb {
			bl[vo+vb*k+j] = block{s[k].lo ^ 2, s[k].hi ^ uint64(j)}
		}
	}
	if wide {
		prg16(&bl)
	} else {
		prg8((*[8]block)(bl[:8]))
	}
	fin := 2 + n*(2+g)
	for k := range L {
		f := w[k*st+fin : k*st+fin+g]
		for j := range g {
			v := acc[k][j] + valWord(&bl, vo+vb*k, j) + t[k]*f[j]
			if party == 1 {
				v = -v
			}
			out[k*g+j] = v
		}
	}
}

// stepSeed turns the seed-PRG output o of direction d into the next seed
// and control bit, applying the level's correction words cw0, cw1 where m
// is all ones (the control bit was set).
func stepSeed(o block, cw0, cw1, m, d uint64) (block, uint64) {
	return block{o.lo&seedMask ^ cw0&seedMask&m, o.hi ^ cw1&m}, o.lo&1 ^ (cw0>>(1-d))&1&m
}

// evalDCFLanes8 is evalDCFLanes for eight keys with 3-4 payload words:
// seed blocks at bl[k], value blocks at bl[8+2k+j], one prg24 call per
// level.
func evalDCFLanes8(party, n, g int, w []uint64, st int, x, out []uint64) {
	var (
		s   [8]block
		t   [8]uint64
		acc [8][maxFast]uint64
		bl  [24]block
	)
	x = x[:8]
	for k := range 8 {
		s[k] = block{w[k*st] & seedMask, w[k*st+1]}
		t[k] = uint64(party & 1)
	}
	for i := 0; i < n; i++ {
		sh := uint(n - 1 - i)
		base := 2 + i*(2+g)
		for k := range 8 {
			in := block{s[k].lo ^ (x[k]>>sh)&1, s[k].hi}
			bl[k], bl[8+2*k], bl[9+2*k] = in, in, block{in.lo, in.hi ^ 1}
		}
		prg24(&bl)
		for k := range 8 {
			cw := w[k*st+base : k*st+base+2+g]
			m := -t[k] // all ones when the control bit is set: apply the corrections
			s[k], t[k] = stepSeed(bl[k], cw[0], cw[1], m, (x[k]>>sh)&1)
			v0, v1 := bl[8+2*k], bl[9+2*k]
			a := &acc[k]
			a[0] += v0.lo + cw[2]&m
			a[1] += v0.hi + cw[3]&m
			a[2] += v1.lo + cw[4]&m
			if g == 4 {
				a[3] += v1.hi + cw[5]&m
			}
		}
	}
	for k := range 8 {
		bl[8+2*k], bl[9+2*k] = block{s[k].lo ^ 2, s[k].hi}, block{s[k].lo ^ 2, s[k].hi ^ 1}
	}
	prg24(&bl)
	fin := 2 + n*(2+g)
	for k := range 8 {
		f := w[k*st+fin : k*st+fin+g]
		for j := range g {
			v := acc[k][j] + word24(&bl, 8+2*k, j) + t[k]*f[j]
			if party == 1 {
				v = -v
			}
			out[k*g+j] = v
		}
	}
}

// DCFKeys is one party's batch of distributed comparison function keys,
// all with the same input width and payload length. Key i encodes
//
//	f_i(x) = beta_i  if x < alpha_i  else 0      (unsigned n-bit comparison, strict)
//
// with beta_i ∈ (Z_2^64)^g; evaluating party 0's and party 1's keys at the
// same x gives additive shares of f_i(x) over Z_2^64. A single key reveals
// nothing about alpha_i or beta_i (it is pseudo-random under the fixed-key
// AES assumption).
type DCFKeys struct {
	party int
	n, g  int
	m     int
	w     []uint64 // m keys of dcfWords(n, g) words each
}

// Party is the party (0 or 1) the keys belong to.
func (k *DCFKeys) Party() int { return k.party }

// Release hands the keys' memory back for reuse (bufpool.PutWords) once they
// have been evaluated or sent; k is empty afterwards and nothing may use
// the keys' words (or a buffer they were decoded from in place) again.
func (k *DCFKeys) Release() {
	bufpool.PutWords(k.w)
	k.w, k.m = nil, 0
}

// Bits is the input width n in bits.
func (k *DCFKeys) Bits() int { return k.n }

// Payload is the number of Z_2^64 payload words g per key.
func (k *DCFKeys) Payload() int { return k.g }

// Len is the number of keys in the batch.
func (k *DCFKeys) Len() int { return k.m }

// KeyBytes is the size in bytes of one key (excluding the batch header).
func (k *DCFKeys) KeyBytes() int { return DCFKeyBytes(k.n, k.g) }

// DCFKeyBytes is the size in bytes of one DCF key with n input bits and g
// payload words: 16 + n·(16 + 8g) + 8g.
func DCFKeyBytes(n, g int) int { return 8 * dcfWords(n, g) }

func checkDCFParams(n, g int) error {
	if n < 1 || n > 64 {
		return fmt.Errorf("fss: DCF input width %d bits outside [1, 64]", n)
	}
	if g < 1 || g > MaxPayload {
		return fmt.Errorf("fss: DCF payload length %d outside [1, %d]", g, MaxPayload)
	}
	return nil
}

// GenDCF generates key batches for the comparison functions
// f_i(x) = beta[i*g:(i+1)*g] if x < alpha[i] else 0 over n-bit unsigned
// inputs (1 ≤ n ≤ 64, 1 ≤ g ≤ MaxPayload). Root seeds are drawn from prg;
// key generation runs on all CPUs. Every alpha[i] must be below 2^n and
// len(beta) must be g·len(alpha).
func GenDCF(prg *ring.PRG, n, g int, alpha, beta []uint64) (k0, k1 *DCFKeys, err error) {
	return GenDCFContext(context.Background(), prg, n, g, alpha, beta)
}

// GenDCFContext is GenDCF stopping with ctx's error once ctx ends (see
// GenContext); the keys of a completed generation are GenDCF's.
func GenDCFContext(ctx context.Context, prg *ring.PRG, n, g int, alpha, beta []uint64) (k0, k1 *DCFKeys, err error) {
	if prg == nil {
		return nil, nil, fmt.Errorf("fss: GenDCF: nil PRG")
	}
	if err := checkDCFParams(n, g); err != nil {
		return nil, nil, err
	}
	if len(beta) != g*len(alpha) {
		return nil, nil, fmt.Errorf("fss: GenDCF: %d payload words for %d keys of %d words", len(beta), len(alpha), g)
	}
	for i, a := range alpha {
		if n < 64 && a>>uint(n) != 0 {
			return nil, nil, fmt.Errorf("fss: GenDCF: alpha[%d] = %d does not fit in %d bits", i, a, n)
		}
	}
	m := len(alpha)
	// Every seed and every word of every key is written below, so
	// recycled buffers need no clearing; none is allocated, nor cleared
	// by the runtime, after ctx ends (getWords).
	seeds, err := getWords(ctx, 4*m)
	if err != nil {
		return nil, nil, err
	}
	defer bufpool.PutWords(seeds)
	if err := randomWords(ctx, prg, seeds); err != nil {
		return nil, nil, err
	}
	stride := dcfWords(n, g)
	k0 = &DCFKeys{party: 0, n: n, g: g, m: m}
	k1 = &DCFKeys{party: 1, n: n, g: g, m: m}
	if k0.w, err = getWords(ctx, m*stride); err != nil {
		return nil, nil, err
	}
	if k1.w, err = getWords(ctx, m*stride); err != nil {
		k0.Release()
		return nil, nil, err
	}
	err = parallelCtx(ctx, m, func(lo, hi int) {
		i := lo
		if g > 2 && g <= maxFast { // two keys in lockstep
			for ; i+2 <= hi; i += 2 {
				sd := seeds[4*i : 4*i+8]
				genDCFPair(n, [2]uint64{alpha[i], alpha[i+1]}, [2][]uint64{beta[i*g : (i+1)*g], beta[(i+1)*g : (i+2)*g]},
					[2]block{{sd[0], sd[1]}, {sd[4], sd[5]}}, [2]block{{sd[2], sd[3]}, {sd[6], sd[7]}},
					[2][]uint64{k0.w[i*stride : (i+1)*stride], k0.w[(i+1)*stride : (i+2)*stride]},
					[2][]uint64{k1.w[i*stride : (i+1)*stride], k1.w[(i+1)*stride : (i+2)*stride]})
			}
		}
		for ; i < hi; i++ {
			sd := seeds[4*i : 4*i+4]
			genDCFWords(n, alpha[i], beta[i*g:(i+1)*g], block{sd[0], sd[1]}, block{sd[2], sd[3]},
				k0.w[i*stride:(i+1)*stride], k1.w[i*stride:(i+1)*stride])
		}
	})
	if err != nil {
		k0.Release()
		k1.Release()
		return nil, nil, err
	}
	return k0, k1, nil
}

// EvalDCF evaluates key i of the batch at the low n bits of x[i] and returns
// party's shares, g words per key (key i at [i*g:(i+1)*g]). len(x) must equal
// k.Len() and party must be the keys' party.
func EvalDCF(party int, k *DCFKeys, x []uint64) ([]uint64, error) {
	if k == nil {
		return nil, fmt.Errorf("fss: EvalDCF: nil keys")
	}
	if party != k.party {
		return nil, fmt.Errorf("fss: EvalDCF: party %d evaluating party %d's keys", party, k.party)
	}
	if len(x) != k.m {
		return nil, fmt.Errorf("fss: EvalDCF: %d inputs for %d keys", len(x), k.m)
	}
	out := make([]uint64, k.m*k.g)
	stride := dcfWords(k.n, k.g)
	parallel(k.m, func(lo, hi int) {
		evalDCFMany(party, k.n, k.g, k.w[lo*stride:], stride, 0, x[lo:hi], out[lo*k.g:hi*k.g])
	})
	return out, nil
}
