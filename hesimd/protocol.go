package hesimd

import (
	"encoding/binary"
	"fmt"

	lring "github.com/tuneinsight/lattigo/v6/ring"

	"github.com/autorep/autorep/internal/rq"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// Client is the party holding the secret key (party 1). Not safe for
// concurrent use; after an error the session must be discarded.
type Client struct {
	P    *Params
	Conn transport.Conn
	sk   lring.Poly // over Q, NTT domain
	skR  lring.Poly // mod q', NTT domain
	prg  *ring.PRG
}

// Server is the party holding the coefficients (party 0). Not safe for
// concurrent use; after an error the session must be discarded.
type Server struct {
	P        *Params
	Conn     transport.Conn
	pk0, pk1 lring.Poly // client's public key (−a'·s + e', a'), NTT domain
	prg      *ring.PRG
	// noFlood switches flooding off (tests only: the privacy test checks
	// that its statistic detects the difference then).
	noFlood bool
}

// NewClient generates a ternary secret key and sends the public key (a
// 16-byte seed for a' and the packed polynomial −a'·s + e' over Q).
func NewClient(c transport.Conn, p *Params) (*Client, error) {
	prg, err := ring.NewRandomPRG()
	if err != nil {
		return nil, err
	}
	cl := &Client{P: p, Conn: c, sk: p.rQ.NewPoly(), skR: p.rR.NewPoly(), prg: prg}
	seed := prg.Seed()
	rq.SmallPoly(ring.NewPRG(seed), p.Q, cl.sk, true)
	rq.SmallPoly(ring.NewPRG(seed), []uint64{p.QR}, cl.skR, true) // the same s mod q'
	p.rQ.NTT(cl.sk, cl.sk)
	p.rR.NTT(cl.skR, cl.skR)
	msg, err := cl.encrypt(nil)
	if err != nil {
		return nil, err
	}
	if err := c.Send(msg); err != nil {
		return nil, fmt.Errorf("hesimd: sending public key: %w", err)
	}
	return cl, nil
}

// NewServer receives and checks the client's public key.
func NewServer(c transport.Conn, p *Params) (*Server, error) {
	prg, err := ring.NewRandomPRG()
	if err != nil {
		return nil, err
	}
	want := ring.SeedSize + p.freshBytes()
	b, err := transport.RecvMax(c, want)
	if err != nil {
		return nil, fmt.Errorf("hesimd: receiving public key: %w", err)
	}
	c0, c1, err := p.parseFresh(b, 1)
	if err != nil {
		return nil, fmt.Errorf("hesimd: public key: %w", err)
	}
	return &Server{P: p, Conn: c, pk0: c0[0], pk1: c1[0], prg: prg}, nil
}

// encrypt encrypts each slot vector of ms (nil: one encryption of zero)
// under the secret key, c0 = −a·s + e + ⌊Q·m/P⌉, c1 = a with all a drawn
// from one fresh seed, and returns the wire message: the seed, then the
// packed c0 of each.
func (cl *Client) encrypt(ms [][]uint64) ([]byte, error) {
	p := cl.P
	r := p.rQ
	seed, err := ring.NewSeed()
	if err != nil {
		return nil, err
	}
	n := max(len(ms), 1)
	out := make([]byte, ring.SeedSize, ring.SeedSize+n*p.freshBytes())
	copy(out, seed[:])
	aPRG := ring.NewPRG(seed)
	a, e, m := r.NewPoly(), r.NewPoly(), r.NewPoly()
	pm := p.rP.NewPoly()
	for x := range n {
		rq.UniformPoly(aPRG, p.Q, a)
		rq.SmallPoly(cl.prg, p.Q, e, false)
		if ms != nil {
			copy(pm.Coeffs[0], ms[x])
			p.rP.INTT(pm, pm) // slots → coefficients
			p.encodeScaled(pm.Coeffs[0], m, cl.prg)
			r.Add(e, m, e)
		}
		r.NTT(e, e)
		r.MulCoeffsBarrett(a, cl.sk, a)
		r.Sub(e, a, e)
		r.INTT(e, e) // c0 travels in the coefficient domain
		out = packPoly(out, e, p.widths)
	}
	return out, nil
}

// parseFresh checks and expands a message of n seeded fresh ciphertexts:
// c0 from the words, c1 from the seed; both in the NTT domain.
func (p *Params) parseFresh(b []byte, n int) (c0, c1 []lring.Poly, err error) {
	if want := ring.SeedSize + n*p.freshBytes(); len(b) != want {
		return nil, nil, fmt.Errorf("hesimd: ciphertext message of %d bytes, want %d (%d polynomials)", len(b), want, n)
	}
	var seed ring.Seed
	copy(seed[:], b)
	b = b[ring.SeedSize:]
	aPRG := ring.NewPRG(seed)
	for range n {
		x, a := p.rQ.NewPoly(), p.rQ.NewPoly()
		if b, err = unpackPoly(b, p.Q, p.widths, x); err != nil {
			return nil, nil, err
		}
		p.rQ.NTT(x, x)
		rq.UniformPoly(aPRG, p.Q, a) // a is sampled in the NTT domain, as encrypt uses it
		c0, c1 = append(c0, x), append(c1, a)
	}
	return c0, c1, nil
}

// degSplit is the wire form of Quad's degree 2: the client uploads Enc(xc)
// only and the server answers it twice, with a·Enc(xc) − r1 and (r1 +
// 2a·xs + b)·Enc(xc) + ⌊Q·(a·xs² + b·xs + c − r)/P⌉; the client decrypts α
// = a·xc − r1 and γ and keeps α·xc + γ = y − r (package doc). An answer
// costs fewer bits than an upload. Degree 2 in Precompute keeps the form
// deg = 2 (Enc(x) and Enc(x²) up, one answer); PrecomputeQuad sends the
// first answer offline, Online the second.
const degSplit = 3

// uploads returns the ciphertexts per group of a query of form deg, and
// answers the answers per group.
func uploads(deg int) int {
	if deg == 2 {
		return 2
	}
	return 1
}

func answers(deg int) int {
	if deg == degSplit {
		return 2
	}
	return 1
}

// quadForm is the wire form Quad uses for deg.
func quadForm(deg int) int {
	if deg == 2 {
		return degSplit
	}
	return deg
}

// headerSize is the size of a query's header: the degree and the number
// of elements, so that parties that disagree on either get an error
// instead of outputs of the wrong function or length.
const headerSize = 8

func queryHeader(deg, n int) []byte {
	return binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, uint32(deg)), uint32(n))
}

