package helinear

import (
	"fmt"
	"slices"

	lring "github.com/tuneinsight/lattigo/v6/ring"

	"github.com/autorep/autorep/internal/rq"
	"github.com/autorep/autorep/ring"
)

// Dense answers (packing with automorphisms, after Chen, Dai, Kim and
// Song, ACNS 2021, as Cheetah uses it).
//
// An answer holds its outputs in one residue class mod 2^k of its
// coefficients (planConv places channels minor, so every output of an
// answer is ≡ C_b − 1 mod C_b, and planFC's are ≡ n_b − 1 mod n_b), and
// garbage (partial sums no one may see) everywhere else. For g_l =
// N/2^(l−1) + 1 the automorphism τ_l: X ↦ X^(g_l) fixes every coefficient
// at a multiple of 2^l and negates those ≡ 2^(l−1) mod 2^l, so with A and
// B whose wanted coefficients lie at multiples of 2^l,
//
//	(A + X^s·B) + τ_l(A − X^s·B),  s = 2^(l−1),
//
// is 2A at the multiples of 2^l and 2B (shifted by s) at the others ≡ s
// mod 2^l: two answers merged, clean on the multiples of 2^(l−1). k
// rounds (l = k, …, 1) merge 2^k answers, each first multiplied by
// X^−(r) (its class r moved to 0) and by 2^−k mod Q″ (Q″ is odd, so
// the factor 2^k the rounds add cancels exactly); leaf a of a group ends
// at offset a: coefficient u of leaf a is coefficient u − r + a of the
// packed answer. Everything off the wanted classes cancels exactly; the
// only new noise is the key switching that brings τ_l(c1) back under s.
//
// The server switches each answer's products to Q″ = Q'·q_x (q_x is in
// every level), packs, and only then re-randomises with the public key,
// masks every coefficient and floods the packed ciphertext at Q″
// (Params.fitPacked: F ≥ 2^(κ+2) times a high-probability bound on the
// noise that depends on W or c1: the products scaled to Q″, the switch's
// rounding and the packing's key switches, Params.packNoise), then
// switches to Q' with random rounding. So the noise that depends on W
// or on c1 (the key switching's) is all under the flood, c1 is
// pseudo-random, and every coefficient's message is masked: circuit
// privacy as for an unpacked answer (k = 0 takes the same path), with
// one flood and mask per packed ciphertext instead of per answer. The
// level needs the same bits as flooding there would (the flood-to-noise
// ratio does not depend on the modulus).
//
// Key switching is the hybrid form with a special modulus P (primes
// outside Q that exist only in the keys and inside the switch): the
// primes of Q″ are split into digits D_g (Params.digits; one digit, all
// of Q″, when log Q″·P ≈ 2·log Q″ fits the bound), and the key for τ_l
// holds per digit (b_g, a_g) = (−a_g·s + e_g + P·ĝ_g·τ_l(s), a_g) mod
// Q″·P, ĝ_g ≡ 1 mod D_g's primes and 0 mod the others. A digit [c]_{D_g}
// is extended from D_g to the other primes of Q″·P by fast base
// conversion (c + v·D_g, 0 ≤ v < |D_g|; the v·D_g part vanishes mod Q″·P
// against P·ĝ_g), multiplied by the key, and the sum is divided by P
// (rounded): τ_l(s)·c plus Σ_g (c_g + v·D_g)·e_g/P plus the rounding,
// Params.packNoise. log(Q″·P) ≤ MaxLogQ: the 128-bit bound holds for the
// keys too.

// galoisKey is the key switching key for τ_l, one (b, a) per digit (NTT
// and Montgomery form, over Q″·P: Server.keySwitch multiplies by them
// with Montgomery products, cheaper than Barrett's).
type galoisKey struct{ b, a []lring.Poly }

// packGen returns g_l = N/2^(l−1) + 1.
func packGen(l int) uint64 { return uint64(N>>(l-1)) + 1 }

// keyBytes is the packed size of the Galois keys (without their seed).
func (p *Params) keyBytes() int {
	n := 0
	for _, q := range p.ksQ {
		n += rq.SegBytes(N, uint(bitsLen(q)))
	}
	return p.numKeys() * len(p.digits) * n
}

