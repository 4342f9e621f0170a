package hesimd

import (
	"fmt"
	"slices"

	lring "github.com/tuneinsight/lattigo/v6/ring"

	"github.com/autorep/autorep/internal/rq"
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

// Degree 1 with the answer offline (PrecomputeLinear): b·x + c with
// x = z + ρ is b·z + c + b·ρ, and b·ρ does not depend on the input, so the
// server answers Enc(ρ) offline with w1 = b, w0 = −s, through the same
// respond path as Quad (re-randomised, flooded, switched): the client
// keeps the decryption b·ρ − s, the server keeps s. Online the client
// sends d and nothing comes back; the server's share b·z + c + s is local.
// The material is elementwise on both sides, so one batch may serve
// several later steps (Split).
//
// Degree 2 with the first answer offline (PrecomputeQuad): Quad's form
// degSplit on x = z + ρ. The client uploads Enc(ρ) only; the server, which
// knows a already, answers a·Enc(ρ) − r1 offline and keeps r1 and the
// ciphertexts; the client keeps α = a·ρ − r1. Online the client sends d,
// the server answers (r1 + 2a·z + b)·Enc(ρ) + ⌊Q·(a·z² + b·z + c − r)/P⌉
// and the client keeps α·ρ + γ = y − r, as in Quad. Against Precompute's
// degree 2 (Enc(ρ) and Enc(ρ²) up), an upload becomes an answer offline;
// the online bytes are the same.

// ClientMask is the client's side of one precomputed Quad.
type ClientMask struct {
	deg, n int
	rho    []uint64
	// ans is the answer decrypted offline: b·ρ − s (PrecomputeLinear) or
	// α = a·ρ − r1 (PrecomputeQuad, PrecomputeQuadElementwise); nil after
	// Precompute. ans2 is PrecomputeQuadElementwise's β = u·ρ − s.
	ans, ans2 []uint64
	form      int // pre* below
	used      bool
}

// ServerMask is the server's side of one precomputed Quad: the client's
// encryptions of ρ (and ρ²), or after PrecomputeLinear the coefficients
// answered and the server's share s, or after PrecomputeQuad Enc(ρ), the
// quadratic coefficients answered and r1.
type ServerMask struct {
	deg, n int
	ct     [2][]lring.Poly
	a, b   []uint64 // the coefficients answered offline
	s, r1  []uint64 // PrecomputeLinear's s, PrecomputeQuad's r1 (Slots() per group)
	u      []uint64 // PrecomputeQuadElementwise's u (with its r1 and s, per element)
	form   int
	used   bool
}

// The forms of a precomputed mask: no answer yet (Precompute), degree 1
// answered (PrecomputeLinear), degree 2's first answer sent
// (PrecomputeQuad).
const (
	preQuery = iota
	preLinear
	preSplit
	preElem // PrecomputeQuadElementwise (quad_elem.go)
)

// Precompute draws a uniform mask ρ of n elements and sends its
// encryption (and ρ²'s for deg 2) to the server.
func (cl *Client) Precompute(deg, n int) (*ClientMask, error) {
	if err := checkDeg(deg); err != nil {
		return nil, err
	}
	return cl.precompute(deg, n)
}

// precompute is Precompute for the query form deg (degSplit: degree 2,
// Enc(ρ) only).
func (cl *Client) precompute(deg, n int) (*ClientMask, error) {
	if n < 0 {
		return nil, fmt.Errorf("hesimd: %d elements", n)
	}
	m := &ClientMask{deg: min(deg, 2), n: n, rho: make([]uint64, n)}
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
	return cl.precomputeAnswered(1, preLinear, n)
}

// PrecomputeQuad is Precompute for degree 2 with the first answer
// offline: it sends Enc(ρ) for n elements (Quad's form) and keeps α =
// a·ρ − r1 (the server's PrecomputeQuad with the coefficients a). Online
// then sends d and receives one answer.
func (cl *Client) PrecomputeQuad(n int) (*ClientMask, error) {
	return cl.precomputeAnswered(degSplit, preSplit, n)
}

// precomputeAnswered sends the query of form deg on a fresh mask and
// keeps the answer the server sends back offline.
func (cl *Client) precomputeAnswered(deg, form, n int) (*ClientMask, error) {
	m, err := cl.precompute(deg, n)
	if err != nil {
		return nil, err
	}
	m.form = form
	if n == 0 {
		return m, nil
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
	m, err := s.precompute(1, n)
	if err != nil {
		return nil, err
	}
	m.form, m.b = preLinear, slices.Clone(b)
	if n == 0 {
		return m, nil
	}
	// Quad's answer at xs = 0, c = 0: w1 = b, w0 = −s.
	if m.s, err = s.respond(1, m.ct, nil, b, zero, zero, nil); err != nil {
		return nil, err
	}
	m.ct = [2][]lring.Poly{}
	return m, nil
}

// PrecomputeQuad receives the client's Enc(ρ) for len(a) elements and
// answers a·Enc(ρ) − r1 per group for a uniform r1 it keeps, with the
// ciphertexts: the online step of the mask must use the same a (values
// below P).
func (s *Server) PrecomputeQuad(a []uint64) (*ServerMask, error) {
	p := s.P
	n := len(a)
	zero := make([]uint64, n)
	if err := s.checkArgs(2, a, zero, zero, zero); err != nil {
		return nil, err
	}
	m, err := s.precompute(degSplit, n)
	if err != nil {
		return nil, err
	}
	m.deg, m.form, m.a = 2, preSplit, slices.Clone(a)
	if n == 0 {
		return m, nil
	}
	k := p.chunks(n)
	m.r1 = make([]uint64, k*p.N)
	uniformModP(s.prg, m.r1, p.p)
	out := make([]byte, 0, k*p.replyBytes())
	for x := range k {
		quad := make([]uint64, p.N) // zero in the padding
		copy(quad, a[x*p.N:min(n, (x+1)*p.N)])
		ct := [2][]lring.Poly{m.ct[0][x : x+1], m.ct[1][x : x+1]}
		out = s.firstAnswer(out, ct, quad, m.r1[x*p.N:(x+1)*p.N])
	}
	if err := s.Conn.Send(out); err != nil {
		return nil, fmt.Errorf("hesimd: sending answer: %w", err)
	}
	return m, nil
}

// Precompute receives the client's encrypted mask for deg and n.
func (s *Server) Precompute(deg, n int) (*ServerMask, error) {
	if err := checkDeg(deg); err != nil {
		return nil, err
	}
	return s.precompute(deg, n)
}

// precompute is Precompute for the query form deg.
func (s *Server) precompute(deg, n int) (*ServerMask, error) {
	if n < 0 {
		return nil, fmt.Errorf("hesimd: %d elements", n)
	}
	m := &ServerMask{deg: min(deg, 2), n: n}
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
	ans, rho := m.ans, m.rho
	m.ans, m.rho = nil, nil
	switch m.form {
	case preLinear:
		return ans, nil
	case preElem:
		return cl.onlineElem(m, ans, rho)
	case preSplit:
		gamma, err := cl.recvAnswer(m.n)
		if err != nil {
			return nil, err
		}
		return cl.combine(ans, rho, gamma), nil
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
	if m.form == preLinear && !slices.Equal(b, m.b) {
		return nil, fmt.Errorf("hesimd: linear coefficients differ from those answered offline")
	}
	if (m.form == preSplit || m.form == preElem) && !slices.Equal(a, m.a) {
		return nil, fmt.Errorf("hesimd: quadratic coefficients differ from those answered offline")
	}
	m.used = true
	if m.n == 0 {
		return []uint64{}, nil
	}
	z, err := recvResidues(s.Conn, m.n, p.p, "masked input")
	if err != nil {
		return nil, err
	}
	for i, v := range z {
		z[i] = (v + xs[i]) % p.p
	}
	if m.form == preElem {
		return s.onlineElem(m, a, b, c, z)
	}
	if m.form == preLinear {
		for i := range z {
			z[i] = (rq.MulMod(b[i], z[i], p.p) + c[i] + m.s[i]) % p.p
		}
		m.s, m.b = nil, nil
		return z, nil
	}
	ct, r1 := m.ct, m.r1
	m.ct, m.r1, m.a = [2][]lring.Poly{}, nil, nil // the ciphertexts serve once
	if m.form == preSplit {
		return s.respond(degSplit, ct, a, b, c, z, r1)
	}
	return s.respond(m.deg, ct, a, b, c, z, nil)
}

// Split cuts a mask of PrecomputeLinear or PrecomputeQuadElementwise (whose
// material is elementwise) into masks of the given sizes, in
// order (they must sum to its length): one batch of Enc(ρ) and answers
// then serves several steps, with less padding than a batch per step.
// Each piece serves one Online call; the mask itself is used up.
func (m *ClientMask) Split(sizes []int) ([]*ClientMask, error) {
	cuts, err := splitCuts(m != nil && !m.used && (m.form == preLinear || m.form == preElem), m.size(), sizes)
	if err != nil {
		return nil, err
	}
	m.used = true
	out := make([]*ClientMask, len(cuts))
	for i, c := range cuts {
		out[i] = &ClientMask{deg: m.deg, n: c[1] - c[0], rho: m.rho[c[0]:c[1]], ans: cut(m.ans, c), ans2: cut(m.ans2, c), form: m.form}
	}
	m.rho, m.ans, m.ans2 = nil, nil, nil
	return out, nil
}

// Split is the server's side of ClientMask.Split: the same sizes.
func (m *ServerMask) Split(sizes []int) ([]*ServerMask, error) {
	cuts, err := splitCuts(m != nil && !m.used && (m.form == preLinear || m.form == preElem), m.size(), sizes)
	if err != nil {
		return nil, err
	}
	m.used = true
	out := make([]*ServerMask, len(cuts))
	for i, c := range cuts {
		out[i] = &ServerMask{deg: m.deg, n: c[1] - c[0], a: cut(m.a, c), b: cut(m.b, c), s: cut(m.s, c), r1: cut(m.r1, c), u: cut(m.u, c), form: m.form}
	}
	m.a, m.b, m.s, m.r1, m.u = nil, nil, nil, nil, nil
	return out, nil
}

// cut returns v[c[0]:c[1]], or nil for a nil v (a mask of no elements).
func cut(v []uint64, c [2]int) []uint64 {
	if v == nil {
		return nil
	}
	return v[c[0]:c[1]]
}

func (m *ClientMask) size() int {
	if m == nil {
		return 0
	}
	return m.n
}

func (m *ServerMask) size() int {
	if m == nil {
		return 0
	}
	return m.n
}

// splitCuts returns the [lo, hi) ranges of consecutive pieces of the given
// sizes of a mask of n elements; ok tells that the mask is an unused one
// of PrecomputeLinear or PrecomputeQuadElementwise.
func splitCuts(ok bool, n int, sizes []int) ([][2]int, error) {
	if !ok {
		return nil, fmt.Errorf("hesimd: split of a mask that is missing, used, or not elementwise (PrecomputeLinear, PrecomputeQuadElementwise)")
	}
	cuts := make([][2]int, len(sizes))
	lo := 0
	for i, k := range sizes {
		if k < 0 || k > n-lo {
			return nil, fmt.Errorf("hesimd: split of %d elements into pieces %v", n, sizes)
		}
		cuts[i] = [2]int{lo, lo + k}
		lo += k
	}
	if lo != n {
		return nil, fmt.Errorf("hesimd: split of %d elements into pieces %v (sum %d)", n, sizes, lo)
	}
	return cuts, nil
}
