package otgates

import "fmt"

// Square returns shares of x² mod 2^ℓ. x² = x0² + x1² + 2·x0·x1, and the
// cross product x0·x1 is needed mod 2^(ℓ−1) only (it is doubled): one
// crossProduct of width ℓ−1, (ℓ−1) IKNP OTs and ℓ(ℓ−1)/2 bits, one
// direction, one round.
func (p *Party) Square(x []uint64, ell int) ([]uint64, error) {
	if err := checkEll(ell); err != nil {
		return nil, err
	}
	m := mask(ell)
	out := make([]uint64, len(x))
	for i, v := range x {
		out[i] = v * v & m
	}
	if ell == 1 { // 2·x0·x1 vanishes mod 2
		return out, nil
	}
	c, err := p.crossProduct(x, ell-1)
	if err != nil {
		return nil, fmt.Errorf("otgates: square: %w", err)
	}
	for i := range out {
		out[i] = (out[i] + 2*c[i]) & m
	}
	return out, nil
}

// MulPrivate returns shares of a·x mod 2^ℓ for a value a known to party 0
// only (party 1 passes nil) and shared x: a·x0 is party 0's own, a·x1 one
// crossProduct of width ℓ: ℓ IKNP OTs and ℓ(ℓ+1)/2 bits, one round. This
// is the product of a layer's secret coefficient (the server's) with an
// activation.
func (p *Party) MulPrivate(a, x []uint64, ell int) ([]uint64, error) {
	if err := checkEll(ell); err != nil {
		return nil, err
	}
	if p.ID == 0 && len(a) != len(x) {
		return nil, fmt.Errorf("otgates: %d private factors for %d shares", len(a), len(x))
	}
	in := x
	if p.ID == 0 {
		in = a
	}
	c, err := p.crossProduct(in, ell)
	if err != nil {
		return nil, fmt.Errorf("otgates: private product: %w", err)
	}
	if p.ID == 0 {
		for i := range c {
			c[i] = (c[i] + a[i]*x[i]) & mask(ell)
		}
	}
	return c, nil
}

// crossProduct returns additive shares mod 2^w of u·v, u party 0's value,
// v party 1's (each passes its own), by Gilboa's multiplication over
// correlated OT: for each bit j < w of v, party 0 sends the correlation u
// modulo 2^(w−j) to choice bit v_j, and bit j's term is shifted up by j.
// w IKNP OTs and w(w+1)/2 bits per element.
func (p *Party) crossProduct(in []uint64, w int) ([]uint64, error) {
	n := len(in)
	out := make([]uint64, n)
	if n == 0 {
		return out, nil
	}
	widths := make([]uint8, n*w)
	for i := range n {
		for j := range w {
			widths[i*w+j] = uint8(w - j)
		}
	}
	if p.ID == 0 {
		delta := make([]uint64, n*w)
		for i := range n {
			for j := range w {
				delta[i*w+j] = in[i]
			}
		}
		X, err := p.OT.MulSend.SendCorrelatedWidths(delta, widths)
		if err != nil {
			return nil, err
		}
		for i := range n {
			var s uint64
			for j := range w {
				s += X[i*w+j] << uint(j)
			}
			out[i] = -s & mask(w)
		}
		return out, nil
	}
	choice := make([]uint8, n*w)
	for i := range n {
		for j := range w {
			choice[i*w+j] = uint8(in[i] >> uint(j) & 1)
		}
	}
	Y, err := p.OT.MulRecv.ReceiveCorrelatedWidths(choice, widths)
	if err != nil {
		return nil, err
	}
	for i := range n {
		var s uint64
		for j := range w {
			s += Y[i*w+j] << uint(j)
		}
		out[i] = s & mask(w)
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
