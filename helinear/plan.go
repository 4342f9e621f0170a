package helinear

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/autorep/autorep/ring"
)

// entry places element idx of a tensor at coefficient coef of a polynomial.
type entry struct{ coef, idx int32 }

// term is one product of an output polynomial: input polynomial in times
// weight polynomial w.
type term struct{ in, w int }

// outPoly is one output polynomial: the sum of its terms' products, whose
// coefficients targets[i].coef hold output elements targets[i].idx.
type outPoly struct {
	terms   []term
	targets []entry
}

// plan is the coefficient encoding of one image's linear layer, shared by
// both parties: which input elements go in which client polynomial,
// which weights in which server polynomial, and where the outputs land.
// A batch repeats it per image with offsets xLen and yLen.
type plan struct {
	ins        [][]entry // input polynomial → (coefficient, x index)
	ws         [][]entry // weight polynomial → (coefficient, w index)
	outs       []outPoly
	xLen, yLen int // per image
	wLen       int
	floodBits  int    // F = 2^(floodBits−1)
	lv         *level // the modulus the layer runs at
	// packLog is k: the answers (all images of a batch in turn) are
	// packed 2^k to a ciphertext; every target lies in the class
	// 2^k − 1 mod 2^k (galois.go).
	packLog int
}

// Conv plans a 2-D convolution. A stride (s_h, s_w) is either kept (the
// products compute stride-1 outputs and the answers carry those on the
// stride grid) or removed by the polyphase decomposition, whichever sends
// fewer bits: input phase (a, b) of channel c is
// x[c][s_h·i + a][s_w·j + b] (padded coordinates), its kernel phase
// w[k][c][s_h·l + a][s_w·l' + b], and the strided convolution is the sum
// over phases of stride-1 convolutions of kernel ⌈R/s_h⌉×⌈S/s_w⌉; phases
// whose kernel is empty (a ≥ R or b ≥ S, e.g. all but one for a strided
// 1×1 convolution) are dropped. The resulting convolution of C'
// channels is cut into tiles of C_b channels × H_b × W_b positions with
// C_b·H_b·W_b ≤ N, overlapping by R'−1 rows and S'−1 columns. Channels
// are minor: input coefficient c + C_b·(i·W_b + j) holds channel c at
// (r0+i, c0+j); the weight of output channel k is placed at O − (c +
// C_b·(l·W_b + l')) with O = C_b·((R'−1)·W_b + S'−1) + C_b − 1, so
// coefficient O + C_b·(i·W_b + j) of the product is the output at (r0+i,
// c0+j): a product lands on a multiple of C_b plus O only when its
// channels match (|c − c'| < C_b), and then only from the right window
// (j + l' < W_b), and products of degree ≥ N wrap to degrees below O.
// Every output is ≡ C_b − 1 mod C_b, so answers pack 2^k to a ciphertext
// for 2^k | C_b (galois.go).
// M_b > 1 output channels share a weight polynomial at offsets m·D, D =
// C_b·H_b·W_b, when M_b·D ≤ N: kernel m's product spans degrees [m·D,
// m·D + O + D) and its outputs [m·D + O, m·D + D + O − (D − last output
// offset)], so the products of other kernels overlap only its non-output
// coefficients (the part of kernel m−1's product above m·D + O − 1 is
// empty, kernel m+1's starts after kernel m's last output), and what
// wraps past N lands below O, under no output. The tile shape, C_b, M_b
// and k minimise the bits sent: Σ log q_i of the layer's level (which
// depends on the weights summed per answer, and must hold Q″ when k ≥ 1)
// per client polynomial (one per tile and channel block), Σ_{i<k'} log
// q_i per packed answer (2^k answers, one per tile and output-channel
// block; its c0 only at the outputs).
func newPlanConv(p ring.ConvParams, pr *Params) (*plan, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("helinear: %w", err)
	}
	if p.N < 1 {
		return nil, fmt.Errorf("helinear: conv batch %d", p.N)
	}
	p = p.Norm()
	if int64(p.C)*int64(p.H)*int64(p.W) > math.MaxInt32 || int64(p.WLen()) > math.MaxInt32 || int64(p.K)*int64(p.OutH())*int64(p.OutW()) > math.MaxInt32 {
		return nil, fmt.Errorf("helinear: conv %+v too large", p)
	}
	cg, kg := p.C/p.Groups, p.K/p.Groups
	oh, ow := p.OutH(), p.OutW()
	if p.R*p.S > N {
		return nil, fmt.Errorf("helinear: kernel %d×%d larger than N = %d", p.R, p.S, N)
	}
	// Bits per answer (c1; c0 at the outputs is small beside it) and per
	// client polynomial (its level's, by the weights summed per answer).
	down := 0
	for i := range pr.ReplyPrimes {
		down += int(pr.width(i))
	}
	upBits := map[[2]int]int{}
	up := func(l, k int) int {
		if b, ok := upBits[[2]int{l, k}]; ok {
			return b
		}
		b := math.MaxInt / 4 // no level holds the noise
		if lv, _, err := pr.fit(l, k); err == nil {
			b = 0
			for i := range lv.q {
				b += int(lv.width(i))
			}
		}
		upBits[[2]int{l, k}] = b
		return b
	}
	// Try the decomposition factor f = 1 (stride-1 products, outputs on
	// the stride grid) and f = stride (polyphase): fewer wasted outputs but
	// larger kernels, so fewer kernels per polynomial; keep the cheaper.
	type shape struct{ fh, fw, rv, sv, s1h, s1w, needH, needW, cv, hb, wb, cb, mb, k, cost, ans int }
	best := shape{cost: math.MaxInt}
	for n, f := range [][2]int{{1, 1}, {p.StrideH, p.StrideW}} {
		if forceFactor != 0 && n != forceFactor-1 {
			continue
		}
		x := shape{fh: f[0], fw: f[1], rv: ceilDiv(p.R, f[0]), sv: ceilDiv(p.S, f[1]),
			s1h: p.StrideH / f[0], s1w: p.StrideW / f[1], cost: math.MaxInt}
		x.needH, x.needW = (oh-1)*x.s1h+1, (ow-1)*x.s1w+1
		x.cv = cg * min(x.fh, p.R) * min(x.fw, p.S)
		for h := x.rv; h <= x.needH+x.rv-1; h++ {
			for w := x.sv; w <= x.needW+x.sv-1 && h*w <= N; w++ {
				tiles := ceilDiv(x.needH, h-x.rv+1) * ceilDiv(x.needW, w-x.sv+1)
				for c := 1; c <= min(x.cv, N/(h*w)); c++ {
					for m := 1; m <= kg; m++ {
						if m > 1 && m*c*h*w > N {
							break
						}
						// Answers of the whole batch, packed 2^k a
						// ciphertext (2^k | C_b keeps the targets in one
						// class); a larger k than the answers need only
						// costs key switches.
						ans := p.N * p.Groups * tiles * ceilDiv(kg, m)
						for k := 0; k <= min(pr.PackLog, bits.TrailingZeros(uint(c))); k++ {
							if k > 0 && 1<<(k-1) >= ans {
								break
							}
							// Among equal bytes, fewer answers: each costs
							// about a key switch of CPU.
							cost := p.N*p.Groups*tiles*ceilDiv(x.cv, c)*up(x.cv*x.rv*x.sv*m, k) + ceilDiv(ans, 1<<k)*down
							if cost < x.cost || cost == x.cost && ans < x.ans {
								x.hb, x.wb, x.cb, x.mb, x.k, x.cost, x.ans = h, w, c, m, k, cost, ans
							}
						}
					}
				}
			}
		}
		if x.cost < best.cost || x.cost == best.cost && x.ans < best.ans {
			best = x
		}
	}
	fh, fw, rv, sv, s1h, s1w, needH, needW := best.fh, best.fw, best.rv, best.sv, best.s1h, best.s1w, best.needH, best.needW
	hb, wb, cb, mb, cv := best.hb, best.wb, best.cb, best.mb, best.cv
	// Live phase channels: (c, a, b) with a < R and b < S.
	type phase struct{ c, a, b int }
	var ph []phase
	for c := range cg {
		for a := range min(fh, p.R) {
			for b := range min(fw, p.S) {
				ph = append(ph, phase{c, a, b})
			}
		}
	}
	pl := &plan{xLen: p.C * p.H * p.W, yLen: p.K * oh * ow, wLen: p.WLen(), packLog: best.k}
	nCB, nMB := ceilDiv(cv, cb), ceilDiv(kg, mb)
	o := cb*((rv-1)*wb+sv-1) + cb - 1
	d := cb * hb * wb // offset between the kernels packed in one polynomial
	// Weight polynomials: group g, output-channel block kb, channel block b.
	wPoly := func(g, kb, b int) int { return (g*nMB+kb)*nCB + b }
	for g := range p.Groups {
		for kb := range nMB {
			for b := range nCB {
				var e []entry
				for k := kb * mb; k < min(kg, (kb+1)*mb); k++ {
					for c := b * cb; c < min(cv, (b+1)*cb); c++ {
						f := ph[c]
						for l := range rv {
							for l2 := range sv {
								r, s := fh*l+f.a, fw*l2+f.b
								if r >= p.R || s >= p.S {
									continue
								}
								coef := (k-kb*mb)*d + o - (c - b*cb + cb*(l*wb+l2))
								idx := (((g*kg+k)*cg+f.c)*p.R+r)*p.S + s
								e = append(e, entry{int32(coef), int32(idx)})
							}
						}
					}
				}
				pl.ws = append(pl.ws, e)
			}
		}
	}
	for g := range p.Groups {
		for r0 := 0; r0 < needH; r0 += hb - rv + 1 {
			for c0 := 0; c0 < needW; c0 += wb - sv + 1 {
				first := len(pl.ins)
				for b := range nCB {
					var e []entry
					for c := b * cb; c < min(cv, (b+1)*cb); c++ {
						f := ph[c]
						for i := range hb {
							for j := range wb {
								row, col := fh*(r0+i)+f.a-p.PadH, fw*(c0+j)+f.b-p.PadW
								if row < 0 || row >= p.H || col < 0 || col >= p.W {
									continue // zero padding or beyond the input
								}
								coef := c - b*cb + cb*(i*wb+j)
								idx := ((g*cg+f.c)*p.H+row)*p.W + col
								e = append(e, entry{int32(coef), int32(idx)})
							}
						}
					}
					pl.ins = append(pl.ins, e)
				}
				for kb := range nMB {
					var op outPoly
					for b := range nCB {
						op.terms = append(op.terms, term{first + b, wPoly(g, kb, b)})
					}
					for k := kb * mb; k < min(kg, (kb+1)*mb); k++ {
						for i := 0; i <= hb-rv; i++ {
							for j := 0; j <= wb-sv; j++ {
								gr, gc := r0+i, c0+j
								if gr >= needH || gc >= needW || gr%s1h != 0 || gc%s1w != 0 {
									continue
								}
								idx := ((g*kg+k)*oh+gr/s1h)*ow + gc/s1w
								op.targets = append(op.targets, entry{int32((k-kb*mb)*d + o + cb*(i*wb+j)), int32(idx)})
							}
						}
					}
					pl.outs = append(pl.outs, op)
				}
			}
		}
	}
	return pl, pl.budget(pr)
}

