package otgates

import (
	"fmt"

	"github.com/autorep/autorep/ot"
)

func checkShares(ell int, n ...int) error {
	if err := checkEll(ell); err != nil {
		return err
	}
	for _, k := range n[1:] {
		if k != n[0] {
			return fmt.Errorf("otgates: operands of %d and %d elements", n[0], k)
		}
	}
	return nil
}

// MSB returns XOR shares of the most significant bit (bit ℓ−1) of the
// shared values x (ℓ ≥ 2): msb(x) = msb(x0) ⊕ msb(x1) ⊕ carry, where carry
// = 1{x0' + x1' ≥ 2^(ℓ−1)} for the low ℓ−1 bits x_b' is the comparison
// 2^(ℓ−1) − 1 − x0' < x1' (one LessThan of ℓ−1 bits).
func (p *Party) MSB(x []uint64, ell int) ([]uint8, error) {
	if err := checkEll(ell); err != nil {
		return nil, err
	}
	if ell < 2 {
		return nil, fmt.Errorf("otgates: MSB needs ℓ ≥ 2, got %d", ell)
	}
	low := mask(ell - 1)
	in := make([]uint64, len(x))
	for i, v := range x {
		if p.ID == 0 {
			in[i] = low - v&low
		} else {
			in[i] = v & low
		}
	}
	carry, err := p.LessThan(in, ell-1)
	if err != nil {
		return nil, err
	}
	for i, v := range x {
		carry[i] ^= uint8(v >> uint(ell-1) & 1)
	}
	return carry, nil
}

// DReLU returns XOR shares of 1{x ≥ 0} for shared signed ℓ-bit values x.
func (p *Party) DReLU(x []uint64, ell int) ([]uint8, error) {
	d, err := p.MSB(x, ell)
	if err != nil {
		return nil, err
	}
	if p.ID == 0 {
		for i := range d {
			d[i] ^= 1
		}
	}
	return d, nil
}

// Select returns shares of d·x (mod 2^ℓ) for XOR-shared bits d and shared
// x: the multiplexer of CrypTFlow2 by one additively correlated OT each
// way. With d = d0 ⊕ d1 = d0 + d1·(1 − 2·d0), party 0 sends the correlation
// δ = (1 − 2·d0)·x0 to party 1's choice d1, which then holds d·x0 minus
// party 0's share d0·x0 − X; the other direction covers d·x1. Each
// direction: one IKNP OT (16 bytes) and ℓ bits per element.
func (p *Party) Select(d []uint8, x []uint64, ell int) ([]uint64, error) {
	if err := checkShares(ell, len(d), len(x)); err != nil {
		return nil, err
	}
	n := len(x)
	m := mask(ell)
	out := make([]uint64, n)
	if n == 0 {
		return out, nil
	}
	for i, b := range d {
		if b > 1 {
			return nil, fmt.Errorf("otgates: select bit %d is %d, not a bit", i, b)
		}
	}
	send := func() error {
		delta := make([]uint64, n)
		for i := range n {
			delta[i] = (1 - 2*uint64(d[i])) * x[i]
		}
		X, err := p.OT.Send.SendCorrelated(delta, ell)
		if err != nil {
			return fmt.Errorf("otgates: multiplexer: %w", err)
		}
		for i := range n {
			out[i] += uint64(d[i])*x[i] - X[i]
		}
		return nil
	}
	recv := func() error {
		Y, err := p.OT.Recv.ReceiveCorrelated(d, ell)
		if err != nil {
			return fmt.Errorf("otgates: multiplexer: %w", err)
		}
		for i := range n {
			out[i] += Y[i]
		}
		return nil
	}
	if p.ID == 1 {
		if err := p.both(send, recv); err != nil {
			return nil, err
		}
	} else if err := p.selectParty0(d, ell, send, out); err != nil {
		return nil, err
	}
	for i := range out {
		out[i] &= m
	}
	return out, nil
}

