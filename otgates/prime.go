package otgates

import (
	"fmt"
	"math/bits"

	"github.com/autorep/autorep/ot"
	"github.com/autorep/autorep/transport"
)

// Conversions between additive shares mod 2^ℓ and additive shares mod an
// odd prime P (the plaintext modulus of homomorphic encryption, package
// hesimd), both with Cheetah's known-MSB trick: once a value is biased
// into the lower half of its modulus, whether its two shares wrap is
// a0 ∨ a1 = a0 + a1 − a0·a1 for the parties' own "upper half" bits a_b,
// and only the product a0·a1 needs an OT. Shares mod P are []uint64
// values in [0, P).

// MaxPrime bounds the prime moduli of the conversions: below 2^62 a sum of
// two residues stays below 2^63, so the mod-P arithmetic here never
// overflows.
const MaxPrime = 1 << 62

func checkPrime(P uint64) error {
	if P < 3 || P >= MaxPrime || P&1 == 0 {
		return fmt.Errorf("otgates: modulus %d, want an odd prime in [3, 2^62)", P)
	}
	return nil
}

// mulMod is a·b mod P.
func mulMod(a, b, P uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return bits.Rem64(hi, lo, P)
}

// pow2Mod is 2^k mod P.
func pow2Mod(k int, P uint64) uint64 {
	if k < 64 {
		return (uint64(1) << uint(k)) % P
	}
	return mulMod(1<<32, pow2Mod(k-32, P), P)
}

// ToPrime converts shares mod 2^ℓ of signed x, |x| < 2^(ℓ−2), into shares
// mod P of x mod P (2 ≤ ℓ ≤ 64; P an odd prime below 2^62 — P > 2^(ℓ−1)
// makes the signed value recoverable, |x| < P/2). Cost: one correlated OT
// and ⌈log2 P⌉ bits per element, one round.
func (p *Party) ToPrime(x []uint64, ell int, P uint64) ([]uint64, error) {
	return p.ToPrimeTrunc(x, ell, 0, P)
}

// ToPrimeTrunc is ToPrime of Trunc's centred truncation,
// ⌊(x + 2^(s−1))/2^s⌋ − e, e ∈ {0, 1} — ⌊x/2^s⌋ + δ, δ ∈ {−1, 0, 1}
// (0 for s = 0), E[δ] = 2^−(s+1) over uniform shares and low bits of x —
// (0 ≤ s ≤ ℓ−2): the faithful truncation fused into the conversion at no
// extra cost.
//
// Party 0 adds 2^(ℓ−2), so x' = x + 2^(ℓ−2) ∈ [0, 2^(ℓ−1)); its shares
// x0' + x1' = x' + w·2^ℓ wrap exactly when w = a0 ∨ a1, a_b = msb(x_b').
// Then ⌊(x0' + 2^(s−1))/2^s⌋ + (x1' >> s) − w·2^(ℓ−s) − 2^(ℓ−2−s) =
// ⌊(x + 2^(s−1))/2^s⌋ − e over the integers (e the carry of the discarded
// low bits; party 0's quotient is roundedQuot), and every term is a
// party's own value except w's product a0·a1, which one correlated OT mod
// P gives (mulPrime).
func (p *Party) ToPrimeTrunc(x []uint64, ell, s int, P uint64) ([]uint64, error) {
	c, err := p.toPrime(x, ell, s, P)
	if err != nil {
		return nil, err
	}
	prod, err := p.bitProductMod(c.a, P)
	if err != nil {
		return nil, err
	}
	return c.fin(prod), nil
}

