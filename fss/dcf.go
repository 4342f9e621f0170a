package fss

import (
	"fmt"

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
// evalDCFLanes (lanes keys for g ≤ 2, four for g ≤ 4).
func evalDCFMany(party, n, g int, w []uint64, st, off int, x, out []uint64) {
	i := 0
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
			d := (x[k] >> sh) & 1
			o := bl[k]
			s[k] = block{o.lo&seedMask ^ cw[0]&seedMask&m, o.hi ^ cw[1]&m}
			t[k] = o.lo&1 ^ (cw[0]>>(1-d))&1&m
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
	seeds := make([]uint64, 4*m)
	prg.Uint64s(seeds)
	stride := dcfWords(n, g)
	k0 = &DCFKeys{party: 0, n: n, g: g, m: m, w: make([]uint64, m*stride)}
	k1 = &DCFKeys{party: 1, n: n, g: g, m: m, w: make([]uint64, m*stride)}
	parallel(m, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			sd := seeds[4*i : 4*i+4]
			genDCFWords(n, alpha[i], beta[i*g:(i+1)*g], block{sd[0], sd[1]}, block{sd[2], sd[3]},
				k0.w[i*stride:(i+1)*stride], k1.w[i*stride:(i+1)*stride])
		}
	})
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