// selectParty0 is party 0's side of Select's two directions in the order
// of both (its answer, then its own matrix), with the matrix made before
// party 1's arrives: the two parties expand their matrices at the same
// time, and the wire order and rounds are those of both.
func (p *Party) selectParty0(d []uint8, ell int, send func() error, out []uint64) error {
	widths := make([]uint8, len(d))
	for i := range widths {
		widths[i] = uint8(ell)
	}
	pend, err := p.OT.Recv.PrepareCorrelatedWidths(d, widths)
	if err != nil {
		return fmt.Errorf("otgates: multiplexer: %w", err)
	}
	if err := send(); err != nil {
		return err
	}
	if err := pend.Send(); err != nil {
		return fmt.Errorf("otgates: multiplexer: %w", err)
	}
	Y, err := pend.Finish()
	if err != nil {
		return fmt.Errorf("otgates: multiplexer: %w", err)
	}
	for i, y := range Y {
		out[i] += y
	}
	return nil
}

// ReLU returns shares of max(x, 0) for shared signed ℓ-bit values x:
// DReLU, then Select.
func (p *Party) ReLU(x []uint64, ell int) ([]uint64, error) {
	d, err := p.DReLU(x, ell)
	if err != nil {
		return nil, err
	}
	return p.Select(d, x, ell)
}

// B2A converts XOR-shared bits to additive shares mod 2^ℓ: b = b0 + b1 −
// 2·b0·b1, with b0·b1 from one correlated OT (party 0 sends δ = b0 to
// party 1's choice b1): one IKNP OT and ℓ bits per bit.
func (p *Party) B2A(b []uint8, ell int) ([]uint64, error) {
	if err := checkEll(ell); err != nil {
		return nil, err
	}
	prod, err := p.bitProduct(b, ell)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(b))
	for i := range b {
		out[i] = (uint64(b[i]) - 2*prod[i]) & mask(ell)
	}
	return out, nil
}

// bitProduct returns additive shares mod 2^ℓ of b0·b1, party 0's bit
// times party 1's bit, by one correlated OT from party 0 to party 1.
func (p *Party) bitProduct(b []uint8, ell int) ([]uint64, error) {
	return p.bitProductOn(p.OT.Send, p.OT.Recv, b, ell)
}

// bitProductOn is bitProduct over the given extension (this party's
// sender and receiver of it): the multiplication extension
// (OT.MulSend/MulRecv) costs fewer bytes per OT.
func (p *Party) bitProductOn(snd *ot.Sender, rcv *ot.Receiver, b []uint8, ell int) ([]uint64, error) {
	n := len(b)
	out := make([]uint64, n)
	if n == 0 {
		return out, nil
	}
	if p.ID == 0 {
		delta := make([]uint64, n)
		for i := range n {
			delta[i] = uint64(b[i] & 1)
		}
		X, err := snd.SendCorrelated(delta, ell)
		if err != nil {
			return nil, fmt.Errorf("otgates: bit product: %w", err)
		}
		for i := range n {
			out[i] = -X[i] & mask(ell)
		}
		return out, nil
	}
	for i := range b {
		if b[i] > 1 {
			return nil, fmt.Errorf("otgates: boolean share %d is %d, not a bit", i, b[i])
		}
	}
	return rcv.ReceiveCorrelated(b, ell)
}

// TruncNonNeg returns shares of x/2^s rounded by the shares' carry:
// ⌊(x + 2^(s−1))/2^s⌋ − e, e ∈ {0, 1}, so ⌊x/2^s⌋ + δ with δ ∈ {−1, 0, 1}
// (δ = 0 for s = 0), for shared x known to lie in [0, 2^(ℓ−1)) — after
// a ReLU or a square. For such x the wrap of the shares, x0 + x1 = x +
// w·2^ℓ, is w = msb(x0) ∨ msb(x1) (Cheetah's known-MSB truncation), one
// bit product mod 2^s (w·2^(ℓ−s) only needs w mod 2^s): one IKNP OT and s
// bits per element. Each party shifts its share, and w·2^(ℓ−s) is
// subtracted; e is the carry of the two shares' discarded low s bits.
//
// Centring: party 0 shifts x0 + 2^(s−1) (over the integers, roundedQuot),
// which costs nothing. With uniform shares P(e = 1) = (2^s − 1 − r)/2^s
// for r = (x + 2^(s−1)) mod 2^s, so E[result] = x/2^s − ½ + 2^−s for
// every x: an error of mean 2^−(s+1) against ⌊x/2^s⌋ over uniform low
// bits of x. Without the 2^(s−1) the result would be ⌊x/2^s⌋ − e with
// mean −½ + 2^−(s+1), a bias that every position of a layer shares and a
// convolution then sums with its weights (issue 15).
func (p *Party) TruncNonNeg(x []uint64, ell, s int) ([]uint64, error) {
	return p.truncNonNeg(x, ell, s, true)
}

