// Package helinear computes linear layers (fully connected, 2-D
// convolution with stride, padding and groups) of the dealer-free
// two-party mode by homomorphic encryption, in the style of Cheetah (Huang
// et al., USENIX Security 2022): the client encrypts its additive share of
// the input in the coefficients of RLWE plaintexts (no slots, no
// rotations), the server multiplies by its plaintext-encoded weights so
// that chosen coefficients of the polynomial products are the entries of
// W·x, adds a fresh uniform mask, floods the noise and re-randomises,
// packs up to 2^PackLog answers into one ciphertext with automorphisms
// and key switching (galois.go), switches to a small modulus Q' and
// returns the ciphertexts (c0 only at the output coefficients); the
// client decrypts. Each party ends with an
// additive share over Z_2^ℓ of W·x + b (the bias is added on the server's
// side; batch norm is folded into W and b by the caller).
//
// Shares are plain []uint64 reduced mod 2^ℓ (1 ≤ ℓ ≤ 64; high bits are
// ignored on input and zero on output). Party 1 is the client (holds the
// secret key), party 0 the server (holds the weights), as in otgates.
//
// # Plaintext modulus 2^ℓ
//
// bgv.NewParameters refuses a power-of-two plaintext modulus, and a prime
// plaintext modulus would need a field→ring conversion of every output (an
// extra OT-based protocol). Instead this package encodes m ∈ Z_2^ℓ as
// ⌊Q·m/2^ℓ⌉ in R_Q = Z_Q[X]/(X^N+1) (Cheetah's Δ-scaling, in the rounded
// form that makes plaintext multiplication exact: ⌊Qm/t⌉·w = (Q/t)·[mw]_t +
// Q·k + ε·w with |ε| ≤ ½, so the wrap-around of m·w mod t costs no noise),
// built on lattigo's ring (RNS NTT arithmetic) with its own encryption and
// decoding, both exact in uint64 RNS arithmetic (params.go).
//
// # Parameters and security
//
// N = 8192, ternary secret, error from the centred binomial distribution
// with η = 21 (σ = √10.5 ≈ 3.24, |e| ≤ 21). A session's primes
// (NTT-friendly, distinct) have a product of at most 2^218, the public
// key's modulus: the HE standard's table (Albrecht et al., 2018) gives
// ≥ 128-bit classical security for N = 8192, log QP ≤ 218, σ ≈ 3.2. The
// Galois keys are at Q″·P: Q″ = Q'·q_x (q_x the smallest prime for which
// Q″ holds a packed answer's flood) times a special modulus P (primes
// outside Q, about as large as Q″, that exist only in the keys and inside
// the key switch), at most 2^218 too (ℓ = 28: 2^192). Each layer runs at
// a level, Q' (or Q″) times the subset of the other primes (17 to 60
// bits, for fine steps) with the smallest product that holds its noise
// (Params.fit): a smaller modulus, the same key, at least as secure. A
// public bound on the weights (NewParamsW) lowers the noise and so the
// level, down to Q″ (the twoparty suite passes its plan's bound,
// pi.Public.WeightBits: at 12 bits every ResNet-20 layer runs at Q″).
//
// # Circuit privacy and decryption error
//
// The noise of a product, Σ_k (e_k + ε_k)·w_k, depends on W. The server
// adds to every coefficient a uniform integer in [−F, F) with F ≥
// 2^(κ+2)·B, where B bounds the W-dependent noise except with
// probability ≤ 2^−65 over the honest client's errors (plan.go:
// E_W ≤ 9.57·√(10.5·L)·2^(wb−1) + L·2^(wb−2), a subgaussian tail, L the
// number of weight coefficients summed into one output polynomial, wb
// the weight bound; packed, also the key switches'), so the statistical
// distance of each coefficient from a W-free distribution is ≤
// 2^−(κ+3) + 2^−65 ≤ 2^−(κ+2), κ = 40 (Kappa), and the later modulus
// switch (with fresh random rounding) is post-processing; it adds an
// encryption of zero under the client's public key so that the second
// component, Σ a_k·w_k + a'·u + e, is pseudo-random (RLWE) instead of a
// linear function of W; and it adds a uniform mask to every one of the N
// coefficients (not only the outputs), so the decrypted message is
// uniform. Decryption is exact while the noise relative to the modulus
// stays below 2^−(ℓ+1); Params.fit keeps it below that (less 2^−10 of
// it), counting the flooded noise, the switch's random rounding (a
// Hoeffding bound, tail 2^−65) and, with one reply prime, c0's switch
// to 2^(ℓ+2), so a coefficient decrypts wrongly with probability ≤
// 2^−64 (≤ 2^−40 per inference of up to 2^24 outputs), and a layer that
// no level holds is an error instead of a run with a smaller margin.
//
// # Offline/online split
//
// PrecomputeConv2d and PrecomputeFC run the protocol on a client mask
// before the input exists; Online then finishes the layer with one
// message of ℓ bits per input element (offline.go).
package helinear

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"
	"sort"
	"sync"

	lring "github.com/tuneinsight/lattigo/v6/ring"

	"github.com/autorep/autorep/internal/rq"
)