// parseQuery checks a query's header against the server's form deg and n
// and expands its ciphertexts (uploads(deg) per group of Slots() elements).
func (p *Params) parseQuery(b []byte, deg, n int) (c0, c1 []lring.Poly, err error) {
	if len(b) < headerSize {
		return nil, nil, fmt.Errorf("hesimd: query of %d bytes, shorter than its header", len(b))
	}
	gd, gn := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
	if uint64(gd) != uint64(deg) || uint64(gn) != uint64(n) {
		return nil, nil, fmt.Errorf("hesimd: client's query is degree %d on %d elements, server's degree %d on %d", gd, gn, deg, n)
	}
	return p.parseFresh(b[headerSize:], p.chunks(n)*uploads(deg))
}

// chunks returns the number of ciphertexts per vector of n elements.
func (p *Params) chunks(n int) int { return (n + p.N - 1) / p.N }

// checkDeg checks the public degree and lengths.
func checkDeg(deg int) error {
	if deg != 1 && deg != 2 {
		return fmt.Errorf("hesimd: degree %d, want 1 or 2", deg)
	}
	return nil
}

func (p *Params) checkRange(name string, v []uint64) error {
	for i, x := range v {
		if x >= p.p {
			return fmt.Errorf("hesimd: %s[%d] = %d not below P = %d", name, i, x, p.p)
		}
	}
	return nil
}

// Quad (client side) sends Enc(xc) and returns its share y − r mod P of
// y = a·x² + b·x + c, x = xs + xc mod P (degree 2 in the form degSplit).
func (cl *Client) Quad(deg int, xc []uint64) ([]uint64, error) {
	p := cl.P
	if err := checkDeg(deg); err != nil {
		return nil, err
	}
	if err := p.checkRange("xc", xc); err != nil {
		return nil, err
	}
	n := len(xc)
	if n == 0 {
		return []uint64{}, nil
	}
	form := quadForm(deg)
	if err := cl.sendQuery(form, xc); err != nil {
		return nil, err
	}
	return cl.recvResult(form, xc)
}

