// Package hesimd computes elementwise quadratic forms with server-secret
// coefficients for the dealer-free two-party suite by SIMD (batched)
// homomorphic encryption over a prime plaintext modulus P, as Delphi does
// for its linear layers: one RLWE ciphertext of ring degree N carries N
// slots (Z_P[X]/(X^N+1) ≅ Z_P^N by the negacyclic NTT mod P, P ≡ 1 mod
// 2N), and a product of a ciphertext by a plaintext multiplies slot by
// slot. The client (party 1) holds the secret key and its share xc of x;
// the server (party 0) holds xs and the coefficients a, b, c. Quad leaves
// the client with y − r and the server with r, y = a·x² + b·x + c mod P.
//
// # Protocol (one round trip)
//
// The client sends Enc(xc) as a seeded fresh ciphertext (c1 from a 16-byte
// seed, only c0 on the wire). Since x² = xc² + 2·xc·xs + xs², the server
// computes for degree 1 (a = 0) one answer
//
//	(2a·xs + b)·Enc(xc) + ⌊Q·(a·xs² + b·xs + c − r)/P⌉
//
// and for degree 2 two: a·Enc(xc) − r1 and the one above with 2a·xs + b +
// r1 in place of 2a·xs + b, r1 uniform (the wire form degSplit). Each
// answer gets a fresh encryption of zero under the client's public key
// (re-randomisation), a flood on the noise of c0, a switch of c1 to a
// small prime q' and of c0 to 2^b; the client decrypts α = a·xc − r1 and
// γ and keeps α·xc + γ = y − r: a·xc² − r1·xc + (r1 + 2a·xs + b)·xc + … .
// Both decryptions are uniform (r1, r), so the client learns y − r only;
// the second answer replaces an upload of Enc(xc²), and an answer (log q'
// + b bits per element) is cheaper than an upload (log Q). Precompute
// keeps the older degree-2 form (Enc(xc) and Enc(xc²) up, one answer
// a·Enc(xc²) + (2a·xs + b)·Enc(xc) + …); PrecomputeQuad uses degSplit
// with the first answer offline. The encoding is Δ-scaling with
// randomised rounding (noise analysis): m ↦ ⌊Q·m/P⌋ + β ≈ Q·m/P, for which
// a plaintext product is exact up to noise.
//
// Precompute and Online split Quad as Delphi does (offline.go): the
// ciphertexts go ahead of the input, online only x − ρ and the answer
// (none for PrecomputeLinear, the second for PrecomputeQuad; for
// PrecomputeQuadElementwise both answers are offline and online the
// server sends a uniform e in the clear, quad_elem.go).
//
// # Noise analysis (circuit privacy and correctness)
//
// Fresh errors are centred binomial with η = 21: e is a sum of 2η
// independent ±½ terms, so |e| ≤ 21 and e is sub-Gaussian with variance
// proxy η/2 = 10.5 (E exp(λe) ≤ exp(λ²·10.5/2)); the secret is uniform
// ternary. The client encodes m ↦ ⌊Q·m/P⌋ + β with β ∈ {0, 1}, Pr[β = 1] =
// frac(Q·m/P) (randomised rounding): the encoding error ε = Q·m/P −
// ⌊Q·m/P⌋ − β has mean 0 and lies in an interval of length 1, so it is
// sub-Gaussian with proxy ¼ (Hoeffding's lemma) whatever m is. A plaintext
// product stays exact up to noise: (Q·m/P − ε)·w = (Q/P)·[mw]_P + Q·k − ε·w.
//
// Secret-dependent noise. The server's plaintexts w (centred, ‖w‖∞ ≤
// (P−1)/2) depend on a, b, c, xs and the client's xc or ρ, never on the
// client's fresh coins e and β. For a fixed w, coefficient j of (e − ε)·w
// is Σ_k ±(e_k − ε_k)·w_(j−k), N independent centred terms of proxy
// 10.75·w_(j−k)², so over the deg products of a query it is sub-Gaussian
// with proxy σ² ≤ 10.75·deg·N·((P−1)/2)² and exceeds σ·√(2·ln(2/δ)) with
// probability ≤ δ (Chernoff). With δ = 2^−64 and the constant's rounding
// (≤ ½), the secret-dependent noise of a coefficient is at most
//
//	E = (P−1)/2 · √(10.75·deg·N) · √(130·ln 2) + ½
//
// except with probability 2^−64 over the client's coins: √N where the
// worst case over the coins, deg·N·21.5·(P−1)/2, has N. The client knows
// its coins, so the bound is used for each fixed w, never averaged over w.
//
// Flooding. The server adds to every coefficient of c0 a uniform integer
// in [−F, F), F = 2^(fb−1) ≥ E/(2·(2^−(κ+2) − δ)), κ = 40. For client
// coins under the bound, the coefficient's distance from flood plus the
// secret-free noise is ≤ E/(2F); over the coins, counting the failure
// event as distance 1, it is ≤ δ + E/(2F) ≤ 2^−(κ+2) per coefficient. The
// floods are independent, so the distances add over the coefficients of
// an inference: ResNet-20's polynomial positions fill at most 26 groups of
// N = 8192, at most 52 answers (2^18.7 coefficients), which are within
// 2^−23.3 of a simulation from y − r alone; the tail bound fails for some
// coefficient with probability ≤ 2^−45.3.
//
// Re-randomisation. The encryption of zero adds u·e' + e0 + e1·s, at
// most 42N + 21 in the worst case (no failure event: a tail bound would
// move log Q by less than 2^−60, F ≥ 2^80 dominating), and makes c1 = (c1
// of the products) + u·a' + e1 pseudo-random under RLWE, so the answer is
// simulatable from y − r alone.
//
// Correctness. The modulus switch is post-processing of the flooded
// ciphertext with the server's own coins (it keeps the statistical
// hiding): c1 goes to q' by randomised rounding (errors τ1_k independent
// given c1, each in an interval of length 1 with mean 0 up to the float
// error, < 2^−48), c0 to 2^b by rounding (|τ0| ≤ ½ + 2^−50). The client
// decodes a coefficient correctly when
//
//	P·T/Q + P·t_r/q' + P·(½ + 2^−50)/2^b < ½,
//
// with T = F + E + 42N + 21 the noise at Q and t_r = √(N/4 · 130·ln 2) +
// N·2^−48 the bound on Σ τ1_k·s_(j−k) (proxy ≤ ‖s‖²/4 ≤ N/4), which fails
// with probability ≤ 2^−64. A coefficient decodes wrongly with probability
// ≤ 2^−63, an inference of 2^18.7 coefficients with ≤ 2^−44.3. NewParams
// splits the ½ among the three terms so that the wire bits per element
// (log Q per uploaded ciphertext, log q' + b per answer) are fewest for
// the form with two uploads and one answer (Precompute's degree 2); the
// same split is within one bit of the best for one upload and one or two
// answers. log P = 33, N = 8192 gives log Q = 120, q' < 2^45, b = 35
// (the worst-case bounds above needed 127–128, 44 and 36).
//
// # Security
//
// The ring degree is the smallest of N = 4096, 8192, 16384 whose bound
// from the HE standard's table (Albrecht et al., 2018: ternary secret,
// σ ≈ 3.2, 128-bit classical security: log Q ≤ 109, 218, 438) holds the
// modulus Q the noise analysis needs. Q is the only modulus keys live at
// (no key switching: no relinearisation or Galois keys), so log QP = log Q.
// pBits ≤ 27 uses N = 4096 (log Q ≤ 108), pBits 28..50 N = 8192 (log Q
// ≤ 155); the public key (setup) is one seeded polynomial over Q.
package hesimd

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"

	lring "github.com/tuneinsight/lattigo/v6/ring"

	"github.com/autorep/autorep/internal/rq"
	"github.com/autorep/autorep/ring"
)