const (
	// LogN is log2 of the ring degree.
	LogN = 13
	// N is the ring degree (coefficients per polynomial).
	N = 1 << LogN
	// Kappa is the statistical security parameter of noise flooding
	// (per returned coefficient, distance ≤ 2^−(Kappa+2)).
	Kappa = 40
	// MaxLogQ is the largest log Q at 128-bit classical security for
	// N = 8192 (HE standard, ternary secret, σ ≈ 3.2).
	MaxLogQ = 218
	// eta is the centred-binomial parameter of the error distribution.
	eta = rq.Eta
	// maxLogL is the largest log2 of the number of weight coefficients
	// summed into one output polynomial that NewParams provisions for.
	maxLogL = 22
)

// Params are the HE parameters for one share width ℓ.
type Params struct {
	Ell uint // share width: shares live in Z_2^ℓ
	// WeightBits bounds the server's weights: each, centred in
	// [−2^(ℓ−1), 2^(ℓ−1)), lies in [−2^(WeightBits−1), 2^(WeightBits−1)).
	// It is public (both parties must use the same value); the
	// W-dependent noise, hence the flood and Q, grow with it.
	WeightBits uint
	// Q holds every RNS prime of the session (each ≡ 1 mod 2N, product
	// ≤ 2^MaxLogQ, the modulus of the public key): the first ReplyPrimes
	// form Q', the rest are the tail from which each layer takes the
	// smallest subset its noise needs (a level).
	Q    []uint64
	LogQ float64 // log2 of the product of all of Q
	// ReplyPrimes is the number of primes the server's answers keep after
	// modulus switching (Q' = q_0⋯q_{k'−1}, ≥ ℓ + 12 bits).
	ReplyPrimes int
	LogQReply   float64
	// C0Bits, when not 0, is the width of the answers' c0 at the outputs:
	// with one reply prime q', c0 is switched on to 2^C0Bits (ℓ + 2 bits,
	// adding at most 2^−(ℓ+3) to the relative noise of the phase).
	C0Bits uint
	// PackLog is the largest k for which answers are packed 2^k to a
	// ciphertext (galois.go): the client sends Galois keys for
	// τ_keyFrom, …, τ_PackLog with its public key (the server composes
	// the others). P holds their special primes (not
	// in Q): the key switching's special modulus, which exists only
	// inside the keys and the switch (galois.go).
	PackLog int
	P       []uint64

	r, rr   *lring.Ring // R_Q over all primes and R_Q'
	pp, ks  *lring.Ring // R_Q″ (Q' and q_x) and R_Q″P
	ppQ     []uint64    // Q″
	ksQ     []uint64    // Q″ then P
	digits  []digit     // the key switching's gadget decomposition of Q″
	keyFrom int         // the smallest l with a Galois key for τ_l
	inv2    [][]uint64  // inv2[i][k] = 2^−k mod ppQ[i], Montgomery form
	ppB     *basis      // constants for Q″
	full    *basis      // constants for all of Q
	reply   *basis      // constants for Q'
	mask    uint64      // 2^ℓ − 1
	levels  []*level    // Q' times each subset of the tail, by ascending log Q
	mLevel  *level      // Q″, the public key's level

	mu sync.Mutex // guards the lazily built rings of levels

	planMu sync.Mutex        // guards plans
	plans  map[planKey]*plan // the plans made so far (plancache.go)

	packOnce sync.Once
	packC    *packConsts // packing constants (Params.packing)
}

