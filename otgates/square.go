package otgates

import "fmt"

// Square returns shares of x² mod 2^ℓ. x² = x0² + x1² + 2·x0·x1, and the
// cross product comes from Gilboa's multiplication over correlated OT:
// for each bit j of party 1's share, party 0 sends the correlation x0 to
// choice bit x1_j, modulo 2^(ℓ−1−j) (2·x0·x1 mod 2^ℓ only needs x0·x1 mod
// 2^(ℓ−1), and bit j's term is shifted up by j). Cost per element: ℓ−1
// IKNP OTs (16 bytes each) and Σ_{j<ℓ−1} (ℓ−1−j) = ℓ(ℓ−1)/2 bits; one
// direction, two messages.
func (p *Party) Square(x []uint64, ell int) ([]uint64, error) {
	if err := checkEll(ell); err != nil {
		return nil, err
	}
	n := len(x)
	m := mask(ell)
	out := make([]uint64, n)
	for i, v := range x {
		out[i] = v * v & m
	}
	k := ell - 1 // OTs per element
	if n == 0 || k == 0 {
		return out, nil
	}
	widths := make([]uint8, n*k)
	for i := range n {
		for j := range k {
			widths[i*k+j] = uint8(k - j)
		}
	}
	if p.ID == 0 {
		delta := make([]uint64, n*k)
		for i := range n {
			for j := range k {
				delta[i*k+j] = x[i]
			}
		}
		X, err := p.OT.Send.SendCorrelatedWidths(delta, widths)
		if err != nil {
			return nil, fmt.Errorf("otgates: square: %w", err)
		}
		for i := range n {
			var s uint64
			for j := range k {
				s += X[i*k+j] << uint(j)
			}
			out[i] = (out[i] - 2*s) & m
		}
		return out, nil
	}
	choice := make([]uint8, n*k)
	for i := range n {
		for j := range k {
			choice[i*k+j] = uint8(x[i] >> uint(j) & 1)
		}
	}
	Y, err := p.OT.Recv.ReceiveCorrelatedWidths(choice, widths)
	if err != nil {
		return nil, fmt.Errorf("otgates: square: %w", err)
	}
	for i := range n {
		var s uint64
		for j := range k {
			s += Y[i*k+j] << uint(j)
		}
		out[i] = (out[i] + 2*s) & m
	}
	return out, nil
}

// Max returns shares of max(a, b) = b + ReLU(a − b) for shared signed
// ℓ-bit values whose difference stays in the signed ℓ-bit range.
func (p *Party) Max(a, b []uint64, ell int) ([]uint64, error) {
	if err := checkShares(ell, len(a), len(b)); err != nil {
		return nil, err
	}
	m := mask(ell)
	d := make([]uint64, len(a))
	for i := range a {
		d[i] = (a[i] - b[i]) & m
	}
	r, err := p.ReLU(d, ell)
	if err != nil {
		return nil, err
	}
	for i := range r {
		r[i] = (r[i] + b[i]) & m
	}
	return r, nil
}

// MaxPool2x2 returns shares of the maximum of each group of four
// consecutive values (a 2×2 window gathered by the caller): two rounds of
// Max, the first over both pairs of every window at once.
func (p *Party) MaxPool2x2(x []uint64, ell int) ([]uint64, error) {
	if len(x)%4 != 0 {
		return nil, fmt.Errorf("otgates: max pool: %d values is not a multiple of 4", len(x))
	}
	n := len(x) / 4
	a, b := make([]uint64, 2*n), make([]uint64, 2*n)
	for i := range n {
		a[2*i], b[2*i] = x[4*i], x[4*i+1]
		a[2*i+1], b[2*i+1] = x[4*i+2], x[4*i+3]
	}
	h, err := p.Max(a, b, ell)
	if err != nil {
		return nil, err
	}
	a, b = a[:n], b[:n]
	for i := range n {
		a[i], b[i] = h[2*i], h[2*i+1]
	}
	return p.Max(a, b, ell)
}
