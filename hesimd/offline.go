package hesimd

import (
	"fmt"

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

// ClientMask is the client's side of one precomputed Quad.
type ClientMask struct {
	deg, n int
	rho    []uint64
	used   bool
}

// ServerMask is the server's side of one precomputed Quad: the client's
// encryptions of ρ (and ρ²).
type ServerMask struct {
	deg, n int
	ct     [2][]lring.Poly
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
	return cl.recvAnswer(m.n)
}

// Online (server side) finishes the precomputed Quad m: it receives
// d = xc − ρ and answers with xs + d in place of xs; it returns r.
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
	ct := m.ct
	m.ct = [2][]lring.Poly{} // the ciphertexts serve once
	return s.respond(m.deg, ct, a, b, c, z)
}