// sendQuery sends the header and Enc(v) (and Enc(v²) for the form deg =
// 2) per group.
func (cl *Client) sendQuery(deg int, v []uint64) error {
	p := cl.P
	n := len(v)
	k := p.chunks(n)
	ms := make([][]uint64, 0, k*uploads(deg))
	for x := range k {
		g := make([]uint64, p.N)
		copy(g, v[x*p.N:min(n, (x+1)*p.N)])
		ms = append(ms, g)
		if deg == 2 {
			sq := make([]uint64, p.N)
			for j, t := range g {
				sq[j] = rq.MulMod(t, t, p.p)
			}
			ms = append(ms, sq)
		}
	}
	msg, err := cl.encrypt(ms)
	if err != nil {
		return err
	}
	if err := transport.SendParts(cl.Conn, queryHeader(deg, n), msg); err != nil {
		return fmt.Errorf("hesimd: sending query: %w", err)
	}
	return nil
}

// recvAnswer receives and decrypts the answer for n elements.
func (cl *Client) recvAnswer(n int) ([]uint64, error) {
	ys, err := cl.recvAnswers(n, 1)
	if err != nil {
		return nil, err
	}
	return ys[0], nil
}

// recvResult receives the answer to the query of form deg on v and
// returns the client's share: the decryption, or for degSplit α·v + γ.
func (cl *Client) recvResult(deg int, v []uint64) ([]uint64, error) {
	if deg != degSplit {
		return cl.recvAnswer(len(v))
	}
	ys, err := cl.recvAnswers(len(v), 2)
	if err != nil {
		return nil, err
	}
	return cl.combine(ys[0], v, ys[1]), nil
}

// combine returns degSplit's client share α·v + γ mod P (in γ).
func (cl *Client) combine(alpha, v, gamma []uint64) []uint64 {
	P := cl.P.p
	for i, x := range v {
		gamma[i] = (rq.MulMod(alpha[i], x, P) + gamma[i]) % P
	}
	return gamma
}

// recvAnswers receives and decrypts per answers per group of n elements
// (one message, a group's answers in a row): ys[i] holds answer i of
// every group.
func (cl *Client) recvAnswers(n, per int) (ys [][]uint64, err error) {
	p := cl.P
	k := p.chunks(n)
	want := k * per * p.replyBytes()
	b, err := transport.RecvMax(cl.Conn, want)
	if err != nil {
		return nil, fmt.Errorf("hesimd: receiving answer: %w", err)
	}
	if len(b) != want {
		return nil, fmt.Errorf("hesimd: answer of %d bytes, want %d", len(b), want)
	}
	ys = make([][]uint64, per)
	for i := range ys {
		ys[i] = make([]uint64, n)
	}
	for x := range k {
		for i := range per {
			var y []uint64
			if y, b, err = cl.decrypt(b); err != nil {
				return nil, err
			}
			copy(ys[i][x*p.N:min(n, (x+1)*p.N)], y)
		}
	}
	return ys, nil
}

// decrypt reads one answer (c1 mod q', c0 mod 2^C0Bits) from b and returns
// its slots: m = ⌊P·(c1·s mod q')/q' + P·c0/2^C0Bits⌉ mod P, then the NTT
// mod P.
func (cl *Client) decrypt(b []byte) (slots []uint64, rest []byte, err error) {
	p := cl.P
	u := p.rR.NewPoly()
	qr := []uint64{p.QR}
	if b, err = unpackPoly(b, qr, []uint{uint(bitsLen(p.QR))}, u); err != nil {
		return nil, nil, err
	}
	v := make([]uint64, p.N)
	sb := rq.SegBytes(p.N, p.C0Bits)
	rq.UnpackSeg(b[:sb], v, p.C0Bits)
	b = b[sb:]
	p.rR.NTT(u, u)
	p.rR.MulCoeffsBarrett(u, cl.skR, u)
	p.rR.INTT(u, u)
	m := p.rP.NewPoly()
	for j := range p.N {
		m.Coeffs[0][j] = p.decodeSplit(u.Coeffs[0][j], v[j])
	}
	p.rP.NTT(m, m)
	return m.Coeffs[0], b, nil
}

// Quad (server side) returns its share r of y = a·x² + b·x + c mod P,
// x = xs + xc mod P (a nil for deg 1; a, b, c, xs of one length n, values
// below P), answering the client's query of the same n and deg.
func (s *Server) Quad(deg int, a, b, c, xs []uint64) ([]uint64, error) {
	if err := s.checkArgs(deg, a, b, c, xs); err != nil {
		return nil, err
	}
	n := len(xs)
	if n == 0 {
		return []uint64{}, nil
	}
	form := quadForm(deg)
	c0s, c1s, err := s.recvQuery(form, n)
	if err != nil {
		return nil, err
	}
	return s.respond(form, [2][]lring.Poly{c0s, c1s}, a, b, c, xs, nil)
}

