package hesimd

import (
	"fmt"
	"slices"

	lring "github.com/tuneinsight/lattigo/v6/ring"

	"github.com/autorep/autorep/internal/rq"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// Degree 2 with all HE offline and elementwise material
// (PrecomputeQuadElementwise). y = a·x² + b·x + c with x = z + ρ is
// a·ρ² + (2a·z + b)·ρ + (a·z² + b·z + c): the first term needs a·ρ, the
// second the product of a value the server learns online with ρ, the
// third is the server's. Offline the client uploads Enc(ρ) and the server
// answers it twice per group: a·Enc(ρ) − r1 and u·Enc(ρ) − s, r1, u, s
// uniform; the client keeps α = a·ρ − r1 and β = u·ρ − s. Online the
// client sends d, the server sets z = xs + d and sends e = r1 + 2a·z + b −
// u mod P in the clear (uniform: u is fresh and used once) and keeps
// a·z² + b·z + c + s; the client keeps (α + e)·ρ + β = a·ρ² + (2a·z +
// b)·ρ − s. The client's view is α, β, e, three independent uniform
// vectors given y − r = its output, and every answer is flooded as Quad's.
// Against PrecomputeQuad: one more answer offline, and e (⌈log P⌉ bits)
// instead of an answer online, no HE work online, and material that is
// elementwise on both sides, so one batch serves several steps (Split).

// degElem is the query form of PrecomputeQuadElementwise in the header
// (Enc(ρ) only, two answers offline).
const degElem = 4

// PrecomputeQuadElementwise sends Enc(ρ) for n elements and keeps the two
// answers the server sends back (the server's PrecomputeQuadElementwise
// with the quadratic coefficients a). Online then sends d and receives e.
func (cl *Client) PrecomputeQuadElementwise(n int) (*ClientMask, error) {
	m, err := cl.precompute(degElem, n)
	if err != nil {
		return nil, err
	}
	m.form = preElem
	if n == 0 {
		return m, nil
	}
	ys, err := cl.recvAnswers(n, 2)
	if err != nil {
		return nil, err
	}
	m.ans, m.ans2 = ys[0], ys[1]
	return m, nil
}

// PrecomputeQuadElementwise receives the client's Enc(ρ) for len(a)
// elements and answers it with a·Enc(ρ) − r1 and u·Enc(ρ) − s per group,
// keeping r1, u and s: the online step of the mask must use the same a
// (values below P).
func (s *Server) PrecomputeQuadElementwise(a []uint64) (*ServerMask, error) {
	p := s.P
	n := len(a)
	zero := make([]uint64, n)
	if err := s.checkArgs(2, a, zero, zero, zero); err != nil {
		return nil, err
	}
	m, err := s.precompute(degElem, n)
	if err != nil {
		return nil, err
	}
	m.deg, m.form, m.a = 2, preElem, slices.Clone(a)
	m.r1, m.u, m.s = make([]uint64, n), make([]uint64, n), make([]uint64, n)
	if n == 0 {
		return m, nil
	}
	k := p.chunks(n)
	out := make([]byte, 0, 2*k*p.replyBytes())
	r1, u, sh, neg := make([]uint64, p.N), make([]uint64, p.N), make([]uint64, p.N), make([]uint64, p.N)
	for x := range k {
		lo, hi := x*p.N, min(n, (x+1)*p.N)
		// Uniform over all slots, padding included (its decryptions are −r1
		// and −s: ρ is zero there).
		uniformModP(s.prg, r1, p.p)
		uniformModP(s.prg, u, p.p)
		uniformModP(s.prg, sh, p.p)
		quad := make([]uint64, p.N)
		copy(quad, a[lo:hi])
		ct := [2][]lring.Poly{m.ct[0][x : x+1], m.ct[1][x : x+1]}
		out = s.firstAnswer(out, ct, quad, r1)
		for j, v := range sh {
			neg[j] = (p.p - v) % p.p
		}
		out = p.switchOut(out, s.answer(ct, u, nil, neg), s.prg)
		copy(m.r1[lo:hi], r1)
		copy(m.u[lo:hi], u)
		copy(m.s[lo:hi], sh)
	}
	m.ct = [2][]lring.Poly{}
	if err := s.Conn.Send(out); err != nil {
		return nil, fmt.Errorf("hesimd: sending answer: %w", err)
	}
	return m, nil
}

// onlineElem finishes the client's side of a PrecomputeQuadElementwise
// mask after d is sent: it receives e and returns (α + e)·ρ + β.
func (cl *Client) onlineElem(m *ClientMask, alpha, rho []uint64) ([]uint64, error) {
	P := cl.P.p
	e, err := recvResidues(cl.Conn, len(rho), P, "e")
	if err != nil {
		return nil, err
	}
	beta := m.ans2
	m.ans2 = nil
	for i := range e {
		e[i] = (rq.MulMod((alpha[i]+e[i])%P, rho[i], P) + beta[i]) % P
	}
	return e, nil
}

// onlineElem finishes the server's side of a PrecomputeQuadElementwise
// mask on z = xs + d: it sends e = r1 + 2a·z + b − u and returns
// a·z² + b·z + c + s.
func (s *Server) onlineElem(m *ServerMask, a, b, c, z []uint64) ([]uint64, error) {
	P := s.P.p
	e := make([]uint64, len(z))
	y := make([]uint64, len(z))
	for i, v := range z {
		az := rq.MulMod(a[i], v, P)
		e[i] = (m.r1[i] + rq.MulMod(2, az, P) + b[i] + P - m.u[i]) % P
		y[i] = (rq.MulMod(az+b[i], v, P) + c[i] + m.s[i]) % P
	}
	m.r1, m.u, m.s, m.a = nil, nil, nil, nil
	w := uint(bitsLen(P))
	if err := s.Conn.Send(rq.PackSeg(make([]byte, 0, rq.SegBytes(len(e), w)), e, w)); err != nil {
		return nil, fmt.Errorf("hesimd: sending e: %w", err)
	}
	return y, nil
}

// recvResidues receives n residues mod P packed at ⌈log P⌉ bits, checking
// the size and the range.
func recvResidues(c transport.Conn, n int, P uint64, what string) ([]uint64, error) {
	w := uint(bitsLen(P))
	want := rq.SegBytes(n, w)
	msg, err := transport.RecvMax(c, want)
	if err != nil {
		return nil, fmt.Errorf("hesimd: receiving %s: %w", what, err)
	}
	if len(msg) != want {
		return nil, fmt.Errorf("hesimd: %s of %d bytes, want %d", what, len(msg), want)
	}
	v := make([]uint64, n)
	rq.UnpackSeg(msg, v, w)
	for _, x := range v {
		if x >= P {
			return nil, fmt.Errorf("hesimd: %s value %d ≥ P = %d", what, x, P)
		}
	}
	return v, nil
}

// Degree2Bytes returns the traffic (both directions, offline and online)
// of degree-2 steps of the given element counts: each with its own
// PrecomputeQuad, and all in one PrecomputeQuadElementwise batch (Split
// into the steps). The batch pays one more answer per group and e, the
// per-step form an answer per group online and the padding of every
// step's last group; which is cheaper depends on the sizes.
func (p *Params) Degree2Bytes(sizes []int) (perStep, batch int) {
	w := uint(bitsLen(p.p))
	query := headerSize + ring.SeedSize
	total := 0
	for _, k := range sizes {
		if k == 0 {
			continue
		}
		g := p.chunks(k)
		perStep += query + g*(p.freshBytes()+2*p.replyBytes()) + rq.SegBytes(k, w)
		batch += 2 * rq.SegBytes(k, w)
		total += k
	}
	if total > 0 {
		batch += query + p.chunks(total)*(p.freshBytes()+2*p.replyBytes())
	}
	return perStep, batch
}