// numKeys is the number of Galois keys: τ_keyFrom, …, τ_PackLog (τ_l for
// l < keyFrom is τ_(l+1) applied twice, packer.rotate).
func (p *Params) numKeys() int {
	if p.PackLog == 0 {
		return 0
	}
	return p.PackLog - p.keyFrom + 1
}

// ternary draws a uniform ternary vector of N coefficients.
func ternary(prg *ring.PRG) []int64 {
	v := make([]int64, N)
	for j := range v {
		for {
			b := prg.Uint64() & 3
			if b != 3 {
				v[j] = int64(b) - 1
				break
			}
		}
	}
	return v
}

// setSigned writes the signed coefficients v into pl's residues mod qs.
func setSigned(qs []uint64, v []int64, pl lring.Poly) {
	for i, q := range qs {
		for j, x := range v {
			pl.Coeffs[i][j] = signedMod(x, q)
		}
	}
}

// automorphism sets out = in(X^g) (coefficient domain, g odd; out ≠ in).
func automorphism(qs []uint64, in lring.Poly, g uint64, out lring.Poly) {
	for i, q := range qs {
		src, dst := in.Coeffs[i], out.Coeffs[i]
		for j := range uint64(N) {
			d := j * g & (2*N - 1)
			v := src[j]
			if d >= N && v != 0 {
				v = q - v
			}
			dst[d&(N-1)] = v
		}
	}
}

// genKeys appends the Galois keys for τ_keyFrom, …, τ_PackLog under the secret
// s (its signed coefficients) to msg: a 16-byte seed for every a_i, then
// every b_i.
func (cl *Client) genKeys(s []int64, msg []byte) ([]byte, error) {
	p := cl.P
	if p.PackLog == 0 {
		return msg, nil
	}
	seed, err := ring.NewSeed()
	if err != nil {
		return nil, err
	}
	msg = append(msg, seed[:]...)
	aPRG := ring.NewPRG(seed)
	r := p.ks
	sk, ts, a, b, as := r.NewPoly(), r.NewPoly(), r.NewPoly(), r.NewPoly(), r.NewPoly()
	setSigned(p.ksQ, s, sk)
	r.NTT(sk, sk)
	tv := make([]int64, N)
	for l := p.keyFrom; l <= p.PackLog; l++ {
		g := packGen(l)
		for j := range uint64(N) {
			d := j * g % (2 * N)
			if d >= N {
				tv[d-N] = -s[j]
			} else {
				tv[d] = s[j]
			}
		}
		setSigned(p.ksQ, tv, ts)
		r.NTT(ts, ts)
		for _, d := range p.digits {
			rq.UniformPoly(aPRG, p.ksQ, a)
			rq.SmallPoly(cl.prg, p.ksQ, b, false)
			r.NTT(b, b)
			r.MulCoeffsBarrett(a, sk, as)
			r.Sub(b, as, b)
			for _, i := range d.idx { // + P·τ_l(s) at the digit's primes
				q := p.ksQ[i]
				pm := uint64(1)
				for _, sp := range p.P {
					pm = rq.MulMod(pm, sp%q, q)
				}
				row := b.Coeffs[i]
				for j, v := range ts.Coeffs[i] {
					row[j] = rq.AddMod(row[j], rq.MulMod(pm, v, q), q)
				}
			}
			for x, q := range p.ksQ {
				msg = rq.PackSeg(msg, b.Coeffs[x], uint(bitsLen(q)))
			}
		}
	}
	return msg, nil
}