// toPrime is ToPrimeTrunc's local part: the bits a_b whose product the
// conversion needs, and the end that combines its shares of it.
func (p *Party) toPrime(x []uint64, ell, s int, P uint64) (*Conv, error) {
	if err := checkEll(ell); err != nil {
		return nil, err
	}
	if err := checkPrime(P); err != nil {
		return nil, err
	}
	if ell < 2 || s < 0 || s > ell-2 {
		return nil, fmt.Errorf("otgates: conversion to mod P with truncation by %d bits of ℓ = %d, want 0 ≤ s ≤ ℓ−2", s, ell)
	}
	n := len(x)
	m := mask(ell)
	bias := uint64(1) << uint(ell-2)
	a := make([]uint8, n)
	y := make([]uint64, n)
	for i, v := range x {
		v &= m
		if p.ID == 0 {
			v = (v + bias) & m
		}
		a[i] = uint8(v >> uint(ell-1))
		if p.ID == 0 {
			y[i] = roundedQuot(v, s) % P
		} else {
			y[i] = (v >> uint(s)) % P
		}
	}
	k := pow2Mod(ell-s, P)
	corr := (bias >> uint(s)) % P
	return &Conv{p: p, a: a, fin: func(prod []uint64) []uint64 {
		for i := range y {
			// This party's share of w = a0 + a1 − a0·a1, times 2^(ℓ−s).
			w := (uint64(a[i]) + P - prod[i]) % P
			y[i] = (y[i] + P - mulMod(w, k, P)) % P
			if p.ID == 0 {
				y[i] = (y[i] + P - corr) % P
			}
		}
		return y
	}}, nil
}

// FromPrime converts shares mod P of y, |y| < P/4 (y as a signed residue),
// into shares mod 2^ℓ of y (1 ≤ ℓ ≤ 64; y is recovered as a signed ℓ-bit
// value when |y| < 2^(ℓ−1), and mod 2^ℓ in any case). Input shares are
// reduced mod P. Cost: one correlated OT and ℓ bits per element, one
// round.
//
// Party 0 adds a bias B ≈ P/4, so y' = y + B ∈ [0, P/2); the shares,
// integers in [0, P), then wrap (y0 + y1 = y' + P) exactly when one of
// them is at least P/2, w = a0 ∨ a1 with a_b = [y_b > (P−1)/2], and
// y' = y0 + y1 − w·P over the integers, hence mod 2^ℓ: the product a0·a1
// by bitProduct mod 2^ℓ on the multiplication extension.
func (p *Party) FromPrime(y []uint64, P uint64, ell int) ([]uint64, error) {
	return p.FromPrimeTrunc(y, P, ell, 0)
}

// FromPrimeTrunc is FromPrime of y/2^s rounded: ⌊y/2^s⌋ + δ, δ ∈ {−1, 0,
// 1} (δ = 0 for s = 0), with E[δ] = 2^−(s+1) + ε over uniform shares and
// low bits of y, |ε| ≤ |y|/(2P) + 2^−(s+1) (≈ 0 for |y| ≪ P), for
// |y| < P/4 − 2^s: the truncation after a product mod P fused into the
// conversion at no extra cost (one OT and ℓ bits per element; a separate
// Trunc would cost a second OT).
//
// The bias B is ⌊P/4⌋ rounded down to a multiple of 2^s. Write P = Q·2^s
// + ρ with Q = P/2^s rounded to nearest (|ρ| ≤ 2^(s−1)). Party 0 takes
// ⌊(u0 + c)/2^s⌋ − w0·Q − B/2^s and party 1 ⌊u1/2^s⌋ − w1·Q, with u the
// shares after the bias (u0 + u1 = y + B + w·P) and w_b a party's share of
// the wrap; the sum is (y + c − D)/2^s for the dropped D = r0 + r1 − w·ρ,
// r_b the low s bits of u0 + c and u1. Without a wrap (w = 0) that is
// Trunc's carry; a wrap (probability π = (P − 1 − B − y)/P ≈ ¾) also
// drops ρ/2^s. So E[result] = (y + c + π·ρ − 2^s + 1)/2^s, and the
// public offset c = 2^(s−1) − round(π0·ρ), π0 the wrap probability at
// y = 0 (wrapShare), centres it like Trunc. (Q = ⌊P/2^s⌋ and no offset,
// as before issue 15, gave δ ∈ {−1, 0, 1} of mean −½ + π·(P mod 2^s)/2^s:
// measured +0.01 and +0.08 at the PolyHE form's 33- and 36-bit primes by
// 2f = 18 and 20, whose P mod 2^s are 0.69 and 0.77 of 2^s, and down to
// −½ for other primes.) With |ρ| ≤ 2^(s−1) and 0 ≤ c ≤ 2^s the result
// stays within one unit of ⌊y/2^s⌋.
func (p *Party) FromPrimeTrunc(y []uint64, P uint64, ell, s int) ([]uint64, error) {
	c, err := p.fromPrime(y, P, ell, s)
	if err != nil {
		return nil, err
	}
	prod, err := p.bitProductOn(p.OT.MulSend, p.OT.MulRecv, c.a, ell)
	if err != nil {
		return nil, err
	}
	return c.fin(prod), nil
}