// level is one modulus of the session: Q' times a subset of the tail
// primes. A layer encrypts, computes and floods at the smallest level
// whose decryption bound holds, so narrow layers send fewer bits.
type level struct {
	rows []int    // indexes into Params.Q, the reply primes first
	q    []uint64 // Params.Q[rows]
	logQ float64
	r    *lring.Ring // built on first use
	b    *basis
}

// basis holds the encoding and decoding constants of one RNS basis.
type basis struct {
	q       []uint64
	qModT   uint64      // (∏q) mod 2^ℓ
	tInv    []uint64    // (2^ℓ)^−1 mod q_i
	qHatInv []uint64    // (∏q/q_i)^−1 mod q_i
	bred    [][2]uint64 // Barrett constants of q_i
}

func newBasis(qs []uint64, ell uint) *basis {
	b := &basis{q: qs}
	bigQ := big.NewInt(1)
	for _, q := range qs {
		bigQ.Mul(bigQ, new(big.Int).SetUint64(q))
	}
	t := new(big.Int).Lsh(big.NewInt(1), ell)
	b.qModT = new(big.Int).Mod(bigQ, t).Uint64()
	for _, q := range qs {
		b.bred = append(b.bred, lring.GenBRedConstant(q))
		bq := new(big.Int).SetUint64(q)
		b.tInv = append(b.tInv, new(big.Int).ModInverse(new(big.Int).Mod(t, bq), bq).Uint64())
		qHat := new(big.Int).Div(bigQ, bq)
		b.qHatInv = append(b.qHatInv, new(big.Int).ModInverse(qHat.Mod(qHat, bq), bq).Uint64())
	}
	return b
}

func log2Prod(qs []uint64) float64 {
	var l float64
	for _, q := range qs {
		l += math.Log2(float64(q))
	}
	return l
}

// tailSizes are the bit sizes the tail primes (after Q' and q_x) are
// drawn from, smallest first, while they fit; what room is left becomes
// one more prime. Small primes make fine levels: a layer's level is Q″
// (or Q') times the subset of the tail with the smallest product that
// holds its noise, so the steps between levels, not the primes, set
// the bits a layer wastes.
var tailSizes = []int{17, 20, 24, 28, 33, 39, 46, 54, 60}

// minPrimeBits is the smallest prime ≡ 1 mod 2N (65537 for N = 8192).
const minPrimeBits = 17

// NewParams returns the parameters for shares over Z_2^ℓ, 1 ≤ ℓ ≤ 64,
// and weights of any size (WeightBits = ℓ); NewParamsW bounds them.
func NewParams(ell uint) (*Params, error) { return NewParamsW(ell, ell) }

