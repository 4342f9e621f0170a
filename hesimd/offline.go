package hesimd

import (
	"fmt"
	"slices"

	lring "github.com/tuneinsight/lattigo/v6/ring"

	"github.com/autorep/autorep/internal/rq"
	"github.com/autorep/autorep/transport"
)

// Offline/online split (Delphi's): before x exists, the client encrypts a
// uniform mask ρ (and ρ²) and sends it, as Quad would send xc; online it
// sends d = xc − ρ mod P in the clear (uniform: it hides xc) at ⌈log P⌉
// bits per element, the server sets z = xs + d, so that x = z + ρ, and
// answers the stored ciphertexts exactly as Quad with (xs, xc) = (z, ρ).
// The online bytes are d up and the answer down; the total is Quad's plus
// d. A mask serves one Online call only (a second would reveal xc − xc′
// to the server); masks are used in the order they were precomputed, on
// both sides.

//
// Degree 1 with the answer offline (PrecomputeLinear): b·x + c with
// x = z + ρ is b·z + c + b·ρ, and b·ρ does not depend on the input, so the
// server answers Enc(ρ) offline with w1 = b, w0 = −s, through the same
// respond path as Quad (re-randomised, flooded, switched): the client
// keeps the decryption b·ρ − s, the server keeps s. Online the client
// sends d and nothing comes back; the server's share b·z + c + s is local.

// ClientMask is the client's side of one precomputed Quad.
type ClientMask struct {
	deg, n int
	rho    []uint64
	ans    []uint64 // PrecomputeLinear: the decrypted answer b·ρ − s
	used   bool
}

// ServerMask is the server's side of one precomputed Quad: the client's
// encryptions of ρ (and ρ²), or after PrecomputeLinear the coefficients
// answered and the server's share s.
type ServerMask struct {
	deg, n int
	ct     [2][]lring.Poly
	b, s   []uint64 // PrecomputeLinear only
	used   bool
}

// Precompute draws a uniform mask ρ of n elements and sends its
// encryption (and ρ²'s for deg 2) to the server.
func (cl *Client) Precompute(deg, n int) (*ClientMask, error) {
	if err := checkDeg(deg); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("hesimd: %d elements", n)
	}
	m := &ClientMask{deg: deg, n: n, rho: make([]uint64, n)}
	uniformModP(cl.prg, m.rho, cl.P.p)
	if n > 0 {
		if err := cl.sendQuery(deg, m.rho); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// PrecomputeLinear is Precompute for degree 1 with the answer offline:
// it sends Enc(ρ) for n elements and keeps the decrypted answer b·ρ − s
// (the server's PrecomputeLinear with the coefficients b). Online then
// sends d only.
func (cl *Client) PrecomputeLinear(n int) (*ClientMask, error) {
	m, err := cl.Precompute(1, n)
	if err != nil || n == 0 {
		return m, err
	}
	if m.ans, err = cl.recvAnswer(n); err != nil {
		return nil, err
	}
	return m, nil
}

// PrecomputeLinear receives the client's Enc(ρ) for len(b) elements and
// answers it with b·ρ − s for a uniform s it keeps: the online step of the
// mask must use the same b (values below P).
func (s *Server) PrecomputeLinear(b []uint64) (*ServerMask, error) {
	n := len(b)
	zero := make([]uint64, n)
	if err := s.checkArgs(1, nil, b, zero, zero); err != nil {
		return nil, err
	}
	m, err := s.Precompute(1, n)
	if err != nil || n == 0 {
		return m, err
	}
	// Quad's answer at xs = 0, c = 0: w1 = b, w0 = −s.
	if m.s, err = s.respond(1, m.ct, nil, b, zero, zero); err != nil {
		return nil, err
	}
	m.ct = [2][]lring.Poly{}
	m.b = slices.Clone(b)
	return m, nil
}

// Precompute receives the client's encrypted mask for deg and n.
func (s *Server) Precompute(deg, n int) (*ServerMask, error) {
	if err := checkDeg(deg); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("hesimd: %d elements", n)
	}
	m := &ServerMask{deg: deg, n: n}
	if n > 0 {
		c0, c1, err := s.recvQuery(deg, n)
		if err != nil {
			return nil, err
		}
		m.ct = [2][]lring.Poly{c0, c1}
	}
	return m, nil
}

// Online (client side) finishes the precomputed Quad m on xc: it sends
// xc − ρ and returns its share y − r, as Quad does.
func (cl *Client) Online(m *ClientMask, xc []uint64) ([]uint64, error) {
	p := cl.P
	if m == nil || m.used {
		return nil, fmt.Errorf("hesimd: mask missing or already used")
	}
	if len(xc) != m.n {
		return nil, fmt.Errorf("hesimd: %d elements for a mask of %d", len(xc), m.n)
	}
	if err := p.checkRange("xc", xc); err != nil {
		return nil, err
	}
	m.used = true
	if m.n == 0 {
		return []uint64{}, nil
	}
	d := make([]uint64, m.n)
	for i, v := range xc {
		d[i] = (v + p.p - m.rho[i]) % p.p
	}
	w := uint(bitsLen(p.p))
	if err := cl.Conn.Send(rq.PackSeg(make([]byte, 0, rq.SegBytes(m.n, w)), d, w)); err != nil {
		return nil, fmt.Errorf("hesimd: sending masked input: %w", err)
	}
	if m.ans != nil {
		ans := m.ans
		m.ans, m.rho = nil, nil
		return ans, nil
	}
	return cl.recvAnswer(m.n)
}

// Online (server side) finishes the precomputed Quad m: it receives
// d = xc − ρ and answers with xs + d in place of xs; it returns r. After
// PrecomputeLinear (b must be the coefficients answered) it answers
// nothing and returns b·(xs + d) + c + s.
func (s *Server) Online(m *ServerMask, a, b, c, xs []uint64) ([]uint64, error) {
	p := s.P
	if m == nil || m.used {
		return nil, fmt.Errorf("hesimd: mask missing or already used")
	}
	if err := s.checkArgs(m.deg, a, b, c, xs); err != nil {
		return nil, err
	}
	if len(xs) != m.n {
		return nil, fmt.Errorf("hesimd: %d elements for a mask of %d", len(xs), m.n)
	}
	if m.s != nil && !slices.Equal(b, m.b) {
		return nil, fmt.Errorf("hesimd: linear coefficients differ from those answered offline")
	}
	m.used = true
	if m.n == 0 {
		return []uint64{}, nil
	}
	w := uint(bitsLen(p.p))
	want := rq.SegBytes(m.n, w)
	msg, err := transport.RecvMax(s.Conn, want)
	if err != nil {
		return nil, fmt.Errorf("hesimd: receiving masked input: %w", err)
	}
	if len(msg) != want {
		return nil, fmt.Errorf("hesimd: masked input of %d bytes, want %d", len(msg), want)
	}
	z := make([]uint64, m.n)
	rq.UnpackSeg(msg, z, w)
	for i, v := range z {
		if v >= p.p {
			return nil, fmt.Errorf("hesimd: masked input %d ≥ P = %d", v, p.p)
		}
		z[i] = (v + xs[i]) % p.p
	}
	if m.s != nil {
		for i := range z {
			z[i] = (rq.MulMod(b[i], z[i], p.p) + c[i] + m.s[i]) % p.p
		}
		m.s, m.b = nil, nil
		return z, nil
	}
	ct := m.ct
	m.ct = [2][]lring.Poly{} // the ciphertexts serve once
	return s.respond(m.deg, ct, a, b, c, z)
}