// fromPrime is FromPrimeTrunc's local part (see toPrime).
func (p *Party) fromPrime(y []uint64, P uint64, ell, s int) (*Conv, error) {
	if err := checkEll(ell); err != nil {
		return nil, err
	}
	if err := checkPrime(P); err != nil {
		return nil, err
	}
	if s < 0 || (s > 0 && (s >= 62 || uint64(1)<<uint(s) >= P/4)) {
		return nil, fmt.Errorf("otgates: conversion from mod P = %d with truncation by %d bits, want 2^s < P/4", P, s)
	}
	n := len(y)
	bias := P / 4 &^ (uint64(1)<<uint(s) - 1)
	half := (P - 1) / 2
	Q, off := P, uint64(0)
	if s > 0 {
		h := uint64(1) << uint(s-1)
		Q = (P + h) >> uint(s)
		rho := int64(P) - int64(Q<<uint(s)) // in [−2^(s−1), 2^(s−1))
		off = uint64(int64(h) - wrapShare(P, bias, rho))
	}
	q := make([]uint64, n)
	a := make([]uint8, n)
	for i, u := range y {
		u %= P
		if p.ID == 0 {
			u = (u + bias) % P
			q[i] = (u + off) >> uint(s)
		} else {
			q[i] = u >> uint(s)
		}
		if u > half {
			a[i] = 1
		}
	}
	m := mask(ell)
	return &Conv{p: p, a: a, fin: func(prod []uint64) []uint64 {
		out := make([]uint64, n)
		for i, v := range q {
			out[i] = (v - (uint64(a[i])-prod[i])*Q) & m
			if p.ID == 0 {
				out[i] = (out[i] - bias>>uint(s)) & m
			}
		}
		return out
	}}, nil
}

// wrapShare is round(π0·ρ) for FromPrimeTrunc's offset: π0 = (P − 1 −
// B)/P, the probability that uniform shares of y' = B (y = 0) wrap mod P,
// times ρ, rounded half away from zero; exact in 128-bit arithmetic
// (P − 1 − B < P, so the quotient fits).
func wrapShare(P, B uint64, rho int64) int64 {
	mag := uint64(rho)
	if rho < 0 {
		mag = uint64(-rho)
	}
	hi, lo := bits.Mul64(P-1-B, mag)
	q, r := bits.Div64(hi, lo, P)
	if 2*r >= P {
		q++
	}
	if rho < 0 {
		return -int64(q)
	}
	return int64(q)
}

