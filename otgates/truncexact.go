package otgates

import "fmt"

// TruncExactNonNeg returns shares of ⌊x/2^s⌋ exactly for shared x known to
// lie in [0, 2^(ℓ−1)). It is TruncNonNeg without the centring
// (⌊x/2^s⌋ − e) plus the carry e it leaves out:
// with l_b = x_b mod 2^s, x >> s = (x0 >> s) + (x1 >> s) − w·2^(ℓ−s) + c,
// c = 1{l0 + l1 ≥ 2^s} = 1{2^s − 1 − l0 < l1}: one LessThan of s bits
// and a B2A of its result on top of the wrap's bit product.
func (p *Party) TruncExactNonNeg(x []uint64, ell, s int) ([]uint64, error) {
	z, err := p.truncNonNeg(x, ell, s, false)
	if err != nil || s == 0 || len(x) == 0 {
		return z, err
	}
	low := mask(s)
	in := make([]uint64, len(x))
	for i, v := range x {
		if p.ID == 0 {
			in[i] = low - v&low
		} else {
			in[i] = v & low
		}
	}
	c, err := p.LessThan(in, s)
	if err != nil {
		return nil, fmt.Errorf("otgates: exact truncation carry: %w", err)
	}
	ca, err := p.B2A(c, ell)
	if err != nil {
		return nil, err
	}
	for i := range z {
		z[i] = (z[i] + ca[i]) & mask(ell)
	}
	return z, nil
}

// TruncExact returns shares of ⌊x/2^s⌋ exactly for shared signed x with
// |x| < 2^(ℓ−2) (s ≤ ℓ−2), by the bias of Trunc around TruncExactNonNeg.
func (p *Party) TruncExact(x []uint64, ell, s int) ([]uint64, error) {
	return p.signedTrunc(x, ell, s, p.TruncExactNonNeg)
}