// parseKeys reads the Galois keys genKeys wrote (b must hold exactly
// them).
func (p *Params) parseKeys(b []byte) ([]galoisKey, error) {
	if p.PackLog == 0 {
		if len(b) != 0 {
			return nil, fmt.Errorf("helinear: %d unexpected bytes after the public key", len(b))
		}
		return nil, nil
	}
	if want := ring.SeedSize + p.keyBytes(); len(b) != want {
		return nil, fmt.Errorf("helinear: Galois keys of %d bytes, want %d", len(b), want)
	}
	var seed ring.Seed
	copy(seed[:], b)
	b = b[ring.SeedSize:]
	aPRG := ring.NewPRG(seed)
	keys := make([]galoisKey, p.numKeys())
	for l := range keys {
		for range p.digits {
			a := p.ks.NewPoly()
			rq.UniformPoly(aPRG, p.ksQ, a)
			w := make([]uint64, len(p.ksQ)*N)
			for x, q := range p.ksQ {
				sb := rq.SegBytes(N, uint(bitsLen(q)))
				rq.UnpackSeg(b[:sb], w[x*N:(x+1)*N], uint(bitsLen(q)))
				b = b[sb:]
			}
			if err := checkPoly(p.ksQ, w, N); err != nil {
				return nil, fmt.Errorf("helinear: Galois key: %w", err)
			}
			bp := polyFromWords(w)
			p.ks.MForm(a, a)
			p.ks.MForm(bp, bp)
			keys[l].a = append(keys[l].a, a)
			keys[l].b = append(keys[l].b, bp)
		}
	}
	return keys, nil
}

// The packer works with c0 over Q″·P in the NTT domain, scaled by P: a
// key switch's c0 part is added there as it is, and the division by P
// (rounded) happens once per packed answer (packer.finish) instead of
// once per switch. Automorphisms (a permutation of NTT slots), monomials
// (a product with the NTT of X^s) and sums are ring operations mod Q″·P,
// so the undivided sum divided once is the per-switch quotients' sum up
// to their roundings: at most the noise packNoise counts (one rounding
// of c0 instead of one per switch). c1 stays over Q″ in the coefficient
// domain: each switch needs its digits. A switch so costs 4 NTTs and 4
// inverse NTTs over Q″·P instead of 4 and 8, and a leaf's c0 none.

// packConsts are a session's packing constants, made once (Params.packing).
type packConsts struct {
	aut   [][]uint64   // aut[l]: the NTT slot permutation of τ_l
	mono  []lring.Poly // mono[l]: X^(2^(l−1)) over Q″·P, NTT and Montgomery form
	leaf  []lring.Poly // leaf[k]: P·2^−k·X^−(2^k−1) over Q″, NTT and Montgomery form
	pMont []uint64     // P mod each prime of Q″, Montgomery form
}

// packing returns the session's packing constants, built on first use.
func (p *Params) packing() *packConsts {
	p.packOnce.Do(func() {
		ks, pp := p.ks, p.pp
		c := &packConsts{aut: make([][]uint64, p.PackLog+1), mono: make([]lring.Poly, p.PackLog+1)}
		for l := 1; l <= p.PackLog; l++ {
			idx, err := lring.AutomorphismNTTIndex(N, 2*N, packGen(l))
			if err != nil {
				panic(err) // N and 2N are powers of two
			}
			c.aut[l] = idx
			m := ks.NewPoly()
			for x := range p.ksQ {
				m.Coeffs[x][1<<(l-1)] = 1
			}
			ks.NTT(m, m)
			ks.MForm(m, m)
			c.mono[l] = m
		}
		for i, q := range p.ppQ {
			pm := uint64(1)
			for _, sp := range p.P {
				pm = rq.MulMod(pm, sp%q, q)
			}
			c.pMont = append(c.pMont, lring.MForm(pm, q, pp.SubRings[i].BRedConstant))
		}
		for k := 0; k <= p.PackLog; k++ {
			r := 1<<k - 1
			m := pp.NewPoly()
			for i, q := range p.ppQ {
				v := rq.MulMod(lring.IMForm(c.pMont[i], q, pp.SubRings[i].MRedConstant),
					lring.IMForm(p.inv2[i][k], q, pp.SubRings[i].MRedConstant), q)
				if r == 0 {
					m.Coeffs[i][0] = v
				} else if v != 0 { // X^−r = −X^(N−r)
					m.Coeffs[i][N-r] = q - v
				}
			}
			pp.NTT(m, m)
			pp.MForm(m, m)
			c.leaf = append(c.leaf, m)
		}
		p.packC = c
	})
	return p.packC
}