// planFC plans y = W·x for W [out, in] (row-major, a linear layer's
// weight): input block b of n_b elements sits in coefficients 0..n_b−1;
// row i of an output block of m_b rows is placed reversed at i·n_b +
// n_b−1−j, so coefficient i·n_b + n_b−1 of the product is the block's dot
// product and no other index pair reaches it (m_b·n_b ≤ N keeps wrapped
// terms below the first target). Block sizes minimise polynomials sent.
func newPlanFC(in, out int, pr *Params) (*plan, error) {
	if in < 1 || out < 1 {
		return nil, fmt.Errorf("helinear: fully connected %d→%d", in, out)
	}
	if in > math.MaxInt32 || out > math.MaxInt32 || int64(in)*int64(out) > math.MaxInt32 {
		return nil, fmt.Errorf("helinear: fully connected %d→%d too large", in, out)
	}
	// Bits sent: the level's per client polynomial (it depends on the
	// weights summed per answer, ⌈in/n⌉·n·m), Q' per answer.
	down := 0
	for i := range pr.ReplyPrimes {
		down += int(pr.width(i))
	}
	// Answers pack 2^k to a ciphertext for 2^k | n_b (targets ≡ n_b − 1).
	bestCost, nb, bk := math.MaxInt, 0, 0
	for n := 1; n <= min(in, N); n++ {
		m := min(out, N/n)
		ans := ceilDiv(out, m)
		for k := 0; k <= min(pr.PackLog, bits.TrailingZeros(uint(n))); k++ {
			if k > 0 && 1<<(k-1) >= ans {
				break
			}
			lv, _, err := pr.fit(ceilDiv(in, n)*n*m, k)
			if err != nil {
				continue
			}
			up := 0
			for i := range lv.q {
				up += int(lv.width(i))
			}
			if cost := ceilDiv(in, n)*up + ceilDiv(ans, 1<<k)*down; cost < bestCost {
				bestCost, nb, bk = cost, n, k
			}
		}
	}
	if nb == 0 {
		nb = min(in, N) // no level holds the noise: budget reports it
	}
	mb := min(out, N/nb)
	nIB, nOB := ceilDiv(in, nb), ceilDiv(out, mb)
	pl := &plan{xLen: in, yLen: out, wLen: in * out, packLog: bk}
	for b := range nIB {
		var e []entry
		for j := b * nb; j < min(in, (b+1)*nb); j++ {
			e = append(e, entry{int32(j - b*nb), int32(j)})
		}
		pl.ins = append(pl.ins, e)
	}
	for ob := range nOB {
		var op outPoly
		for b := range nIB {
			var e []entry
			for i := ob * mb; i < min(out, (ob+1)*mb); i++ {
				for j := b * nb; j < min(in, (b+1)*nb); j++ {
					e = append(e, entry{int32((i-ob*mb)*nb + nb - 1 - (j - b*nb)), int32(i*in + j)})
				}
			}
			op.terms = append(op.terms, term{b, len(pl.ws)})
			pl.ws = append(pl.ws, e)
		}
		for i := ob * mb; i < min(out, (ob+1)*mb); i++ {
			op.targets = append(op.targets, entry{int32((i-ob*mb)*nb + nb - 1), int32(i)})
		}
		pl.outs = append(pl.outs, op)
	}
	return pl, pl.budget(pr)
}