// checkArgs checks the server's arguments of Quad.
func (s *Server) checkArgs(deg int, a, b, c, xs []uint64) error {
	p := s.P
	if err := checkDeg(deg); err != nil {
		return err
	}
	n := len(xs)
	if deg == 1 && a != nil {
		return fmt.Errorf("hesimd: degree 1 with a quadratic coefficient")
	}
	if deg == 2 && len(a) != n {
		return fmt.Errorf("hesimd: %d quadratic coefficients for %d elements", len(a), n)
	}
	if len(b) != n || len(c) != n {
		return fmt.Errorf("hesimd: %d linear and %d constant coefficients for %d elements", len(b), len(c), n)
	}
	for _, v := range []struct {
		name string
		v    []uint64
	}{{"a", a}, {"b", b}, {"c", c}, {"xs", xs}} {
		if err := p.checkRange(v.name, v.v); err != nil {
			return err
		}
	}
	return nil
}

// recvQuery receives and parses the client's query of form deg on n
// elements.
func (s *Server) recvQuery(deg, n int) (c0, c1 []lring.Poly, err error) {
	p := s.P
	msg, err := transport.RecvMax(s.Conn, headerSize+ring.SeedSize+p.chunks(n)*uploads(deg)*p.freshBytes())
	if err != nil {
		return nil, nil, fmt.Errorf("hesimd: receiving query: %w", err)
	}
	return p.parseQuery(msg, deg, n)
}

// respond computes, switches and sends the answers on the query's
// ciphertexts ct (c0s, c1s: uploads(deg) per group, deg the form) and
// returns the server's share. For the form degSplit, r1s nil draws r1 and
// sends both answers (Quad); r1s of Slots() per group sends the second
// answer only, with the r1 of the first answer sent offline (firstAnswers).
func (s *Server) respond(deg int, ct [2][]lring.Poly, a, b, c, xs, r1s []uint64) ([]uint64, error) {
	p := s.P
	n := len(xs)
	k := p.chunks(n)
	c0s, c1s := ct[0], ct[1]
	up := uploads(deg)
	out := make([]byte, 0, k*answers(deg)*p.replyBytes())
	rs := make([]uint64, n)
	for x := range k {
		lo, hi := x*p.N, min(n, (x+1)*p.N)
		r := make([]uint64, p.N) // uniform over all slots, padding included
		uniformModP(s.prg, r, p.p)
		copy(rs[lo:hi], r)
		// w1 = 2a·xs + b, w0 = a·xs² + b·xs + c − r (padding: w1 = 0, w0 = −r).
		w1, w0 := make([]uint64, p.N), make([]uint64, p.N)
		for j := range p.N {
			var bj, cj, xj, aj uint64
			if lo+j < hi {
				bj, cj, xj = b[lo+j], c[lo+j], xs[lo+j]
				if deg != 1 {
					aj = a[lo+j]
				}
			}
			ax := rq.MulMod(aj, xj, p.p)
			w1[j] = (rq.MulMod(2, ax, p.p) + bj) % p.p
			w0[j] = (rq.MulMod(ax+bj, xj, p.p) + cj + p.p - r[j]) % p.p
		}
		var quad []uint64
		if deg != 1 {
			quad = make([]uint64, p.N)
			for j := range p.N {
				if lo+j < hi {
					quad[j] = a[lo+j]
				}
			}
		}
		ct := [2][]lring.Poly{c0s[x*up : (x+1)*up], c1s[x*up : (x+1)*up]}
		if deg == degSplit { // a·Enc(xc) − r1 first; r1 joins w1
			var r1 []uint64
			if r1s != nil {
				r1 = r1s[x*p.N : (x+1)*p.N]
			} else {
				r1 = make([]uint64, p.N)
				uniformModP(s.prg, r1, p.p)
				out = s.firstAnswer(out, ct, quad, r1)
			}
			for j := range p.N {
				w1[j] = (w1[j] + r1[j]) % p.p
			}
			quad = nil
		}
		out = p.switchOut(out, s.answer(ct, w1, quad, w0), s.prg)
	}
	if err := s.Conn.Send(out); err != nil {
		return nil, fmt.Errorf("hesimd: sending answer: %w", err)
	}
	return rs, nil
}

