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
// The client sends Enc(xc) (and Enc(xc²) for degree 2) as seeded fresh
// ciphertexts (c1 from a 16-byte seed, only c0 on the wire). Since x² =
// xc² + 2·xc·xs + xs², the server computes
//
//	a·Enc(xc²) + (2a·xs + b)·Enc(xc) + (a·xs² + b·xs + c − r)
//
// adds a fresh encryption of zero under the client's public key
// (re-randomisation), floods the noise of c0, switches c1 to a small prime
// q' and c0 to 2^(pBits+3) and returns both; the client decrypts and
// decodes. The encoding is Δ-scaling in the rounded form helinear uses:
// m ↦ ⌊Q·m/P⌉, for which a plaintext product is exact, ⌊Qm/P⌉·w =
// (Q/P)·[mw]_P + Q·k − ε·w with |ε| ≤ ½.
//
// Precompute and Online split Quad as Delphi does (offline.go): the
// ciphertexts go ahead of the input, online only x − ρ and the answer.
//
// # Noise analysis (circuit privacy and correctness)
//
// Fresh errors are centred binomial with η = 21 (|e| ≤ 21, σ ≈ 3.24), the
// secret is ternary. A plaintext w is centred, ‖w‖∞ ≤ (P−1)/2, so the
// noise that depends on the server's secrets is at most
//
//	E = deg·N·(21 + ½)·(P−1)/2 + ½
//
// (the products' (e + ε)·w and the constant's rounding). The server adds
// to every coefficient of c0 a uniform integer in [−F, F) with F =
// 2^(fb−1) ≥ 2^(κ+1)·E, κ = 40: the distance of each coefficient from a
// secret-free distribution is ≤ E/(2F) ≤ 2^−(κ+2). The encryption of zero
// adds noise u·e' + e0 + e1·s, |·| ≤ 42N + 21, and makes c1 = (c1 of the
// products) + u·a' + e1 pseudo-random under RLWE, so the answer is
// simulatable from y − r alone. The modulus switch is public
// post-processing of the flooded ciphertext (it keeps the statistical
// hiding). Decryption is correct when P·(total noise)/Q + P·|τ1·s|/q' +
// P·|τ0|/2^b < ½, with τ0, τ1 the switch's roundings (|τ| ≤ ½): Q is
// chosen so that P·(F + E + 42N + 21)/Q ≤ 1/4, q' so that P·B/q' ≤ 0.18
// with B = √(N·ln(2^41)/2) (Hoeffding: |Σ τ1_k·s_k| ≤ B except with
// probability 2^−40 per coefficient, treating the roundings of the
// pseudo-random c1 as independent uniform), and b = pBits + 3 (≤ 1/16):
// 1/4 + 0.18 + 1/16 < ½. (Q's share is the largest because Q is paid once
// per uploaded ciphertext, twice for degree 2.)
//
// # Security
//
// The ring degree is the smallest of N = 4096, 8192, 16384 whose bound
// from the HE standard's table (Albrecht et al., 2018: ternary secret,
// σ ≈ 3.2, 128-bit classical security: log Q ≤ 109, 218, 438) holds the
// modulus Q the noise analysis needs. Q is the only modulus keys live at
// (no key switching: no relinearisation or Galois keys), so log QP = log Q.
// pBits ≤ 24 uses N = 4096 (log Q ≤ 109), pBits 25..50 N = 8192 (log Q
// ≤ 162); the public key (setup) is one seeded polynomial over Q.
package hesimd

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"

	lring "github.com/tuneinsight/lattigo/v6/ring"

	"github.com/autorep/autorep/internal/rq"
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
	// msShare is the part of the decryption margin (in units of 1/P) left
	// to c1's switch to q' (package doc: 1/4 + msShare + 1/16 < ½); it
	// lets pBits = 50 keep q' below 2^61.
	msShare = 0.18
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
	fn := float64(n)
	lp := float64(pBits) // log2 of an upper bound on P
	// Secret-dependent noise E and the flood F = 2^(fb−1) ≥ 2^(κ+1)·E.
	logE := math.Log2(maxDeg*fn*(eta+0.5)*float64(P-1)/2 + 0.5)
	fb := int(math.Ceil(Kappa+1+logE)) + 1
	total := math.Log2(math.Exp2(float64(fb-1)) + math.Exp2(logE) + 2*eta*fn + eta)
	needQ := lp + 2 + total // P·T/Q ≤ 1/4
	if needQ > maxLogQ {
		return nil, errTooBig
	}
	hoeff := math.Sqrt(fn * (Kappa + 1) * math.Ln2 / 2)
	needR := lp + math.Log2(hoeff/msShare) // P·B/q' ≤ msShare
	rBits := int(math.Ceil(needR))
	if rBits > 61 {
		return nil, fmt.Errorf("hesimd: reply prime of %d bits needed, above 61", rBits)
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
		used := []uint64{P}
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
	qr, err := nttPrime(rBits, n, append(slices.Clone(qs), P))
	if err != nil {
		return nil, err
	}
	if math.Log2(float64(qr)) < needR {
		return nil, fmt.Errorf("hesimd: no reply prime of 2^%.2f or more below 2^61", needR)
	}
	p := &Params{PBits: pBits, LogN: logN, N: n, Q: qs, LogQ: log2Prod(qs), QR: qr, C0Bits: uint(pBits + 3),
		FloodBits: fb, p: P}
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

// encodeScaled sets pt (coefficient domain over Q) to ⌊Q·m/P⌉ for the
// coefficients m ∈ [0, P): with rem = Q·m mod P, ⌊Qm/P⌋ ≡ −rem·P^−1 (mod
// q_i) since q_i | Q, so no multi-precision arithmetic is needed.
func (p *Params) encodeScaled(m []uint64, pt lring.Poly) {
	P := p.p
	for i, q := range p.Q {
		c := pt.Coeffs[i]
		for j, v := range m {
			rem := rq.MulMod(p.qModP, v, P)
			f := rq.MulMod((q-rem%q)%q, p.pInv[i], q)
			if 2*rem >= P { // round half up
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

// scaleRound returns ⌊t·c/Q⌉ mod t for coefficient j of c (coefficient
// domain over Q), t < 2^64. With y_i = c_i·(Q/q_i)^−1 mod q_i, t·c/Q ≡
// Σ_i y_i·t/q_i (mod t); each term is split exactly into an integer part
// (bits.Div64) and a fraction, and only the sum of the fractions is
// rounded in float64 (error < k·2^−52: at worst a rounding off by one
// when the sum is within that of ½, i.e. |τ| ≤ ½ + 2^−50).
func (p *Params) scaleRound(c lring.Poly, j int, t uint64) uint64 {
	var whole uint64
	var frac float64
	for i, q := range p.Q {
		y := rq.MulMod(c.Coeffs[i][j], p.qHatIn[i], q)
		hi, lo := bits.Mul64(y, t)
		quo, rem := bits.Div64(hi, lo, q) // y·t < q·2^64
		whole = rq.AddMod(whole, quo, t)
		frac += float64(rem) / float64(q)
	}
	return rq.AddMod(whole, uint64(math.Round(frac))%t, t)
}

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