// budget sets the layer's level and flooding width from the number of
// weight coefficients summed into one answer (Params.fit).
func (pl *plan) budget(pr *Params) error {
	maxL := 0
	for _, op := range pl.outs {
		l := 0
		for _, t := range op.terms {
			l += len(pl.ws[t.w])
		}
		maxL = max(maxL, l)
	}
	for _, op := range pl.outs {
		// noiseW sums each error coefficient once per answer.
		seen := map[int]bool{}
		for _, t := range op.terms {
			if seen[t.in] {
				return fmt.Errorf("helinear: input polynomial %d twice in one answer", t.in)
			}
			seen[t.in] = true
		}
	}
	k := pl.packLog
	for _, op := range pl.outs {
		for _, t := range op.targets {
			if int(t.coef)%(1<<k) != 1<<k-1 {
				return fmt.Errorf("helinear: target %d outside the packing class mod 2^%d", t.coef, k)
			}
		}
	}
	var err error
	pl.lv, pl.floodBits, err = pr.fit(maxL, k)
	return err
}

// Noise bounds (fit). The noise a layer's answer carries before the
// flood is partly a function of the weights W and of what the client
// knows (its encryption errors e, its keys' errors): E_W = Σ_k (e_k +
// ε_k)·w_k per product (ε_k the encoding's rounding, |ε| ≤ ½), the
// switch's rounding and, packed, the key switching's. The flood F must
// hide it: with F ≥ 2^(κ+2)·B, where |noise| ≤ B except with
// probability ≤ 2^−tailBits (over the honest client's errors), each
// flooded coefficient is within 2^−(κ+3) + 2^−tailBits ≤ 2^−(κ+2) of a
// W-free distribution. B is a high-probability bound where the noise is
// a sum of independent errors: a centred binomial error (η) is
// subgaussian with variance proxy η/2, so Σ_j c_j·e_j exceeds
// tHP·√(η/2·Σ c_j²) with probability ≤ 2·exp(−tHP²/2) = 2^−tailBits;
// the roundings are bounded in the worst case. The same bounds decide
// decryption: a layer fails to decrypt a coefficient with probability ≤
// 2^−tailBits+1 (two such bounds), at most 2^−40 per inference of up to
// 2^24 outputs.