// truncNonNeg is TruncNonNeg, centred or (centred false) ⌊x/2^s⌋ − e, the
// form TruncExactNonNeg adds the carry e to.
func (p *Party) truncNonNeg(x []uint64, ell, s int, centred bool) ([]uint64, error) {
	if err := checkEll(ell); err != nil {
		return nil, err
	}
	if s < 0 || s >= ell {
		return nil, fmt.Errorf("otgates: truncation by %d bits of ℓ = %d", s, ell)
	}
	m := mask(ell)
	out := make([]uint64, len(x))
	if s == 0 {
		for i, v := range x {
			out[i] = v & m
		}
		return out, nil
	}
	msb := make([]uint8, len(x))
	for i, v := range x {
		msb[i] = uint8(v >> uint(ell-1) & 1)
	}
	prod, err := p.bitProduct(msb, s)
	if err != nil {
		return nil, err
	}
	for i, v := range x {
		// w = m0 + m1 − m0·m1; this party's share of w, times 2^(ℓ−s),
		// only matters mod 2^ℓ, so the product is needed mod 2^s.
		ws := uint64(msb[i]) - prod[i]
		q := (v & m) >> uint(s)
		if centred && p.ID == 0 {
			q = roundedQuot(v&m, s)
		}
		out[i] = (q - ws<<uint(ell-s)) & m
	}
	return out, nil
}

// Trunc returns shares of ⌊(x + 2^(s−1))/2^s⌋ − e, e ∈ {0, 1}: ⌊x/2^s⌋
// + δ with δ ∈ {−1, 0, 1} (0 for s = 0) and E[δ] = 2^−(s+1) over uniform
// shares and low bits of x (TruncNonNeg's centring), for shared signed x
// with |x| < 2^(ℓ−2) (s ≤ ℓ−2): party 0 adds 2^(ℓ−2), which makes the
// value non-negative below 2^(ℓ−1), truncates by TruncNonNeg and
// subtracts 2^(ℓ−2−s). Same cost as TruncNonNeg.
func (p *Party) Trunc(x []uint64, ell, s int) ([]uint64, error) {
	return p.signedTrunc(x, ell, s, p.TruncNonNeg)
}

// signedTrunc applies trunc, a truncation of values in [0, 2^(ℓ−1)), to
// signed x with |x| < 2^(ℓ−2) through the bias 2^(ℓ−2).
func (p *Party) signedTrunc(x []uint64, ell, s int, trunc func([]uint64, int, int) ([]uint64, error)) ([]uint64, error) {
	if err := checkEll(ell); err != nil {
		return nil, err
	}
	if ell < 2 || s > ell-2 || s < 0 {
		return nil, fmt.Errorf("otgates: signed truncation by %d bits of ℓ = %d, want 0 ≤ s ≤ ℓ−2", s, ell)
	}
	m := mask(ell)
	bias := uint64(1) << uint(ell-2)
	y := make([]uint64, len(x))
	for i, v := range x {
		y[i] = v & m
		if p.ID == 0 {
			y[i] = (y[i] + bias) & m
		}
	}
	z, err := trunc(y, ell, s)
	if err != nil {
		return nil, err
	}
	if p.ID == 0 {
		for i := range z {
			z[i] = (z[i] - bias>>uint(s)) & m
		}
	}
	return z, nil
}

// roundedQuot is party 0's quotient of the centred truncations:
// ⌊(v + 2^(s−1))/2^s⌋ over the integers (0 ≤ s < 64; v itself for s = 0),
// without v + 2^(s−1) wrapping. With party 1's ⌊v1/2^s⌋ the two sum to
// ⌊(x + 2^(s−1))/2^s⌋ − e (plus the wraps' multiples of 2^(ℓ−s) the
// gates subtract), e the carry of the shares' low bits: the value is
// rounded to nearest before the carry's one unit, not floored.
func roundedQuot(v uint64, s int) uint64 {
	if s == 0 {
		return v
	}
	return v>>uint(s) + (v&(1<<uint(s)-1)+1<<uint(s-1))>>uint(s)
}