// NewParamsW returns the parameters for shares over Z_2^ℓ and server
// weights of at most weightBits bits (two's complement, 1 ≤ weightBits ≤
// ℓ). Q' holds the ℓ + 12 bits (at least 30) the answers keep after
// modulus switching (the switch rounds c1 at random, so it adds at most
// switchHP ≈ 2^8.8 of noise with probability ≥ 1 − 2^−65, ≤ Q'/2^(ℓ+3),
// see Params.fit); q_x is the smallest prime for
// which Q″ = Q'·q_x holds a packed answer's flood (setPacking); the tail
// primes fill what the 128-bit bound leaves (MaxLogQ in all), and each
// layer takes the smallest subset that holds its noise (plan.budget), or
// fails when even all of them do not.
func NewParamsW(ell, weightBits uint) (*Params, error) {
	if ell < 1 || ell > 64 {
		return nil, fmt.Errorf("helinear: share width ℓ = %d outside 1..64", ell)
	}
	if weightBits < 1 || weightBits > ell {
		return nil, fmt.Errorf("helinear: weight bound of %d bits outside 1..ℓ = %d", weightBits, ell)
	}
	replyNeed := max(int(ell)+12, 30)
	k1 := (replyNeed + 59) / 60
	b1 := (replyNeed + k1 - 1) / k1
	var qs []uint64
	for range k1 {
		q, err := nttPrime(b1, qs)
		if err != nil {
			return nil, err
		}
		qs = append(qs, q)
	}
	p := &Params{Ell: ell, WeightBits: weightBits, ReplyPrimes: k1, LogQReply: log2Prod(qs),
		reply: newBasis(qs, ell), mask: ^uint64(0) >> (64 - ell)}
	if k1 == 1 {
		p.C0Bits = ell + 2
	}
	var err error
	if p.rr, err = lring.NewRing(N, qs); err != nil {
		return nil, fmt.Errorf("helinear: ring: %w", err)
	}
	// q_x: the smallest prime for which Q″ = Q'·q_x holds the flood over
	// the packing's own noise (2^packLogMax answers from a level far above
	// Q″, E_W scaled to nothing); a layer's level then adds tail primes
	// until E_W scaled to Q″ fits too (an error if no prime of ≤ 60 bits
	// does; none of ℓ = 1..64 fails). Q″ needs about ℓ + κ + 4 + log(packNoise) bits and
	// packNoise is about 2^(2k+13): the search starts a few bits below.
	packs := false
	for x := max(minPrimeBits, int(ell)+Kappa+2*packLogMax+14-int(p.LogQReply)); x <= 60 && !packs; x++ {
		qx, err := nttPrime(x, qs)
		if err != nil {
			continue // no prime of this size
		}
		p.Q = append(slices.Clone(qs), qx)
		if p.choosePacking(packLogMax) == nil {
			far := *p.packLevel()
			far.logQ += 64
			_, _, err := p.fitPacked(1, packLogMax, []*level{&far})
			packs = err == nil
		}
	}
	if !packs {
		return nil, fmt.Errorf("helinear: no packing modulus for ℓ = %d within the 128-bit bound", ell)
	}
	if err := p.buildPacking(); err != nil {
		return nil, err
	}
	room := MaxLogQ - 1 // primes of b bits are < 2^b: one bit of slack each
	for _, q := range p.Q {
		room -= bitsLen(q)
	}
	used := append(slices.Clone(p.Q), p.P...)
	for _, b := range tailSizes {
		if b > room {
			break
		}
		q, err := nttPrime(b, used)
		if err != nil {
			continue
		}
		p.Q, used = append(p.Q, q), append(used, q)
		room -= b
	}
	if room >= minPrimeBits {
		if q, err := nttPrimeAtMost(min(room, 60), used); err == nil {
			p.Q = append(p.Q, q)
		}
	}
	p.LogQ = log2Prod(p.Q)
	r, err := lring.NewRing(N, p.Q)
	if err != nil {
		return nil, fmt.Errorf("helinear: ring: %w", err)
	}
	p.r, p.full = r, newBasis(p.Q, ell)
	tail := len(p.Q) - k1
	for set := range 1 << tail {
		lv := &level{}
		for i := range k1 {
			lv.rows = append(lv.rows, i)
		}
		for i := range tail {
			if set>>i&1 == 1 {
				lv.rows = append(lv.rows, k1+i)
			}
		}
		for _, i := range lv.rows {
			lv.q = append(lv.q, p.Q[i])
		}
		lv.logQ = log2Prod(lv.q)
		p.levels = append(p.levels, lv)
	}
	// Ascending log Q; among equal sizes the fewer primes (less work).
	sort.SliceStable(p.levels, func(i, j int) bool {
		if a, b := p.levels[i], p.levels[j]; a.logQ != b.logQ {
			return a.logQ < b.logQ
		}
		return len(p.levels[i].q) < len(p.levels[j].q)
	})
	p.top().r, p.top().b = r, p.full // all primes, in the order of Q
	for _, lv := range p.levels {
		if len(lv.rows) == k1+1 && lv.rows[k1] == k1 {
			p.mLevel = lv
		}
	}
	return p, nil
}

// packLogMax is the PackLog of new parameters: packing up to 2^6
// answers per ciphertext. For ResNet-20 at ℓ = 37 (docs/BENCHMARKS.md)
// 2^5 → 2^6 saves 0.38 MB per image for 0.36 MB more keys; 2^7 saves
// nothing more (no layer's C_b or answer count reaches it).
var packLogMax = 6