// tailBits is the failure exponent of every high-probability bound.
const tailBits = 65

// tHP is the multiple of the standard deviation (variance proxy) a
// subgaussian exceeds with probability ≤ 2^−tailBits.
var tHP = math.Sqrt(2 * math.Ln2 * (tailBits + 1))

// noiseW bounds E_W for an answer summing l weight coefficients, each
// |w| ≤ 2^(WeightBits−1) = W: each coefficient of a product is
// Σ_b ±(e_k + ε_k)[j−b]·w[b] over distinct error coefficients (plan.budget
// checks that no input polynomial appears twice in an answer), so |E_W|
// ≤ tHP·√(η/2·l)·W + l·W/2 with probability ≥ 1 − 2^−tailBits, and
// always ≤ (η + ½)·l·W; the smaller of the two.
func (p *Params) noiseW(l int) float64 {
	w := math.Exp2(float64(p.WeightBits) - 1)
	L := float64(max(l, 1))
	return min(tHP*math.Sqrt(eta/2.0*L)*w+L*w/2, (eta+0.5)*L*w)
}

// switchNoise bounds the rounding of a modulus switch: ≤ ½ + Σ ½/q over
// the dropped primes per coefficient of c0 and c1, c1's times s (‖s‖₁ ≤
// N): (N+1)/2·(1 + 2^−16).
const switchNoise = float64(N+1) / 2 * (1 + 1.0/(1<<16))

