package otgates

// Bit triples from random OT. A random OT gives the sender two random
// strings m0, m1 and the receiver m_c for its choice bit c; the low k
// bits of m0 ⊕ m1 are then the sender's random bits a, and
// lsb_k(m0) ⊕ lsb_k(m_c) = a ∧ c: a bit-OLE for k products with the same
// c at the cost of one OT (16 bytes of IKNP matrix). One OT each way gives
// the cross terms of a triple (a, b, a∧b) with k a-bits sharing one b:
// the correlated triples the millionaires' tree needs (SCI's "correlated
// ANDs": eq_hi ∧ lt_lo and eq_hi ∧ eq_lo share eq_hi).

// triples returns this party's shares of n correlated triples: a (n·k
// bits, group i at a[i·k:]), b (n bits), c = a ∧ b (n·k bits).
func (p *Party) triples(n, k int) (a, b, c []uint8, err error) {
	b = p.randomBits(n)
	var u, v []uint8
	send := func() error {
		m0, m1, err := p.OT.Send.ROT(n)
		if err != nil {
			return err
		}
		a = make([]uint8, n*k)
		u = make([]uint8, n*k)
		for i := range n {
			d := m0[i].Lo ^ m1[i].Lo
			for j := range k {
				a[i*k+j] = uint8(d >> j & 1)
				u[i*k+j] = uint8(m0[i].Lo >> j & 1)
			}
		}
		return nil
	}
	recv := func() error {
		m, err := p.OT.Recv.ROT(b)
		if err != nil {
			return err
		}
		v = make([]uint8, n*k)
		for i := range n {
			for j := range k {
				v[i*k+j] = uint8(m[i].Lo >> j & 1)
			}
		}
		return nil
	}
	if err := p.both(send, recv); err != nil {
		return nil, nil, nil, err
	}
	c = make([]uint8, n*k)
	for i := range n {
		for j := range k {
			c[i*k+j] = a[i*k+j]&b[i] ^ u[i*k+j] ^ v[i*k+j]
		}
	}
	return a, b, c, nil
}

// andShared returns shares of x[i·k+j] ∧ y[i] for XOR-shared bits x (n·k)
// and y (n): Beaver's multiplication with correlated triples, one
// exchange of n·(k+1) bits each way after the triples.
func (p *Party) andShared(x, y []uint8, k int) ([]uint8, error) {
	n := len(y)
	a, b, c, err := p.triples(n, k)
	if err != nil {
		return nil, err
	}
	masked := make([]uint8, n*(k+1))
	for i := range n * k {
		masked[i] = x[i] ^ a[i]
	}
	for i := range n {
		masked[n*k+i] = y[i] ^ b[i]
	}
	open, err := p.openBits(masked)
	if err != nil {
		return nil, err
	}
	z := make([]uint8, n*k)
	for i := range n {
		f := open[n*k+i]
		for j := range k {
			e := open[i*k+j]
			z[i*k+j] = c[i*k+j] ^ e&b[i] ^ f&a[i*k+j]
			if p.ID == 0 {
				z[i*k+j] ^= e & f
			}
		}
	}
	return z, nil
}