// firstAnswer appends degSplit's first answer for one group, quad·Enc(xc)
// − r1 (quad: a in the group's slots, zero in the padding), switched.
func (s *Server) firstAnswer(out []byte, ct [2][]lring.Poly, quad, r1 []uint64) []byte {
	p := s.P
	neg := make([]uint64, p.N)
	for j, v := range r1 {
		neg[j] = (p.p - v) % p.p
	}
	return p.switchOut(out, s.answer(ct, quad, nil, neg), s.prg)
}

// uniformModP fills v with uniform values mod P (rejection sampling).
func uniformModP(prg *ring.PRG, v []uint64, P uint64) {
	m := ^uint64(0) >> (64 - bitsLen(P))
	for j := range v {
		for {
			x := prg.Uint64() & m
			if x < P {
				v[j] = x
				break
			}
		}
	}
}

// answer returns the flooded answer (c0, c1 over Q, coefficient domain)
// for one ciphertext group: ct[0][0], ct[1][0] = Enc(xc), and ct[·][1] =
// Enc(xc²) when quad is not nil: w1·Enc(xc) + quad·Enc(xc²) + ⌊Q·w0/P⌉ +
// Enc_pk(0) + flood (package doc).
func (s *Server) answer(ct [2][]lring.Poly, w1, quad, w0 []uint64) [2]lring.Poly {
	p := s.P
	r := p.rQ
	pt := p.rP.NewPoly()
	plain := func(slots []uint64) lring.Poly { // slots → centred plaintext over Q, NTT domain
		copy(pt.Coeffs[0], slots)
		p.rP.INTT(pt, pt)
		w := r.NewPoly()
		p.liftCentred(pt.Coeffs[0], w)
		r.NTT(w, w)
		return w
	}
	c0, c1, tmp := r.NewPoly(), r.NewPoly(), r.NewPoly()
	w := plain(w1)
	r.MulCoeffsBarrett(ct[0][0], w, c0)
	r.MulCoeffsBarrett(ct[1][0], w, c1)
	if quad != nil {
		w = plain(quad)
		r.MulCoeffsBarrett(ct[0][1], w, tmp)
		r.Add(c0, tmp, c0)
		r.MulCoeffsBarrett(ct[1][1], w, tmp)
		r.Add(c1, tmp, c1)
	}
	// Re-randomisation: u·pk + (e0, e1).
	u, e := r.NewPoly(), r.NewPoly()
	rq.SmallPoly(s.prg, p.Q, u, true)
	r.NTT(u, u)
	r.MulCoeffsBarrett(u, s.pk0, tmp)
	r.Add(c0, tmp, c0)
	r.MulCoeffsBarrett(u, s.pk1, tmp)
	r.Add(c1, tmp, c1)
	r.INTT(c0, c0)
	r.INTT(c1, c1)
	rq.SmallPoly(s.prg, p.Q, e, false)
	r.Add(c0, e, c0)
	rq.SmallPoly(s.prg, p.Q, e, false)
	r.Add(c1, e, c1)
	// Constant term, then the flood.
	copy(pt.Coeffs[0], w0)
	p.rP.INTT(pt, pt)
	p.encodeScaled(pt.Coeffs[0], tmp, nil)
	r.Add(c0, tmp, c0)
	if !s.noFlood {
		rq.AddFlood(s.prg, p.Q, c0, p.FloodBits)
	}
	return [2]lring.Poly{c0, c1}
}

// switchOut appends the answer ct switched to the reply moduli (c1 to q'
// by randomised rounding with prg's coins, c0 to 2^C0Bits by rounding to
// nearest: package doc) to out.
func (p *Params) switchOut(out []byte, ct [2]lring.Poly, prg *ring.PRG) []byte {
	c0, c1 := ct[0], ct[1]
	sw := make([]uint64, p.N)
	for j := range p.N {
		sw[j] = p.scaleRound(c1, j, p.QR, uniform01(prg))
	}
	out = rq.PackSeg(out, sw, uint(bitsLen(p.QR)))
	t := uint64(1) << p.C0Bits
	for j := range p.N {
		sw[j] = p.scaleRound(c0, j, t, 0.5)
	}
	return rq.PackSeg(out, sw, p.C0Bits)
}