// Conv is a conversion (ToPrimeTrunc, FromPrimeTrunc) or truncation
// (Trunc) split at its messages, so that a caller can put them in the
// rounds of another gate (pi runs them in ReLUTrunc's). Its one joint
// term, the bit product a0·a1, is a random OT from party 0 (on the
// multiplication extension; Trunc's on the comparison one), derandomized: party 1, the receiver, sends its
// choices a1 (First: its input is needed here), party 0 answers with X +
// a0 − H1 mod M (Second: its input is needed only here), ⌈log2 M⌉ bits
// each, M = P or 2^w. So First sends from party 1 only and Second from
// party 0 only, one message each, and none of the extension's calls (the
// COTs) happen in Second. The values are the gates' own (the same product
// and shares' distribution); the counts are the gates' (PrimeCOTs(n),
// TruncCOTs), all taken in First. Both parties call
// First, Second, then Result; a Conv serves once.
type Conv struct {
	p    *Party
	snd  *ot.Sender   // party 0's sender of the extension
	rcv  *ot.Receiver // party 1's receiver
	n    int
	mod  uint64 // P, or 0 for 2^w
	w    int    // bits per correlation
	prep func(in []uint64) ([]uint8, func(prod []uint64) []uint64, error)
	step int
	a    []uint8
	fin  func(prod []uint64) []uint64
	h    []uint64 // party 1's pad H_{a1}; party 0's H0 (X) mod M
	h1   []uint64 // party 0's H1 mod M
	prod []uint64 // this party's share of a0·a1
}

// ToPrimeTruncSplit is ToPrimeTrunc of n elements as a Conv (the input x
// goes to First for party 1, to Second for party 0).
func (p *Party) ToPrimeTruncSplit(n, ell, s int, P uint64) (*Conv, error) {
	if _, err := p.toPrime(nil, ell, s, P); err != nil {
		return nil, err
	}
	return &Conv{p: p, snd: p.OT.MulSend, rcv: p.OT.MulRecv, n: n, mod: P, w: bits.Len64(P - 1), prep: func(x []uint64) ([]uint8, func([]uint64) []uint64, error) {
		c, err := p.toPrime(x, ell, s, P)
		if err != nil {
			return nil, nil, err
		}
		return c.a, c.fin, nil
	}}, nil
}

// FromPrimeTruncSplit is FromPrimeTrunc of n elements as a Conv.
func (p *Party) FromPrimeTruncSplit(n int, P uint64, ell, s int) (*Conv, error) {
	if _, err := p.fromPrime(nil, P, ell, s); err != nil {
		return nil, err
	}
	return &Conv{p: p, snd: p.OT.MulSend, rcv: p.OT.MulRecv, n: n, w: ell, prep: func(y []uint64) ([]uint8, func([]uint64) []uint64, error) {
		c, err := p.fromPrime(y, P, ell, s)
		if err != nil {
			return nil, nil, err
		}
		return c.a, c.fin, nil
	}}, nil
}

// TruncSplit is Trunc of n elements as a Conv (on the comparison
// extension, as Trunc: its count is TruncCOTs).
func (p *Party) TruncSplit(n, ell, s int) (*Conv, error) {
	if err := checkEll(ell); err != nil {
		return nil, err
	}
	if ell < 2 || s > ell-2 || s < 0 {
		return nil, fmt.Errorf("otgates: signed truncation by %d bits of ℓ = %d, want 0 ≤ s ≤ ℓ−2", s, ell)
	}
	if s == 0 {
		n = 0 // no product
	}
	return &Conv{p: p, snd: p.OT.Send, rcv: p.OT.Recv, n: n, w: max(s, 1), prep: func(x []uint64) ([]uint8, func([]uint64) []uint64, error) {
		m := mask(ell)
		bias := uint64(1) << uint(ell-2)
		y := make([]uint64, len(x))
		msb := make([]uint8, len(x))
		for i, v := range x {
			y[i] = v & m
			if p.ID == 0 {
				y[i] = (y[i] + bias) & m
			}
			msb[i] = uint8(y[i] >> uint(ell-1))
		}
		if s == 0 {
			msb = nil
		}
		return msb, func(prod []uint64) []uint64 {
			for i, v := range y {
				if s > 0 {
					// Trunc's known-MSB truncation with its centring
					// (truncNonNeg), then the bias off (signedTrunc).
					ws := uint64(msb[i]) - prod[i]
					q := v >> uint(s)
					if p.ID == 0 {
						q = roundedQuot(v, s)
					}
					v = (q - ws<<uint(ell-s)) & m
				}
				if p.ID == 0 {
					v = (v - bias>>uint(s)) & m
				}
				y[i] = v
			}
			return y
		}, nil
	}}, nil
}

