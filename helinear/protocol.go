package helinear

import (
	"fmt"

	lring "github.com/tuneinsight/lattigo/v6/ring"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// Client is the party holding the secret key (party 1): it encrypts its
// input shares and decrypts the server's masked results. Not safe for
// concurrent use; after an error the session must be discarded.
type Client struct {
	P    *Params
	Conn transport.Conn
	sk   lring.Poly // NTT domain
	prg  *ring.PRG
}

// Server is the party holding the weights (party 0). Not safe for
// concurrent use; after an error the session must be discarded.
type Server struct {
	P        *Params
	Conn     transport.Conn
	pk0, pk1 lring.Poly // client's public key (−a'·s + e', a'), NTT domain
	prg      *ring.PRG
}

// NewClient generates the client's keys and sends its public key (one
// polynomial and a 16-byte seed for the uniform one) over c.
func NewClient(c transport.Conn, ell uint) (*Client, error) {
	p, err := NewParams(ell)
	if err != nil {
		return nil, err
	}
	prg, err := ring.NewRandomPRG()
	if err != nil {
		return nil, err
	}
	cl := &Client{P: p, Conn: c, sk: p.r.NewPoly(), prg: prg}
	p.smallPoly(prg, cl.sk, true)
	p.r.NTT(cl.sk, cl.sk)
	msg, err := cl.encryptWith(nil)
	if err != nil {
		return nil, err
	}
	if err := c.Send(msg); err != nil {
		return nil, fmt.Errorf("helinear: sending public key: %w", err)
	}
	return cl, nil
}

// NewServer receives the client's public key over c.
func NewServer(c transport.Conn, ell uint) (*Server, error) {
	p, err := NewParams(ell)
	if err != nil {
		return nil, err
	}
	prg, err := ring.NewRandomPRG()
	if err != nil {
		return nil, err
	}
	b, err := c.Recv()
	if err != nil {
		return nil, fmt.Errorf("helinear: receiving public key: %w", err)
	}
	c0, c1, err := p.parseFresh(b, 1)
	if err != nil {
		return nil, fmt.Errorf("helinear: public key: %w", err)
	}
	return &Server{P: p, Conn: c, pk0: c0[0], pk1: c1[0], prg: prg}, nil
}

// encryptWith encrypts each message of ms (nil: one encryption of zero)
// under the secret key in NTT form, c0 = −a·s + e + ⌊Qm/t⌉, c1 = a with
// all a drawn from one fresh seed, and returns the wire message: the seed
// followed by the c0 words.
func (cl *Client) encryptWith(ms [][]uint64) ([]byte, error) {
	p := cl.P
	seed, err := ring.NewSeed()
	if err != nil {
		return nil, err
	}
	n := max(len(ms), 1)
	out := make([]byte, ring.SeedSize, ring.SeedSize+n*p.freshBytes())
	copy(out, seed[:])
	aPRG := ring.NewPRG(seed)
	a, e, m := p.r.NewPoly(), p.r.NewPoly(), p.r.NewPoly()
	for x := range n {
		p.uniformPoly(aPRG, a)
		p.smallPoly(cl.prg, e, false)
		if ms != nil {
			p.encodeScaled(p.full, ms[x], m)
			p.r.Add(e, m, e)
		}
		p.r.NTT(e, e)
		p.r.MulCoeffsBarrett(a, cl.sk, a)
		p.r.Sub(e, a, e)
		for i := range p.Q {
			out = packSeg(out, e.Coeffs[i], p.width(i))
		}
	}
	return out, nil
}

// freshBytes is the packed size of one fresh ciphertext's c0.
func (p *Params) freshBytes() int {
	n := 0
	for i := range p.Q {
		n += segBytes(N, p.width(i))
	}
	return n
}

// replyBytes is the packed size of one answer with nt targets.
func (p *Params) replyBytes(nt int) int {
	n := 0
	for i := range p.ReplyPrimes {
		n += segBytes(N, p.width(i)) + segBytes(nt, p.width(i))
	}
	return n
}

// unpackReply reads one answer with nt targets from b (which the caller
// has checked holds it): c1 mod Q' in full and c0 at the targets, prime
// by prime; it returns the rest of b.
func (p *Params) unpackReply(b []byte, nt int) (c1w, c0w []uint64, rest []byte) {
	kr := p.ReplyPrimes
	c1w, c0w = make([]uint64, kr*N), make([]uint64, kr*nt)
	for i := range kr {
		sb := segBytes(N, p.width(i))
		unpackSeg(b[:sb], c1w[i*N:(i+1)*N], p.width(i))
		b = b[sb:]
	}
	for i := range kr {
		sb := segBytes(nt, p.width(i))
		unpackSeg(b[:sb], c0w[i*nt:(i+1)*nt], p.width(i))
		b = b[sb:]
	}
	return c1w, c0w, b
}

// parseFresh checks and expands a message of n fresh encryptions: c0 from
// the words, c1 from the seed.
func (p *Params) parseFresh(b []byte, n int) (c0, c1 []lring.Poly, err error) {
	if want := ring.SeedSize + n*p.freshBytes(); len(b) != want {
		return nil, nil, fmt.Errorf("helinear: ciphertext message of %d bytes, want %d (%d polynomials)", len(b), want, n)
	}
	var seed ring.Seed
	copy(seed[:], b)
	b = b[ring.SeedSize:]
	w := make([]uint64, n*p.polyWords())
	aPRG := ring.NewPRG(seed)
	for x := range n {
		pw := w[x*p.polyWords() : (x+1)*p.polyWords()]
		for i := range p.Q {
			sb := segBytes(N, p.width(i))
			unpackSeg(b[:sb], pw[i*N:(i+1)*N], p.width(i))
			b = b[sb:]
		}
		if err := p.checkPoly(pw, N); err != nil {
			return nil, nil, err
		}
		c0 = append(c0, p.polyFromWords(pw))
		a := p.r.NewPoly()
		p.uniformPoly(aPRG, a)
		c1 = append(c1, a)
	}
	return c0, c1, nil
}

// run is the client's side of one layer: it encrypts the input polynomials
// of every image, sends them, and decrypts the targets of the returned
// polynomials into y (its share of W·x, batch × pl.yLen).
func (cl *Client) run(pl *plan, batch int, x []uint64) ([]uint64, error) {
	p := cl.P
	ms := make([][]uint64, 0, batch*len(pl.ins))
	for n := range batch {
		xs := x[n*pl.xLen:]
		for _, in := range pl.ins {
			m := make([]uint64, N)
			for _, e := range in {
				m[e.coef] = xs[e.idx] & p.mask
			}
			ms = append(ms, m)
		}
	}
	msg, err := cl.encryptWith(ms)
	if err != nil {
		return nil, err
	}
	if err := cl.Conn.Send(msg); err != nil {
		return nil, fmt.Errorf("helinear: sending input ciphertexts: %w", err)
	}
	b, err := cl.Conn.Recv()
	if err != nil {
		return nil, fmt.Errorf("helinear: receiving result ciphertexts: %w", err)
	}
	want := 0
	for _, op := range pl.outs {
		want += batch * p.replyBytes(len(op.targets))
	}
	if len(b) != want {
		return nil, fmt.Errorf("helinear: result message of %d bytes, want %d (%d ciphertexts)", len(b), want, batch*len(pl.outs))
	}
	y := make([]uint64, batch*pl.yLen)
	for n := range batch {
		for _, op := range pl.outs {
			var c1w, c0w []uint64
			c1w, c0w, b = p.unpackReply(b, len(op.targets))
			ph, err := cl.phase(op, c1w, c0w)
			if err != nil {
				return nil, err
			}
			for _, t := range op.targets {
				y[n*pl.yLen+int(t.idx)] = p.decodeAt(p.reply, ph, int(t.coef))
			}
		}
	}
	return y, nil
}

// phase checks one returned ciphertext (c1 in full, c0 at the targets
// only, both mod Q' and prime-major) and returns c1·s + c0 mod Q', valid
// at the target coefficients.
func (cl *Client) phase(op outPoly, c1w, c0w []uint64) (lring.Poly, error) {
	p := cl.P
	if err := p.checkPoly(c1w, N); err != nil {
		return lring.Poly{}, err
	}
	nt := len(op.targets)
	if nt > 0 {
		if err := p.checkPoly(c0w, nt); err != nil {
			return lring.Poly{}, err
		}
	}
	ph := p.rr.NewPoly()
	for i := range p.ReplyPrimes {
		copy(ph.Coeffs[i], c1w[i*N:(i+1)*N])
	}
	p.rr.NTT(ph, ph)
	p.rr.MulCoeffsBarrett(ph, cl.sk, ph)
	p.rr.INTT(ph, ph)
	for i, q := range p.Q[:p.ReplyPrimes] {
		for x, t := range op.targets {
			ph.Coeffs[i][t.coef] = addMod(ph.Coeffs[i][t.coef], c0w[i*nt+x], q)
		}
	}
	return ph, nil
}

// weights encodes the server's weight polynomials (centred residues, NTT
// domain).
func (s *Server) weights(pl *plan, w []uint64) []lring.Poly {
	p := s.P
	half := uint64(1) << (p.Ell - 1)
	ws := make([]lring.Poly, len(pl.ws))
	for i, es := range pl.ws {
		pw := p.r.NewPoly()
		for _, e := range es {
			v := w[e.idx] & p.mask
			var c int64
			if p.Ell == 64 {
				c = int64(v)
			} else if v >= half {
				c = int64(v) - int64(half<<1)
			} else {
				c = int64(v)
			}
			for k, q := range p.Q {
				pw.Coeffs[k][e.coef] = signedMod(c, q)
			}
		}
		p.r.NTT(pw, pw)
		ws[i] = pw
	}
	return ws
}

// run is the server's side of one layer: it returns the mask share
// −r (batch × pl.yLen) whose sum with the client's output is W·x_c.
func (s *Server) run(pl *plan, batch int, w []uint64) ([]uint64, error) {
	p := s.P
	ws := s.weights(pl, w)
	b, err := s.Conn.Recv()
	if err != nil {
		return nil, fmt.Errorf("helinear: receiving input ciphertexts: %w", err)
	}
	c0s, c1s, err := p.parseFresh(b, batch*len(pl.ins))
	if err != nil {
		return nil, err
	}
	var msg []byte
	y := make([]uint64, batch*pl.yLen)
	acc0, acc1, u, e, mask := p.r.NewPoly(), p.r.NewPoly(), p.r.NewPoly(), p.r.NewPoly(), p.r.NewPoly()
	r, tw := make([]uint64, N), make([]uint64, N)
	for n := range batch {
		for _, op := range pl.outs {
			acc0.Zero()
			acc1.Zero()
			for _, t := range op.terms {
				in := n*len(pl.ins) + t.in
				p.r.MulCoeffsBarrettThenAdd(c0s[in], ws[t.w], acc0)
				p.r.MulCoeffsBarrettThenAdd(c1s[in], ws[t.w], acc1)
			}
			// Re-randomise: + (pk0·u + e0, pk1·u + e1).
			p.smallPoly(s.prg, u, true)
			p.r.NTT(u, u)
			p.r.MulCoeffsBarrettThenAdd(s.pk0, u, acc0)
			p.r.MulCoeffsBarrettThenAdd(s.pk1, u, acc1)
			p.r.INTT(acc0, acc0)
			p.r.INTT(acc1, acc1)
			p.smallPoly(s.prg, e, false)
			p.r.Add(acc0, e, acc0)
			p.smallPoly(s.prg, e, false)
			p.r.Add(acc1, e, acc1)
			// Mask every coefficient, then flood the noise.
			s.prg.Uint64s(r)
			for j := range r {
				r[j] &= p.mask
			}
			p.encodeScaled(p.full, r, mask)
			p.r.Add(acc0, mask, acc0)
			p.addFlood(s.prg, acc0, pl.floodBits)
			for _, t := range op.targets {
				y[n*pl.yLen+int(t.idx)] = -r[t.coef] & p.mask
			}
			// Switch to Q' (rounded division by the dropped primes) and
			// send c1 in full, c0 at the targets only.
			for lvl := len(p.Q) - 1; lvl >= p.ReplyPrimes; lvl-- {
				p.r.AtLevel(lvl).DivRoundByLastModulus(acc0, acc0)
				p.r.AtLevel(lvl).DivRoundByLastModulus(acc1, acc1)
			}
			for i := range p.ReplyPrimes {
				msg = packSeg(msg, acc1.Coeffs[i], p.width(i))
			}
			for i := range p.ReplyPrimes {
				for x, t := range op.targets {
					tw[x] = acc0.Coeffs[i][t.coef]
				}
				msg = packSeg(msg, tw[:len(op.targets)], p.width(i))
			}
		}
	}
	if err := s.Conn.Send(msg); err != nil {
		return nil, fmt.Errorf("helinear: sending result ciphertexts: %w", err)
	}
	return y, nil
}