// packNoise bounds the key switching noise packing 2^k answers adds at
// Q″: per switch Σ_g ext(c_g)·e_g/P, where the extended digit is < |D_g|·D_g
// and the key errors e_g are independent of it (the digits come from the
// keys' uniform parts, never their errors): ≤ tHP·√(η/2·N·Σ_g
// (|D_g|·D_g)²)/P with probability ≥ 1 − 2^−tailBits, plus the
// rounding of the division by P, ≤ switchNoise; a switch of round l is
// doubled by each of the l−1 later rounds and round l has 2^(l−1)
// merges of 2^(keyFrom−l) switches each (one with a key, more composed:
// packer.rotate), so the wanted coefficients carry at most Σ_l
// 4^(l−1)·2^max(0, keyFrom−l) times one switch's noise ((4^k − 1)/3 with
// every key; 1,372 instead of 1,365 at k = 6 from τ_3 on), the sum over
// rounds taken in the worst case.
func (p *Params) packNoise(k int) float64 {
	var v, logP float64
	for _, d := range p.digits {
		v += math.Exp2(2 * (d.logD + math.Log2(float64(len(d.idx)))))
	}
	for _, q := range p.P {
		logP += math.Log2(float64(q))
	}
	eks := tHP*math.Sqrt(eta/2.0*N*v)/math.Exp2(logP) + switchNoise
	var n float64 // switches, each weighted by the later rounds' doubling
	for l := 1; l <= k; l++ {
		n += math.Exp2(2*float64(l-1)) * math.Exp2(float64(max(0, p.keyFrom-l)))
	}
	return n * eks
}