// packKeys is the number of Galois keys sent, for τ_(PackLog−packKeys+1),
// …, τ_PackLog; the server applies τ_(l+1) twice for a smaller l (one
// more key switch per merge of those rounds, which have the fewest
// merges). 4 of 6 keys: ResNet-20 at ℓ = 28 sends 393 KB less per session
// for 21% more key switches per image (1,156 instead of 957).
var packKeys = 4

// packLevel is the level Q″ = Q'·q_x (before the levels are listed).
func (p *Params) packLevel() *level {
	lv := &level{q: p.ppQ, logQ: log2Prod(p.ppQ)}
	for i := range p.ppQ {
		lv.rows = append(lv.rows, i)
	}
	return lv
}

// digit is one part of the key switching's gadget decomposition: the
// primes ppQ[idx] of Q″, whose product D is extended to the rest of
// Q″·P by fast base conversion (c ↦ c + v·D, 0 ≤ v < len(idx)).
type digit struct {
	idx    []int
	logD   float64
	hatInv []uint64   // (D/q_i)^−1 mod q_i, Montgomery form
	hat    [][]uint64 // hat[m][x] = (D/q_idx[m]) mod ksQ[x], Montgomery form
}

// choosePacking sets the packing modulus Q″ = Q'·q_x (q_x =
// Q[ReplyPrimes]), the special modulus P (primes outside Q, in the keys
// only) and the key switching's digits for packing up to 2^k answers
// (k = 0: none): with log Q″ ≤ MaxLogQ/2 + 2, one digit (all of Q″)
// and log P ≈ log Q″ make the smallest keys (k keys of one polynomial
// over Q″·P each); otherwise each prime of Q″ is a digit and P one prime
// of 61 bits. log(Q″·P) must stay within MaxLogQ. buildPacking then
// makes the rings and constants.
func (p *Params) choosePacking(k int) error {
	p.PackLog = k
	p.keyFrom = max(1, k-packKeys+1)
	k1 := p.ReplyPrimes
	if k == 0 || len(p.Q) <= k1 {
		p.PackLog = 0
		return nil
	}
	p.ppQ = p.Q[: k1+1 : k1+1]
	mBits := 0 // primes of b bits are < 2^b: Σ b bounds log(Q″·P)
	for _, q := range p.ppQ {
		mBits += bitsLen(q)
	}
	used := slices.Clone(p.Q)
	p.P, p.digits = nil, nil
	if room := MaxLogQ - mBits; room >= mBits-4 {
		// One digit; P of about log Q″ bits (at most the room), in
		// primes of ≤ 60 bits.
		pb := min(mBits, room)
		n := (pb + 59) / 60
		for i := range n {
			b := pb / n
			if i < pb%n {
				b++
			}
			q, err := nttPrimeAtMost(b, used)
			if err != nil {
				return err
			}
			p.P, used = append(p.P, q), append(used, q)
		}
		d := digit{}
		for i := range p.ppQ {
			d.idx = append(d.idx, i)
		}
		p.digits = []digit{d}
	} else {
		q, err := nttPrime(61, used)
		if err != nil {
			return err
		}
		p.P = []uint64{q}
		for i := range p.ppQ {
			p.digits = append(p.digits, digit{idx: []int{i}})
		}
	}
	p.ksQ = append(slices.Clone(p.ppQ), p.P...)
	for g := range p.digits {
		d := &p.digits[g]
		d.logD = 0
		for _, i := range d.idx {
			d.logD += math.Log2(float64(p.ppQ[i]))
		}
	}
	if lq := log2Prod(p.ksQ); lq > MaxLogQ {
		return fmt.Errorf("helinear: Galois key modulus 2^%.1f above the 128-bit bound 2^%d", lq, MaxLogQ)
	}
	return nil
}

