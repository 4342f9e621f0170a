package mpc

import (
	"fmt"

	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// Fetch returns this party's material for req from src, checked: for
// this party, well-formed, answering req, and with vectors of the expected
// lengths (lens[i] for vector i; -1 skips a vector), so that a faulty
// source gives an error rather than a panic. Every protocol that uses
// correlated randomness takes its source as an argument and fetches
// through Fetch: the session holds none.
func (s *Session) Fetch(src corr.Provider, req corr.Request, lens ...int) (*corr.Material, error) {
	if src == nil {
		return nil, fmt.Errorf("mpc: %v material for %q: no correlation source", req.Kind, req.Label)
	}
	if src.Party() != s.Party {
		return nil, fmt.Errorf("mpc: %v material for %q: the source serves the %v, the session is the %v", req.Kind, req.Label, src.Party(), s.Party)
	}
	m, err := src.Get(req)
	if err != nil {
		return nil, fmt.Errorf("mpc: %v material for %q: %w", req.Kind, req.Label, err)
	}
	if m == nil {
		return nil, fmt.Errorf("mpc: %v material for %q: provider returned nothing", req.Kind, req.Label)
	}
	if m.Kind != req.Kind || m.Party != s.Party {
		return nil, fmt.Errorf("mpc: asked for %v material for the %v, got %v for the %v", req.Kind, s.Party, m.Kind, m.Party)
	}
	if err := m.Answers(req, s.Party); err != nil {
		return nil, err
	}
	for i, n := range lens {
		if n >= 0 && len(m.Vecs[i].Data) != n {
			return nil, fmt.Errorf("mpc: %v material for %q: vector %d has %d values, want %d", req.Kind, req.Label, i, len(m.Vecs[i].Data), n)
		}
	}
	return m, nil
}

// ShareInput turns the client's fixed-point input into additive shares
// without communication: the client's share is x itself and the server's
// share is zero (n values). The first protocol step on the shares (the
// client's masked message of Linear) hides x from the server. The server
// passes x = nil.
func (s *Session) ShareInput(x []uint64, n int) ([]uint64, error) {
	if s.Party == Server {
		return make([]uint64, n), nil
	}
	if len(x) != n {
		return nil, fmt.Errorf("mpc: input of %d values, want %d", len(x), n)
	}
	return append([]uint64(nil), x...), nil
}

// RevealToClient opens the shared x to the client only: the server sends
// its share (8 bytes per element, one message). The client gets x, the
// server nil.
func (s *Session) RevealToClient(label string, x []uint64) ([]uint64, error) {
	if s.Party == Server {
		return nil, s.sendVec("reveal "+label, x)
	}
	theirs, err := s.recvVec("reveal "+label, len(x))
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(x))
	ring.AddVec(out, x, theirs)
	return out, nil
}

// Add returns shares of a + b (local; residual connections).
func Add(a, b []uint64) ([]uint64, error) {
	if len(a) != len(b) {
		return nil, fmt.Errorf("mpc: add of %d and %d values", len(a), len(b))
	}
	out := make([]uint64, len(a))
	ring.AddVec(out, a, b)
	return out, nil
}

// AddPublic returns shares of x + c for a public c (the server adds it).
func (s *Session) AddPublic(x, c []uint64) ([]uint64, error) {
	if len(x) != len(c) {
		return nil, fmt.Errorf("mpc: add public of %d and %d values", len(x), len(c))
	}
	out := append([]uint64(nil), x...)
	if s.Party == Server {
		ring.AddVec(out, out, c)
	}
	return out, nil
}

// Scale returns shares of k·x for a public k (local, exact in the ring).
func Scale(x []uint64, k uint64) []uint64 {
	out := make([]uint64, len(x))
	ring.MulScalarVec(out, x, k)
	return out
}

// Mul returns shares of x·y (element-wise, no truncation) with Beaver
// triples: the parties open e = x − a and d = y − b in one round (16 bytes
// per element each way) and compute c + e·b + d·a + e·d.
func (s *Session) Mul(src corr.Provider, label string, x, y []uint64) ([]uint64, error) {
	n := len(x)
	if len(y) != n {
		return nil, fmt.Errorf("mpc: mul of %d and %d values", n, len(y))
	}
	m, err := s.Fetch(src, corr.Request{Kind: KindTriple, Label: label, N: n}, n, n, n)
	if err != nil {
		return nil, err
	}
	a, b, c := m.Vecs[0].Data, m.Vecs[1].Data, m.Vecs[2].Data
	msg := make([]uint64, 2*n)
	ring.SubVec(msg[:n], x, a)
	ring.SubVec(msg[n:], y, b)
	ed, err := s.open("mul "+label, msg)
	if err != nil {
		return nil, err
	}
	e, d := ed[:n], ed[n:]
	out := make([]uint64, n)
	for i := range out {
		out[i] = c[i] + e[i]*b[i] + d[i]*a[i]
		if s.Party == Server {
			out[i] += e[i] * d[i]
		}
	}
	return out, nil
}

// Square returns shares of x² (no truncation) with square pairs (a, a²):
// open e = x − a (one round, 8 bytes per element each way) and compute
// a² + 2e·a + e².
func (s *Session) Square(src corr.Provider, label string, x []uint64) ([]uint64, error) {
	n := len(x)
	m, err := s.Fetch(src, corr.Request{Kind: KindSquare, Label: label, N: n}, n, n)
	if err != nil {
		return nil, err
	}
	a, a2 := m.Vecs[0].Data, m.Vecs[1].Data
	msg := make([]uint64, n)
	ring.SubVec(msg, x, a)
	e, err := s.open("square "+label, msg)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = a2[i] + 2*e[i]*a[i]
		if s.Party == Server {
			out[i] += e[i] * e[i]
		}
	}
	return out, nil
}