// packer holds the server's buffers for packing at Q″.
type packer struct {
	p    *Params
	c    *packConsts
	keys []galoisKey
	d, acc1,
	t0, e0 lring.Poly // over Q″·P
	u0     lring.Poly // over Q″·P (combine's sums)
	u1, t1 lring.Poly // over Q″
	ys     [][]uint64 // a digit's [c·(D/q_m)^−1]_{q_m}
	tmp    []*ct      // rotate's intermediates, one per depth
	free   []*ct      // ciphertext buffers for reuse (packTree)
}

func newPacker(p *Params, keys []galoisKey) *packer {
	pk := &packer{p: p, c: p.packing(), keys: keys, d: p.ks.NewPoly(), acc1: p.ks.NewPoly(),
		t0: p.ks.NewPoly(), e0: p.ks.NewPoly(), u0: p.ks.NewPoly(), u1: p.pp.NewPoly(), t1: p.pp.NewPoly()}
	for range p.ppQ {
		pk.ys = append(pk.ys, make([]uint64, N))
	}
	for range p.keyFrom - 1 {
		pk.tmp = append(pk.tmp, pk.newCt())
	}
	return pk
}

// ct is a ciphertext being packed: c0 over Q″·P (NTT domain, scaled by
// P: finish divides), c1 over Q″ (coefficient domain).
type ct struct{ c0, c1 lring.Poly }

func (pk *packer) newCt() *ct { return &ct{pk.p.ks.NewPoly(), pk.p.pp.NewPoly()} }

// leaf sets c to a packing leaf made from an answer's products (acc0,
// acc1: NTT domain over the first nq primes of ring r, whose first
// len(Q″) are Q″; both are overwritten): switched to Q″ (rounded division
// by the other primes), multiplied by 2^−k·X^−(2^k−1) (its class to 0),
// c0 lifted to Q″·P as P·c0.
func (pk *packer) leaf(r *lring.Ring, nq int, acc0, acc1 lring.Poly, k int, c *ct) {
	p := pk.p
	kp := len(p.ppQ)
	for _, row := range c.c0.Coeffs[kp:] {
		clear(row) // P·c0 is 0 mod P
	}
	r.INTT(acc1, acc1)
	for lvl := nq - 1; lvl >= kp; lvl-- {
		r.AtLevel(lvl).DivRoundByLastModulus(acc1, acc1)
	}
	for i := range kp {
		copy(c.c1.Coeffs[i], acc1.Coeffs[i])
	}
	if k > 0 {
		if rr := 1<<k - 1; rr != 0 {
			pk.monomial(c.c1, 2*N-rr)
		}
		for x := range kp {
			p.pp.SubRings[x].MulScalarMontgomery(c.c1.Coeffs[x], p.inv2[x][k], c.c1.Coeffs[x])
		}
	}
	for lvl := nq - 1; lvl >= kp; lvl-- {
		pk.divRoundLastNTT(r, lvl, acc0)
	}
	p.pp.MulCoeffsMontgomery(lring.Poly{Coeffs: acc0.Coeffs[:kp]}, pk.c.leaf[k], lring.Poly{Coeffs: c.c0.Coeffs[:kp]})
}

// divRoundLastNTT divides pl (NTT domain, over the primes 0..lvl of r)
// by prime lvl, rounded, and leaves the quotient over primes 0..lvl−1 in
// the NTT domain: ⌊c/q⌉ = (c − [c]_q)/q with [c]_q the centred residue,
// so only row lvl goes through an inverse NTT and [c]_q through one NTT
// per other prime (the coefficient-domain division would need every row
// inverted, and c0 back in the NTT domain after). Exact, fully reduced
// arithmetic: the primes may differ in size.
func (pk *packer) divRoundLastNTT(r *lring.Ring, lvl int, pl lring.Poly) {
	last := r.SubRings[lvl]
	ql := last.Modulus
	half := (ql - 1) / 2
	t, u := pk.ys[0], pk.t0.Coeffs[0]
	last.INTT(pl.Coeffs[lvl], t)
	for j, v := range t {
		t[j] = rq.AddMod(v, half, ql) // [c]_q + half, in [0, q)
	}
	for i := range lvl {
		s := r.SubRings[i]
		q, bc := s.Modulus, s.BRedConstant
		h := lring.BRedAdd(half, q, bc)
		for j, v := range t {
			u[j] = rq.AddMod(lring.BRedAdd(v, q, bc), q-h, q) // [c]_q mod q_i
		}
		s.NTT(u, u)
		inv := lring.MForm(rq.ModInv(ql%q, q), q, bc)
		row := pl.Coeffs[i]
		for j := range row {
			row[j] = lring.MRed(rq.AddMod(row[j], q-u[j], q), inv, q, s.MRedConstant)
		}
	}
}

