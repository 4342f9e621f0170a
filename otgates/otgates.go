// Package otgates implements the non-linear gates of the dealer-free
// two-party mode on additive shares over Z_2^ℓ (1 ≤ ℓ ≤ 64), with the
// correlations made by oblivious transfer (package ot) instead of a
// dealer: the millionaires' comparison of CrypTFlow2 (Rathee et al., CCS
// 2020) with 1-out-of-16 OT leaves and an AND tree on bit triples from
// random OT, DReLU, the multiplexer and ReLU, boolean-to-arithmetic
// conversion, truncation with a one-bit error, ReLU with its truncation
// fused (ReLUTrunc), squaring by Gilboa's multiplication over correlated
// OT, the degree-2 polynomial with secret coefficients (Poly2), and 2×2
// max pooling.
//
// Shares are plain []uint64 values reduced mod 2^ℓ (the high bits are
// ignored on input and zero on output); boolean shares are []uint8 bits
// (XOR-shared). Both parties call the same function with their own shares,
// in the same order, over one transport.Conn; party 0 is the OT sender
// first wherever the protocol has a direction. docs/PROTOCOLS.md
// ("Dealer-free gates") gives the message sizes and rounds.
package otgates

import (
	"fmt"

	"github.com/autorep/autorep/ot"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// Party is one side of a dealer-free session. Its OT state (hash tweaks,
// PRG streams) advances in step with the peer's, so the two parties must
// call the same gates with the same sizes in the same order; after an
// error the session is out of step and must be discarded. A Party is not
// safe for concurrent use.
type Party struct {
	ID   int
	Conn transport.Conn
	OT   *ot.Session
	prg  *ring.PRG
	oc   *orderedConn // the OT session's connection: Conn with asynchronous sends on demand
	// store holds bit triples made ahead (UseTriples); nil: the
	// comparisons make their own.
	store *Triples
}

// New sets up party id (0 or 1) over c: the OT session (base OTs both
// ways, ot.DefaultConfig) and a private PRG for the party's own randomness.
func New(c transport.Conn, id int) (*Party, error) {
	return NewConfig(c, id, ot.DefaultConfig)
}

// NewConfig is New with the OT extensions of cfg (both parties must pass
// the same); New's default is the measured best, the others are there to
// compare (IKNP, smaller SoftSpoken k, KK13).
func NewConfig(c transport.Conn, id int, cfg ot.Config) (*Party, error) {
	oc := &orderedConn{Conn: c}
	s, err := ot.NewSessionConfig(oc, id, cfg)
	if err != nil {
		return nil, fmt.Errorf("otgates: OT setup: %w", err)
	}
	prg, err := ring.NewRandomPRG()
	if err != nil {
		return nil, err
	}
	return &Party{ID: id, Conn: c, OT: s, prg: prg, oc: oc}, nil
}

func checkEll(ell int) error {
	if ell < 1 || ell > 64 {
		return fmt.Errorf("otgates: ring width ℓ = %d, want 1..64", ell)
	}
	return nil
}

func mask(ell int) uint64 {
	if ell >= 64 {
		return ^uint64(0)
	}
	return 1<<uint(ell) - 1
}

// randomBits returns n private random bits.
func (p *Party) randomBits(n int) []uint8 {
	b := make([]uint8, n)
	p.prg.Bits(b)
	return b
}

// both runs the two directions of a symmetric step: send is this party's
// step as OT sender, recv as receiver. Party 0 sends first, so the two
// sides meet; the pair costs the rounds of one direction plus one.
func (p *Party) both(send, recv func() error) error {
	first, second := send, recv
	if p.ID == 1 {
		first, second = recv, send
	}
	if err := first(); err != nil {
		return err
	}
	return second()
}

// packBits packs 0/1 bytes into bytes, 8 per byte.
func packBits(b []uint8) []byte {
	out := make([]byte, (len(b)+7)/8)
	for i, v := range b {
		out[i/8] |= (v & 1) << (i % 8)
	}
	return out
}

func unpackBits(msg []byte, n int) ([]uint8, error) {
	if len(msg) != (n+7)/8 {
		return nil, fmt.Errorf("otgates: opened bits: message has %d bytes, want %d", len(msg), (n+7)/8)
	}
	out := make([]uint8, n)
	for i := range out {
		out[i] = msg[i/8] >> (i % 8) & 1
	}
	return out, nil
}

// openBits reveals XOR-shared bits to both parties (one exchange).
func (p *Party) openBits(b []uint8) ([]uint8, error) {
	in, err := transport.ExchangeExact(p.Conn, packBits(b), (len(b)+7)/8)
	if err != nil {
		return nil, fmt.Errorf("otgates: opening bits: %w", err)
	}
	peer, err := unpackBits(in, len(b))
	if err != nil {
		return nil, err
	}
	for i := range peer {
		peer[i] ^= b[i]
	}
	return peer, nil
}