const (
	// Kappa is the statistical security parameter of noise flooding
	// (per coefficient, distance ≤ 2^−(Kappa+2)).
	Kappa = 40
	// MinPBits and MaxPBits bound the plaintext modulus's size.
	MinPBits, MaxPBits = 20, 50
	// eta is the centred-binomial parameter of the error distribution.
	eta = rq.Eta
	// maxDeg is the degree Q is sized for.
	maxDeg = 2
	// tailBits: each tail bound of the package doc fails with probability
	// ≤ 2^−tailBits per coefficient.
	tailBits = 64
	// roundBias bounds the float error of the switch's randomised rounding
	// (its mean), and switchErr that of the c0 switch's rounding beyond ½.
	roundBias, switchErr = 0x1p-48, 0x1p-50
	// marginSlack keeps the sum of the decryption margins strictly below ½.
	marginSlack = 0x1p-20
)

// securityTable maps log2 N to the largest log Q at 128-bit classical
// security (HE standard, ternary secret, σ ≈ 3.2).
var securityTable = []struct {
	logN    int
	maxLogQ float64
}{{12, 109}, {13, 218}, {14, 438}}

// Params are the parameters of one plaintext modulus P. Both parties build
// them from the same public pBits.
type Params struct {
	PBits  int      // P < 2^PBits, P ≥ 2^(PBits−1)
	LogN   int      // log2 of the ring degree (= number of slots)
	N      int      // ring degree
	Q      []uint64 // ciphertext modulus primes (fresh ciphertexts, public key)
	LogQ   float64  // log2 of the product of Q
	QR     uint64   // the prime c1 of an answer is switched to
	C0Bits uint     // c0 of an answer is switched to 2^C0Bits
	// FloodBits is fb: the flood is uniform in [−2^(fb−1), 2^(fb−1)).
	FloodBits int

	p      uint64
	rQ     *lring.Ring // R_Q
	rP     *lring.Ring // R_P (slot encoding by its NTT)
	rR     *lring.Ring // R_q'
	qModP  uint64      // Q mod P
	pInv   []uint64    // P^−1 mod q_i
	qHatIn []uint64    // (Q/q_i)^−1 mod q_i
	widths []uint      // bit length of each q_i (wire width)
	// noise holds the package doc's bounds: E (secret-dependent), T (all
	// noise at Q) and t_r (the switch's Σ τ1·s).
	noise bounds
	// margins are the decryption margins P·T/Q, P·t_r/q', P·(½+2^−50)/2^b.
	margins [3]float64
}