// reduce is b mod M.
func (c *Conv) reduce(b ot.Block) uint64 {
	if c.mod != 0 {
		return bits.Rem64(b.Hi, b.Lo, c.mod)
	}
	return b.Lo & mask(c.w)
}

// add is x + y mod M.
func (c *Conv) add(x, y uint64) uint64 {
	if c.mod != 0 {
		return (x + y) % c.mod
	}
	return (x + y) & mask(c.w)
}

// neg is −x mod M.
func (c *Conv) neg(x uint64) uint64 {
	if c.mod != 0 {
		return (c.mod - x) % c.mod
	}
	return -x & mask(c.w)
}

// input runs the local part on this party's input.
func (c *Conv) input(in []uint64) error {
	a, fin, err := c.prep(in)
	if err != nil {
		return err
	}
	if len(a) != c.n {
		return fmt.Errorf("otgates: split conversion of %d elements given %d", c.n, len(in))
	}
	c.a, c.fin = a, fin
	for i, b := range a {
		if b > 1 {
			return fmt.Errorf("otgates: boolean share %d is %d, not a bit", i, b)
		}
	}
	return nil
}

func (c *Conv) next(step int) error {
	if c.step != step {
		return fmt.Errorf("otgates: split conversion: step %d after step %d", step+1, c.step)
	}
	c.step++
	return nil
}

// First is the product's first message: party 1 passes its input and
// sends its derandomized choices; party 0 passes nil and receives them
// (its pads).
func (c *Conv) First(in []uint64) error {
	if err := c.next(0); err != nil {
		return err
	}
	p := c.p
	if p.ID == 1 {
		if err := c.input(in); err != nil {
			return err
		}
	}
	if c.n == 0 {
		return nil
	}
	if p.ID == 1 {
		h, err := c.rcv.ROT(c.a)
		if err != nil {
			return fmt.Errorf("otgates: split bit product: %w", err)
		}
		c.h = make([]uint64, c.n)
		for i := range h {
			c.h[i] = c.reduce(h[i])
		}
		return nil
	}
	h0, h1, err := c.snd.ROT(c.n)
	if err != nil {
		return fmt.Errorf("otgates: split bit product: %w", err)
	}
	c.h, c.h1 = make([]uint64, c.n), make([]uint64, c.n)
	for i := range h0 {
		c.h[i], c.h1[i] = c.reduce(h0[i]), c.reduce(h1[i])
	}
	return nil
}

// Second is the product's second message: party 0 passes its input and
// sends its correlations; party 1 passes nil and receives them. It takes
// no COTs.
func (c *Conv) Second(in []uint64) error {
	if err := c.next(1); err != nil {
		return err
	}
	p, n := c.p, c.n
	if p.ID == 0 {
		if err := c.input(in); err != nil {
			return err
		}
	}
	c.prod = make([]uint64, n)
	if n == 0 {
		return nil
	}
	if p.ID == 0 {
		corr := make([]uint64, n)
		for i := range n {
			corr[i] = c.add(c.add(c.h[i], uint64(c.a[i])), c.neg(c.h1[i]))
			c.prod[i] = c.neg(c.h[i])
		}
		c.h, c.h1 = nil, nil
		if err := p.Conn.Send(packUints(corr, c.w)); err != nil {
			return fmt.Errorf("otgates: split bit product: %w", err)
		}
		return nil
	}
	msg, err := transport.RecvExact(p.Conn, (n*c.w+7)/8)
	if err != nil {
		return fmt.Errorf("otgates: split bit product: receiving the correlations: %w", err)
	}
	corr, err := unpackUints(msg, n, c.w)
	if err != nil {
		return err
	}
	for i := range n {
		if c.mod != 0 && corr[i] >= c.mod {
			return fmt.Errorf("otgates: split bit product: correlation %d is not below the modulus", i)
		}
		c.prod[i] = c.h[i]
		if c.a[i] == 1 {
			c.prod[i] = c.add(c.prod[i], corr[i])
		}
	}
	c.h = nil
	return nil
}

