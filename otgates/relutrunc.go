package otgates

import "fmt"

// ReLUTrunc returns shares of 0 for x < 0 and of ⌊(x + 2^(s−1))/2^s⌋ − e,
// e ∈ {0, 1}, for x ≥ 0 — ⌊ReLU(x)/2^s⌋ + δ, δ ∈ {−1, 0, 1} (0 for s = 0
// and for x < 0), with Trunc's centring: E[δ] = 2^−(s+1) over uniform
// shares and low bits of x ≥ 0 — for shared signed x with |x| < 2^(ℓ−2),
// 0 ≤ s ≤ ℓ−2: the ReLU and the truncation after a linear layer fused into
// the ReLU's rounds (6 at ℓ = 32, as the ReLU alone; ReLU then
// TruncNonNeg takes 7).
//
// With the bias of Trunc, x' = x + 2^(ℓ−2) ∈ [0, 2^(ℓ−1)), the shares wrap,
// x0' + x1' = x' + w·2^ℓ, exactly when w = a0 ∨ a1 (a_b = msb(x_b')), and
// t = y0 + y1 − w·2^(ℓ−s) with y1 = x1' >> s and party 0's y0 =
// ⌊(x0' + 2^(s−1))/2^s⌋ − 2^(ℓ−2−s) (roundedQuot) is ⌊(x + 2^(s−1))/2^s⌋
// − e. So ReLU(x) >> s ≈ d·t = d·(y0 + y1) −
// (d·w)·2^(ℓ−s) for d = DReLU(x). The first term is the multiplexer on y;
// d·w is needed mod 2^s only, and as a function of party 1's bits d1, a1
// it is, with D = d0, A = a0 party 0's,
//
//	(D ⊕ d1)(A ∨ a1) = DA + A(1−2D)·d1 + D(1−A)·a1 + (1−2D)(1−A)·d1·a1,
//
// three additively correlated OTs from party 0 on the choices d1, a1 and
// d1∧a1 (party 1 knows all three). The one on d1 rides on the
// multiplexer's OT (two correlations per OT), the other two join the same
// batch: no extra round. Cost beyond the ReLU: 2 OTs and 3s bits per
// element.
func (p *Party) ReLUTrunc(x []uint64, ell, s int) ([]uint64, error) {
	if err := checkEll(ell); err != nil {
		return nil, err
	}
	if ell < 2 || s < 0 || s > ell-2 {
		return nil, fmt.Errorf("otgates: ReLU with truncation by %d bits of ℓ = %d, want 0 ≤ s ≤ ℓ−2", s, ell)
	}
	if s == 0 {
		return p.ReLU(x, ell)
	}
	d, err := p.DReLU(x, ell)
	if err != nil {
		return nil, err
	}
	n := len(x)
	m := mask(ell)
	bias := uint64(1) << uint(ell-2)
	y := make([]uint64, n)
	a := make([]uint8, n)
	for i, v := range x {
		v &= m
		if p.ID == 0 {
			v = (v + bias) & m
		}
		a[i] = uint8(v >> uint(ell-1))
		y[i] = v >> uint(s)
		if p.ID == 0 {
			y[i] = roundedQuot(v, s) - bias>>uint(s)
		}
	}
	out := make([]uint64, n)
	dw := make([]uint64, n) // this party's share of d·w mod 2^s
	if n == 0 {
		return out, nil
	}
	// Party 0 → party 1: the multiplexer's correlation (1 − 2·d0)·y0 and
	// A(1−2D) on choice d1; D(1−A) on a1; (1−2D)(1−A) on d1∧a1.
	w0, w1 := make([]uint8, 3*n), make([]uint8, 3*n)
	for i := range n {
		w0[i], w1[i] = uint8(ell), uint8(s)
		w0[n+i], w0[2*n+i] = uint8(s), uint8(s)
	}
	send := func() error {
		c0, c1 := make([]uint64, 3*n), make([]uint64, 3*n)
		for i := range n {
			D, A := uint64(d[i]), uint64(a[i])
			c0[i] = (1 - 2*D) * y[i]
			c1[i] = A * (1 - 2*D)
			c0[n+i] = D * (1 - A)
			c0[2*n+i] = (1 - 2*D) * (1 - A)
		}
		X, Z, err := p.OT.Send.SendCorrelatedPair(c0, c1, w0, w1)
		if err != nil {
			return fmt.Errorf("otgates: ReLU with truncation: %w", err)
		}
		for i := range n {
			out[i] += uint64(d[i])*y[i] - X[i]
			dw[i] = uint64(d[i]&a[i]) - Z[i] - X[n+i] - X[2*n+i]
		}
		return nil
	}
	recv := func() error {
		choice := make([]uint8, 3*n)
		for i := range n {
			choice[i], choice[n+i], choice[2*n+i] = d[i], a[i], d[i]&a[i]
		}
		Y, Z, err := p.OT.Recv.ReceiveCorrelatedPair(choice, w0, w1)
		if err != nil {
			return fmt.Errorf("otgates: ReLU with truncation: %w", err)
		}
		for i := range n {
			out[i] += Y[i]
			dw[i] = Z[i] + Y[n+i] + Y[2*n+i]
		}
		return nil
	}
	// Party 1 → party 0: the multiplexer's other half, on choice d0.
	send1 := func() error {
		delta := make([]uint64, n)
		for i := range n {
			delta[i] = (1 - 2*uint64(d[i])) * y[i]
		}
		X, err := p.OT.Send.SendCorrelated(delta, ell)
		if err != nil {
			return fmt.Errorf("otgates: ReLU with truncation: %w", err)
		}
		for i := range n {
			out[i] += uint64(d[i])*y[i] - X[i]
		}
		return nil
	}
	recv0 := func() error {
		Y, err := p.OT.Recv.ReceiveCorrelated(d, ell)
		if err != nil {
			return fmt.Errorf("otgates: ReLU with truncation: %w", err)
		}
		for i := range n {
			out[i] += Y[i]
		}
		return nil
	}
	if p.ID == 0 {
		err = p.both(send, recv0)
	} else {
		err = p.both(send1, recv)
	}
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i] = (out[i] - dw[i]<<uint(ell-s)) & m
	}
	return out, nil
}