// NewParams returns parameters whose plaintext modulus P is the largest
// prime below 2^pBits with P ≡ 1 mod 2N, for pBits in [MinPBits,
// MaxPBits], at 128-bit security, with Q sized for degree-2 forms' noise
// plus flooding (see the package doc).
func NewParams(pBits int) (*Params, error) {
	if pBits < MinPBits || pBits > MaxPBits {
		return nil, fmt.Errorf("hesimd: plaintext modulus of %d bits outside %d..%d", pBits, MinPBits, MaxPBits)
	}
	for _, row := range securityTable {
		p, err := newParams(pBits, row.logN, row.maxLogQ)
		if err == nil {
			return p, nil
		}
		if err != errTooBig {
			return nil, err
		}
	}
	return nil, fmt.Errorf("hesimd: no ring degree holds the noise of a %d-bit plaintext modulus at 128-bit security", pBits)
}

var errTooBig = fmt.Errorf("hesimd: modulus above the security bound")

func newParams(pBits, logN int, maxLogQ float64) (*Params, error) {
	n := 1 << logN
	P, err := nttPrime(pBits, n, nil)
	if err != nil {
		return nil, err
	}
	fp := float64(P)
	nb := noiseBounds(P, n)
	// The split of the ½ margin (package doc) with the fewest bits per
	// element of the form deg = 2: 2·log Q + log q' + b, with q'
	// estimated as 2^r·(1 − 2^−10) (an NTT prime that close to 2^r exists
	// for every r used here; the actual q' is checked below).
	var c0Bits, rBits int
	best := math.Inf(1)
	for c := pBits + 1; c <= pBits+8; c++ {
		fc := fp * (0.5 + switchErr) / math.Exp2(float64(c))
		for r := pBits + 1; r <= 61; r++ {
			fq := 0.5 - marginSlack - fc - fp*nb.tR/(math.Exp2(float64(r))*(1-0x1p-10))
			if fq <= 0 {
				continue
			}
			if cost := maxDeg*math.Ceil(math.Log2(fp*nb.T/fq)) + float64(r+c); cost < best {
				best, c0Bits, rBits = cost, c, r
			}
		}
	}
	if math.IsInf(best, 1) {
		return nil, fmt.Errorf("hesimd: no reply prime below 2^61 leaves a decryption margin")
	}
	qr, err := nttPrime(rBits, n, []uint64{P})
	if err != nil {
		return nil, err
	}
	fc := fp * (0.5 + switchErr) / math.Exp2(float64(c0Bits))
	fr := fp * nb.tR / float64(qr)
	fq := 0.5 - marginSlack - fc - fr
	if fq <= 0 {
		return nil, fmt.Errorf("hesimd: reply prime %d leaves no decryption margin", qr)
	}
	needQ := math.Log2(fp * nb.T / fq) // P·T/Q ≤ fq
	if needQ > maxLogQ {
		return nil, errTooBig
	}
	// Q: the fewest primes (≤ 60 bits each) whose product reaches 2^needQ,
	// sizes within one bit of each other; the largest primes below 2^b
	// waste almost nothing of each b-bit wire word.
	k := int(math.Ceil(needQ / 60))
	var qs []uint64
	for B := int(math.Ceil(needQ)); ; B++ {
		if float64(B) > maxLogQ {
			return nil, errTooBig
		}
		qs = qs[:0]
		used := []uint64{P, qr}
		for i := range k {
			b := B / k
			if i < B%k {
				b++
			}
			q, err := nttPrime(b, n, used)
			if err != nil {
				return nil, err
			}
			qs = append(qs, q)
			used = append(used, q)
		}
		if log2Prod(qs) >= needQ {
			break
		}
	}
	p := &Params{PBits: pBits, LogN: logN, N: n, Q: qs, LogQ: log2Prod(qs), QR: qr, C0Bits: uint(c0Bits),
		FloodBits: nb.fb, p: P, noise: nb}
	p.margins = [3]float64{fp * nb.T / math.Exp2(p.LogQ), fr, fc}
	if p.rQ, err = lring.NewRing(n, qs); err != nil {
		return nil, fmt.Errorf("hesimd: ring: %w", err)
	}
	if p.rP, err = lring.NewRing(n, []uint64{P}); err != nil {
		return nil, fmt.Errorf("hesimd: ring: %w", err)
	}
	if p.rR, err = lring.NewRing(n, []uint64{qr}); err != nil {
		return nil, fmt.Errorf("hesimd: ring: %w", err)
	}
	bigQ := big.NewInt(1)
	for _, q := range qs {
		bigQ.Mul(bigQ, new(big.Int).SetUint64(q))
	}
	bp := new(big.Int).SetUint64(P)
	p.qModP = new(big.Int).Mod(bigQ, bp).Uint64()
	for _, q := range qs {
		bq := new(big.Int).SetUint64(q)
		p.pInv = append(p.pInv, new(big.Int).ModInverse(new(big.Int).Mod(bp, bq), bq).Uint64())
		qHat := new(big.Int).Div(bigQ, bq)
		p.qHatIn = append(p.qHatIn, new(big.Int).ModInverse(qHat.Mod(qHat, bq), bq).Uint64())
		p.widths = append(p.widths, uint(bits.Len64(q)))
	}
	return p, nil
}