// buildPacking makes the rings and constants of choosePacking's choice.
func (p *Params) buildPacking() error {
	var err error
	if p.pp, err = lring.NewRing(N, p.ppQ); err != nil {
		return fmt.Errorf("helinear: ring: %w", err)
	}
	if p.ks, err = lring.NewRing(N, p.ksQ); err != nil {
		return fmt.Errorf("helinear: ring: %w", err)
	}
	for g := range p.digits {
		d := &p.digits[g]
		bigD := big.NewInt(1)
		for _, i := range d.idx {
			bigD.Mul(bigD, new(big.Int).SetUint64(p.ppQ[i]))
		}
		for _, i := range d.idx {
			bq := new(big.Int).SetUint64(p.ppQ[i])
			hat := new(big.Int).Div(bigD, bq)
			inv := new(big.Int).ModInverse(new(big.Int).Mod(hat, bq), bq).Uint64()
			d.hatInv = append(d.hatInv, lring.MForm(inv, p.ppQ[i], p.ks.SubRings[i].BRedConstant))
			row := make([]uint64, len(p.ksQ))
			for x, q := range p.ksQ {
				row[x] = lring.MForm(new(big.Int).Mod(hat, new(big.Int).SetUint64(q)).Uint64(), q, p.ks.SubRings[x].BRedConstant)
			}
			d.hat = append(d.hat, row)
		}
	}
	p.ppB = newBasis(p.ppQ, p.Ell)
	p.inv2 = make([][]uint64, len(p.ppQ))
	for i, q := range p.ppQ {
		half := (q + 1) / 2 // 2^−1 mod q
		v := uint64(1)
		for range p.PackLog + 1 {
			p.inv2[i] = append(p.inv2[i], lring.MForm(v, q, p.pp.SubRings[i].BRedConstant))
			v = rq.MulMod(v, half, q)
		}
	}
	return nil
}

func bitsLen(q uint64) int { return bits.Len64(q) }

// nttPrime returns the largest prime q < 2^b, q ≡ 1 mod 2N, not in used.
func nttPrime(b int, used []uint64) (uint64, error) {
	for q := (uint64(1)<<b-1)/(2*N)*(2*N) + 1; q > uint64(1)<<(b-1); q -= 2 * N {
		if q < uint64(1)<<b && !slices.Contains(used, q) && new(big.Int).SetUint64(q).ProbablyPrime(20) {
			return q, nil
		}
	}
	return 0, fmt.Errorf("helinear: no %d-bit prime ≡ 1 mod %d", b, 2*N)
}

// nttPrimeAtMost is nttPrime of b bits or, if there is none, of fewer.
func nttPrimeAtMost(b int, used []uint64) (uint64, error) {
	for ; b > minPrimeBits; b-- {
		if q, err := nttPrime(b, used); err == nil {
			return q, nil
		}
	}
	return nttPrime(minPrimeBits, used)
}

// ring returns the level's ring and basis, building them on first use.
func (p *Params) ring(lv *level) (*lring.Ring, *basis, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if lv.r == nil {
		r, err := lring.NewRing(N, lv.q)
		if err != nil {
			return nil, nil, fmt.Errorf("helinear: ring: %w", err)
		}
		lv.r, lv.b = r, newBasis(lv.q, p.Ell)
	}
	return lv.r, lv.b, nil
}

// rows returns the residues of pl (over all of Q, NTT or coefficient
// domain: the NTT of each residue depends only on its prime) at the
// level's primes, sharing pl's memory.
func (lv *level) rowsOf(pl lring.Poly) lring.Poly {
	c := make([][]uint64, len(lv.rows))
	for i, r := range lv.rows {
		c[i] = pl.Coeffs[r]
	}
	return lring.Poly{Coeffs: c}
}

// width returns the bits of a residue mod the level's i-th prime.
func (lv *level) width(i int) uint { return uint(bits.Len64(lv.q[i])) }

// freshBytes is the packed size of one fresh ciphertext's c0 at lv.
func (lv *level) freshBytes() int {
	n := 0
	for i := range lv.q {
		n += rq.SegBytes(N, lv.width(i))
	}
	return n
}

// signedMod returns v mod q for a signed v.
func signedMod(v int64, q uint64) uint64 {
	if v >= 0 {
		return uint64(v) % q
	}
	r := (uint64(-v)) % q // -MinInt64 wraps to 2^63, still correct as uint64
	if r == 0 {
		return 0
	}
	return q - r
}