// finish divides a packed c0 by P (rounded) and returns it over Q″ in
// the coefficient domain (sharing c0's memory).
func (pk *packer) finish(c0 lring.Poly) lring.Poly {
	p, r := pk.p, pk.p.ks
	r.INTT(c0, c0)
	for lvl := len(p.ksQ) - 1; lvl >= len(p.ppQ); lvl-- {
		r.AtLevel(lvl).DivRoundByLastModulus(c0, c0)
	}
	return lring.Poly{Coeffs: c0.Coeffs[:len(p.ppQ)]}
}

// keySwitch adds to (o0, o1) the switch of c (under τ_l(s); over Q″,
// coefficient domain) to s with the key of τ_l: Σ_g ext(c_g)·(b_g, a_g),
// added to o0 (over Q″·P, NTT, scaled by P) as it is, and divided by P
// (rounded) into o1 (over Q″, coefficient domain).
func (pk *packer) keySwitch(l int, c, o0, o1 lring.Poly) {
	p, r := pk.p, pk.p.ks
	key := pk.keys[l-p.keyFrom]
	for g, d := range p.digits {
		pk.extend(d, c)
		r.NTT(pk.d, pk.d)
		r.MulCoeffsMontgomeryThenAdd(pk.d, key.b[g], o0)
		if g == 0 {
			r.MulCoeffsMontgomery(pk.d, key.a[g], pk.acc1)
		} else {
			r.MulCoeffsMontgomeryThenAdd(pk.d, key.a[g], pk.acc1)
		}
	}
	r.INTT(pk.acc1, pk.acc1)
	for lvl := len(p.ksQ) - 1; lvl >= len(p.ppQ); lvl-- {
		r.AtLevel(lvl).DivRoundByLastModulus(pk.acc1, pk.acc1)
	}
	p.pp.Add(o1, lring.Poly{Coeffs: pk.acc1.Coeffs[:len(p.ppQ)]}, o1)
}

// extend sets pk.d (over Q″·P, coefficient domain) to the digit d of c
// (over Q″): c's residues at d's primes, and at every other prime
// Σ_m [c·(D/q_m)^−1]_{q_m}·(D/q_m), which is c mod D plus v·D, 0 ≤ v <
// len(d.idx) (fast base conversion; one prime: c's residue reduced).
func (pk *packer) extend(d digit, c lring.Poly) {
	p, r := pk.p, pk.p.ks
	ys := pk.ys[:len(d.idx)]
	for m, i := range d.idx {
		q, mc := p.ksQ[i], r.SubRings[i].MRedConstant
		if len(d.idx) == 1 {
			copy(ys[m], c.Coeffs[i])
			continue
		}
		for j, v := range c.Coeffs[i] {
			ys[m][j] = lring.MRed(v, d.hatInv[m], q, mc)
		}
	}
	for x, q := range p.ksQ {
		dst := pk.d.Coeffs[x]
		if m := slices.Index(d.idx, x); m >= 0 {
			copy(dst, c.Coeffs[x])
			continue
		}
		if len(d.idx) == 1 { // one prime: c's residue reduced
			bc := r.SubRings[x].BRedConstant
			for j, v := range ys[0] {
				dst[j] = lring.BRedAdd(v, q, bc)
			}
			continue
		}
		// Montgomery products need y·hat < q·2^64: y < 2^61, hat < q.
		mc := r.SubRings[x].MRedConstant
		for j := range dst {
			var acc uint64
			for m := range d.idx {
				acc = rq.AddMod(acc, lring.MRed(ys[m][j], d.hat[m][x], q, mc), q)
			}
			dst[j] = acc
		}
	}
}