// bounds are the package doc's noise bounds for P and N.
type bounds struct {
	E, T, tR float64
	fb       int
}

// noiseBounds returns the package doc's E, flood width fb, T and t_r.
func noiseBounds(P uint64, n int) bounds {
	fn := float64(n)
	z := math.Sqrt(2 * (tailBits + 1) * math.Ln2) // √(2·ln(2/δ)), δ = 2^−tailBits
	e := float64(P-1)/2*math.Sqrt((eta/2.0+0.25)*maxDeg*fn)*z + 0.5
	// F = 2^(fb−1) ≥ E/(2·(2^−(κ+2) − δ)): distance ≤ δ + E/(2F) ≤ 2^−(κ+2).
	fb := int(math.Ceil(math.Log2(e/(2*(math.Exp2(-(Kappa+2))-math.Exp2(-tailBits)))))) + 1
	return bounds{
		E:  e,
		T:  math.Exp2(float64(fb-1)) + e + 2*eta*fn + eta,
		tR: math.Sqrt(fn/4)*z + fn*roundBias,
		fb: fb,
	}
}

// P returns the plaintext modulus.
func (p *Params) P() uint64 { return p.p }

// Slots returns the number of elements one ciphertext carries (N).
func (p *Params) Slots() int { return p.N }

// MaxLogQ returns the 128-bit bound on log Q for the parameters' ring
// degree (HE standard table).
func (p *Params) MaxLogQ() float64 {
	for _, row := range securityTable {
		if row.logN == p.LogN {
			return row.maxLogQ
		}
	}
	return 0
}

// freshBytes is the packed size of one polynomial over Q.
func (p *Params) freshBytes() int {
	n := 0
	for _, w := range p.widths {
		n += rq.SegBytes(p.N, w)
	}
	return n
}

// replyBytes is the packed size of one answer: c1 mod q', c0 mod 2^C0Bits.
func (p *Params) replyBytes() int {
	return rq.SegBytes(p.N, uint(bits.Len64(p.QR))) + rq.SegBytes(p.N, p.C0Bits)
}

// nttPrime returns the largest prime q < 2^b, q ≡ 1 mod 2n, not in used.
func nttPrime(b, n int, used []uint64) (uint64, error) {
	m := uint64(2 * n)
	for q := (uint64(1)<<b-1)/m*m + 1; q > uint64(1)<<(b-1); q -= m {
		if q < uint64(1)<<b && !slices.Contains(used, q) && new(big.Int).SetUint64(q).ProbablyPrime(20) {
			return q, nil
		}
	}
	return 0, fmt.Errorf("hesimd: no %d-bit prime ≡ 1 mod %d", b, m)
}