// floodBits returns fb with F = 2^(fb−1) ≥ 2^(κ+2)·b.
func floodBits(b float64) int { return Kappa + 3 + int(math.Ceil(math.Log2(b))) }

// switchHP bounds the noise of the last switch, to Q': the server rounds
// c1 at random (dither), so each coefficient's rounding error is
// independent, zero-mean and in an interval of length ≤ 1 + 2^−16, and
// Σ_j r_j·s_{i−j} (‖s‖₂² ≤ N) exceeds tHP·√N/2·(1 + 2^−16) with
// probability ≤ 2^−tailBits (Hoeffding); c0's rounding adds ≤ ½·(1 +
// 2^−16). About 2^8.8 instead of the worst case (N+1)/2 = 2^12.
var switchHP = (tHP*math.Sqrt(N)/2 + 0.5) * (1 + 1.0/(1<<16))

// budgets returns the relative noise decryption tolerates, 2^−(ℓ+1)
// less 2^−10 of it for the floating-point estimates, and the part of it
// the switch to Q' (and c0's to 2^C0Bits) takes.
func (p *Params) budgets() (limit, rel float64) {
	limit = math.Exp2(-float64(p.Ell)-1) * (1 - 1.0/1024)
	rel = switchHP / math.Exp2(p.LogQReply)
	if p.C0Bits > 0 {
		rel += math.Exp2(-float64(p.C0Bits) - 1)
	}
	return limit, rel
}

// fit returns the smallest level at which an answer that sums l weight
// coefficients decrypts exactly, packed 2^k to a ciphertext (k = 0: not
// packed), and the flooding width (floodBits of the noise the flood must
// hide): fitPacked.
func (p *Params) fit(l, k int) (*level, int, error) {
	if k > p.PackLog {
		return nil, 0, fmt.Errorf("helinear: packing 2^%d answers, the keys allow 2^%d", k, p.PackLog)
	}
	return p.fitPacked(l, k, p.levels)
}

// fitPacked is fit among levels (each must contain Q″): no flood at the
// level; the answers are switched to Q″ and packed (k ≥ 1), and the
// (packed) ciphertext is re-randomised, masked and flooded at Q″, F ≥
// 2^(κ+2) times the W-dependent noise there (E_W scaled to Q″, the
// switch's rounding, packNoise), then switched to Q' (budgets). The
// noise at Q″ is at most F + that + E_pk + 1 (E_pk = η·(2N+1) the
// re-randomisation's, 1 the mask's rounding).
func (p *Params) fitPacked(l, k int, levels []*level) (*level, int, error) {
	limit, rel := p.budgets()
	logM := log2Prod(p.ppQ)
	ew, epack := p.noiseW(l), p.packNoise(k)
	total := 0.0
	for _, lv := range levels {
		if len(lv.rows) <= p.ReplyPrimes || lv.rows[p.ReplyPrimes] != p.ReplyPrimes {
			continue // packing needs q_x
		}
		b := ew*math.Exp2(logM-lv.logQ) + switchNoise + epack
		fb := floodBits(b)
		total = math.Exp2(float64(fb-1)) + b + eta*(2*N+1) + 1
		if fb <= 192 && total/math.Exp2(logM)+rel <= limit {
			return lv, fb, nil
		}
	}
	return nil, 0, p.errNoise(l, total)
}

func (p *Params) errNoise(l int, total float64) error {
	return fmt.Errorf("helinear: layer sums %d weights into one polynomial: noise 2^%.1f exceeds the budget 2^%.1f at ℓ = %d",
		l, math.Log2(total), p.LogQ-float64(p.Ell)-1, p.Ell)
}

// forceFactor, set by tests only, forces the stride decomposition: 1
// keeps the stride, 2 takes the polyphase form; 0 chooses by cost.
var forceFactor int

func ceilDiv(a, b int) int { return (a + b - 1) / b }