// monomial multiplies pl (over Q″, coefficient domain) by X^e in place,
// 0 < e < 2N (lattigo's MultByMonomial allocates a polynomial a call).
func (pk *packer) monomial(pl lring.Poly, e int) {
	for i, q := range pk.p.ppQ {
		src, tmp := pl.Coeffs[i], pk.t0.Coeffs[0]
		for j, v := range src {
			d := j + e
			neg := false
			for d >= N {
				d -= N
				neg = !neg
			}
			if neg && v != 0 {
				v = q - v
			}
			tmp[d] = v
		}
		copy(src, tmp)
	}
}

// combine returns (A + X^s·B) + τ_l(A − X^s·B) (A, B may be nil: absent);
// it reuses A's or B's memory.
func (pk *packer) combine(a, b *ct, l int) *ct {
	if a == nil && b == nil {
		return nil
	}
	p := pk.p
	s := 1 << (l - 1)
	var sum, diff *ct
	switch {
	case b == nil:
		sum = a
		diff = a
	default:
		p.ks.MulCoeffsMontgomery(b.c0, pk.c.mono[l], b.c0)
		pk.monomial(b.c1, s)
		if a == nil {
			sum = b
			diff = &ct{pk.u0, pk.u1}
			p.ks.Neg(b.c0, diff.c0)
			p.pp.Neg(b.c1, diff.c1)
		} else {
			diff = b // becomes A − X^s·B, sum A + X^s·B
			p.ks.Add(a.c0, b.c0, pk.u0)
			p.ks.Sub(a.c0, b.c0, b.c0)
			p.pp.Add(a.c1, b.c1, pk.u1)
			p.pp.Sub(a.c1, b.c1, b.c1)
			a.c0, pk.u0 = pk.u0, a.c0
			a.c1, pk.u1 = pk.u1, a.c1
			sum = a
		}
	}
	pk.rotate(l, diff, sum, 0)
	return sum
}

// rotate adds τ_l(src), switched back under s, to dst (src may be dst:
// it is read before dst is written). Without a key for τ_l (l <
// keyFrom) it applies τ_(l+1) twice, g_(l+1)² = 1 + 2^(15−l) + 2^(26−2l)
// ≡ g_l mod 2N for l ≤ 6: one more key switch, whose noise packNoise
// counts.
func (pk *packer) rotate(l int, src, dst *ct, depth int) {
	p := pk.p
	if l < p.keyFrom {
		tmp := pk.tmp[depth]
		tmp.c0.Zero()
		tmp.c1.Zero()
		pk.rotate(l+1, src, tmp, depth+1)
		pk.rotate(l+1, tmp, dst, depth+1)
		return
	}
	p.ks.AutomorphismNTTWithIndex(src.c0, pk.c.aut[l], pk.e0)
	automorphism(p.ppQ, src.c1, packGen(l), pk.t1)
	p.ks.Add(dst.c0, pk.e0, dst.c0)
	pk.keySwitch(l, pk.t1, dst.c0, dst.c1)
}

// packTree returns the merge of the leaves ≡ c mod 2^m among 2^k (nil
// if all are absent): leaf(a, dst) sets dst to leaf a and reports whether
// it exists. It is the tree of the rounds l = k, …, 1 (round l merges the
// items ≡ i and ≡ i + 2^(l−1) mod 2^l), walked depth first: leaves are
// made as their merges need them, so at most k + 1 are held at a time
// instead of 2^k.
func (pk *packer) packTree(c, m, k int, present int, leaf func(a int, dst *ct)) *ct {
	if c >= present {
		return nil // leaves c, c + 2^m, … are all absent
	}
	if m == k {
		x := pk.get()
		leaf(c, x)
		return x
	}
	a := pk.packTree(c, m+1, k, present, leaf)
	b := pk.packTree(c+1<<m, m+1, k, present, leaf)
	sum := pk.combine(a, b, m+1)
	if a != nil && b != nil {
		pk.free = append(pk.free, b) // combine left A + X^s·B in a
	}
	return sum
}

// get returns a free ciphertext buffer.
func (pk *packer) get() *ct {
	if n := len(pk.free); n > 0 {
		x := pk.free[n-1]
		pk.free = pk.free[:n-1]
		return x
	}
	return pk.newCt()
}