func log2Prod(qs []uint64) float64 {
	var l float64
	for _, q := range qs {
		l += math.Log2(float64(q))
	}
	return l
}

// encodeScaled sets pt (coefficient domain over Q) to ⌊Q·m/P⌋ + β for the
// coefficients m ∈ [0, P): β rounds half up when prg is nil (the server's
// constant), and is 1 with probability frac(Q·m/P) otherwise (the client's
// randomised rounding, package doc). With rem = Q·m mod P, ⌊Qm/P⌋ ≡
// −rem·P^−1 (mod q_i) since q_i | Q, so no multi-precision arithmetic is
// needed; frac(Q·m/P) = rem/P, so β = [v < rem] for v uniform mod P.
func (p *Params) encodeScaled(m []uint64, pt lring.Poly, prg *ring.PRG) {
	P := p.p
	rem := make([]uint64, len(m))
	up := make([]bool, len(m))
	var v []uint64
	if prg != nil {
		v = make([]uint64, len(m))
		uniformModP(prg, v, P)
	}
	for j, x := range m {
		rem[j] = rq.MulMod(p.qModP, x, P)
		if v != nil {
			up[j] = v[j] < rem[j]
		} else {
			up[j] = 2*rem[j] >= P
		}
	}
	for i, q := range p.Q {
		c := pt.Coeffs[i]
		for j := range m {
			f := rq.MulMod((q-rem[j]%q)%q, p.pInv[i], q)
			if up[j] {
				f++
				if f == q {
					f = 0
				}
			}
			c[j] = f
		}
	}
}

// liftCentred sets pt (coefficient domain over Q) to the centred lift of
// the coefficients m ∈ [0, P) to (−P/2, P/2].
func (p *Params) liftCentred(m []uint64, pt lring.Poly) {
	P := p.p
	for i, q := range p.Q {
		c := pt.Coeffs[i]
		for j, v := range m {
			if v > P/2 {
				c[j] = q - (P-v)%q
				if c[j] == q {
					c[j] = 0
				}
			} else {
				c[j] = v % q
			}
		}
	}
}

// scaleRound returns ⌊t·c/Q + u⌋ mod t for coefficient j of c
// (coefficient domain over Q), t < 2^64, u ∈ [0, 1): u = ½ rounds to
// nearest, a uniform u rounds up with probability frac(t·c/Q) (randomised
// rounding). With y_i = c_i·(Q/q_i)^−1 mod q_i, t·c/Q ≡ Σ_i y_i·t/q_i (mod
// t); each term is split exactly into an integer part (bits.Div64) and a
// fraction, and only the sum of the fractions and u is rounded in float64
// (error < (k+1)·2^−53: the rounding's threshold moves by at most that,
// |τ| ≤ ½ + 2^−50 for u = ½ and the mean of a randomised τ by < 2^−48).
func (p *Params) scaleRound(c lring.Poly, j int, t uint64, u float64) uint64 {
	var whole uint64
	frac := u
	for i, q := range p.Q {
		y := rq.MulMod(c.Coeffs[i][j], p.qHatIn[i], q)
		hi, lo := bits.Mul64(y, t)
		quo, rem := bits.Div64(hi, lo, q) // y·t < q·2^64
		whole = rq.AddMod(whole, quo, t)
		frac += float64(rem) / float64(q)
	}
	return rq.AddMod(whole, uint64(math.Floor(frac))%t, t)
}

// uniform01 returns a uniform float64 in [0, 1) (53 bits).
func uniform01(prg *ring.PRG) float64 { return float64(prg.Uint64()>>11) * 0x1p-53 }

func bitsLen(q uint64) int { return bits.Len64(q) }

// decodeSplit decodes a phase given as u = (c1·s)_j mod q' and v = c0 mod
// 2^C0Bits: ⌊P·(u/q' + v/2^C0Bits)⌉ mod P, the integer parts exact and
// the two fractions summed in float64.
func (p *Params) decodeSplit(u, v uint64) uint64 {
	P := p.p
	hi, lo := bits.Mul64(u, P)
	quo, rem := bits.Div64(hi, lo, p.QR) // u < q'
	hi, lo = bits.Mul64(v, P)
	b := p.C0Bits
	whole := hi<<(64-b) | lo>>b // v·P < 2^(C0Bits+PBits) ≤ 2^104: fits
	frac := float64(rem)/float64(p.QR) + float64(lo&(1<<b-1))/float64(uint64(1)<<b)
	return (quo%P + whole%P + uint64(math.Round(frac))) % P
}