// Result returns the gate's output shares after Second.
func (c *Conv) Result() ([]uint64, error) {
	if err := c.next(2); err != nil {
		return nil, err
	}
	return c.fin(c.prod), nil
}

// bitProductMod returns shares mod P of a0·a1, party 0's bit times party
// 1's, by one correlated OT mod P from party 0 to party 1 on the
// multiplication extension: from a random OT (pads H0, H1 per OT) party 0
// keeps X = H0 mod P and sends X + a0 − H1 mod P (⌈log2 P⌉ bits); party 1
// with choice a1 gets X, or X + a0 from the correction. Party 0's share is
// −X.
func (p *Party) bitProductMod(a []uint8, P uint64) ([]uint64, error) {
	n := len(a)
	out := make([]uint64, n)
	if n == 0 {
		return out, nil
	}
	for i, b := range a {
		if b > 1 {
			return nil, fmt.Errorf("otgates: boolean share %d is %d, not a bit", i, b)
		}
	}
	w := bits.Len64(P - 1)
	if p.ID == 0 {
		h0, h1, err := p.OT.MulSend.ROT(n)
		if err != nil {
			return nil, fmt.Errorf("otgates: bit product mod P: %w", err)
		}
		corr := make([]uint64, n)
		for i := range n {
			x := bits.Rem64(h0[i].Hi, h0[i].Lo, P)
			pad := bits.Rem64(h1[i].Hi, h1[i].Lo, P)
			corr[i] = (x + uint64(a[i]) + P - pad) % P
			out[i] = (P - x) % P
		}
		if err := p.Conn.Send(packUints(corr, w)); err != nil {
			return nil, fmt.Errorf("otgates: bit product mod P: %w", err)
		}
		return out, nil
	}
	h, err := p.OT.MulRecv.ROT(a)
	if err != nil {
		return nil, fmt.Errorf("otgates: bit product mod P: %w", err)
	}
	msg, err := transport.RecvExact(p.Conn, (n*w+7)/8)
	if err != nil {
		return nil, fmt.Errorf("otgates: bit product mod P: receiving the corrections: %w", err)
	}
	corr, err := unpackUints(msg, n, w)
	if err != nil {
		return nil, err
	}
	for i := range n {
		if corr[i] >= P {
			return nil, fmt.Errorf("otgates: bit product mod P: correction %d is not below the modulus", i)
		}
		out[i] = bits.Rem64(h[i].Hi, h[i].Lo, P)
		if a[i] == 1 {
			out[i] = (out[i] + corr[i]) % P
		}
	}
	return out, nil
}

// packUints packs the low w bits (1 ≤ w ≤ 64) of each value, little-endian.
func packUints(v []uint64, w int) []byte {
	out := make([]byte, (len(v)*w+7)/8)
	pos := 0
	for _, x := range v {
		for k := 0; k < w; {
			take := min(8-pos%8, w-k)
			out[pos/8] |= byte(x>>uint(k)&(1<<uint(take)-1)) << uint(pos%8)
			pos += take
			k += take
		}
	}
	return out
}

// unpackUints is packUints' inverse for n values.
func unpackUints(msg []byte, n, w int) ([]uint64, error) {
	if len(msg) != (n*w+7)/8 {
		return nil, fmt.Errorf("otgates: message of %d bytes, want %d for %d values of %d bits", len(msg), (n*w+7)/8, n, w)
	}
	out := make([]uint64, n)
	pos := 0
	for i := range out {
		for k := 0; k < w; {
			take := min(8-pos%8, w-k)
			out[i] |= uint64(msg[pos/8]>>uint(pos%8)&(1<<uint(take)-1)) << uint(k)
			pos += take
			k += take
		}
	}
	return out, nil
}