// encodeScaled sets pt (coefficient domain) to ⌊Q·m/2^ℓ⌉ coefficient-wise
// for m ∈ Z_2^ℓ. Since q_i | Q, ⌊Qm/t⌋ ≡ −[Qm]_t·t^−1 (mod q_i), so the
// encoding needs no multi-precision arithmetic.
func (p *Params) encodeScaled(b *basis, m []uint64, pt lring.Poly) {
	half := uint64(1) << (p.Ell - 1)
	for i, q := range b.q {
		c, bc := pt.Coeffs[i], b.bred[i]
		for j, v := range m {
			rem := (b.qModT * v) & p.mask
			f := lring.BRed(q-lring.BRedAdd(rem, q, bc), b.tInv[i], q, bc) // ⌊Qm/t⌋ mod q
			if rem >= half {
				f++ // round half up
				if f == q {
					f = 0
				}
			}
			c[j] = f
		}
	}
}

// decodeAt writes ⌊2^ℓ·c/Q⌉ mod 2^ℓ of coefficient j of c (coefficient
// domain) to the return value. With y_i = c_i·(Q/q_i)^−1 mod q_i,
// t·c/Q ≡ Σ_i y_i·t/q_i (mod t); each term is split exactly into an
// integer part (bits.Div64) and a fraction, and only the sum of the k
// fractions is rounded in float64, whose error (< k·2^−52) is far inside
// the margin the noise bound leaves around ½.
func (p *Params) decodeAt(b *basis, c lring.Poly, j int) uint64 {
	var whole uint64
	var frac float64
	for i, q := range b.q {
		y := rq.MulMod(c.Coeffs[i][j], b.qHatInv[i], q)
		var hi, lo uint64
		if p.Ell == 64 {
			hi, lo = y, 0
		} else {
			hi, lo = y>>(64-p.Ell), y<<p.Ell
		}
		quo, rem := bits.Div64(hi, lo, q)
		whole += quo
		frac += float64(rem) / float64(q)
	}
	return (whole + uint64(math.Round(frac))) & p.mask
}

// switchC0 switches c mod q' (one reply prime) to ⌊2^C0Bits·c/q'⌉ mod
// 2^C0Bits (c·2^C0Bits < q'·2^64: bits.Div64 is exact).
func (p *Params) switchC0(c uint64) uint64 {
	q, b := p.Q[0], p.C0Bits
	lo, carry := bits.Add64(c<<b, q>>1, 0)
	quo, _ := bits.Div64(c>>(64-b)+carry, lo, q)
	return quo & (1<<b - 1)
}

// decodeSplit decodes a phase given as u = (c1·s)_j mod q' and v = c0 mod
// 2^C0Bits: ⌊2^ℓ·(u/q' + v/2^C0Bits)⌉ mod 2^ℓ, the integer parts exact
// and the two fractions (each known to 2^−52) summed in float64 (ℓ ≤ 48
// here, as q' < 2^60).
func (p *Params) decodeSplit(u, v uint64) uint64 {
	q, sh := p.Q[0], p.C0Bits-p.Ell
	quo, rem := bits.Div64(u>>(64-p.Ell), u<<p.Ell, q)
	frac := float64(rem)/float64(q) + float64(v&(1<<sh-1))/float64(uint64(1)<<sh)
	return (quo + v>>sh + uint64(math.Round(frac))) & p.mask
}

// checkPoly reports whether every residue of w, n words per prime of
// qs[:len(w)/n], is reduced (hostile input must not reach lattigo's lazy
// arithmetic with values ≥ q).
func checkPoly(qs []uint64, w []uint64, n int) error {
	for i, q := range qs[:len(w)/n] {
		for _, v := range w[i*n : (i+1)*n] {
			if v >= q {
				return fmt.Errorf("helinear: ciphertext residue %d ≥ modulus %d", v, q)
			}
		}
	}
	return nil
}

// polyFromWords returns a Poly with len(w)/N residues backed by w.
func polyFromWords(w []uint64) lring.Poly {
	c := make([][]uint64, len(w)/N)
	for i := range c {
		c[i] = w[i*N : (i+1)*N : (i+1)*N]
	}
	return lring.Poly{Coeffs: c}
}
