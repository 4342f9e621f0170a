// Package mpc implements the two-party protocols of autorep's private
// inference over additive secret shares in Z_2^64: linear layers with
// server-held weights, Beaver multiplication and squaring, the AutoReP
// polynomial activation with secret (server-held) coefficients and a
// one-bit-error truncation without comparisons (the MSB trick), exact
// truncation, max pooling and mixed ReLU/polynomial activation layers
// (whose comparisons come from a protocol family through the Gates plug
// point: package mpc/fssgates has the FSS gates, their key generation and
// key payloads), input sharing and reveal to the client. The core imports
// no protocol family.
//
// Party 0 is the server (it holds the weights and polynomial coefficients in
// the clear), party 1 the client (it holds the input and learns only the
// output). Correlated randomness comes from a source (corr.Provider, the
// correlations contract of package mpc/corr) that the caller passes to
// each protocol needing it: the in-process dealer (package mpc/dealer) or
// the network dealer (package serve/dealer); the protocols never depend
// on where it comes from, and the Session holds none. The core declares
// and registers its own material kinds (KindWeightMask, KindLinear,
// KindCoefMask, KindPoly, KindTriple, KindSquare, KindTruncMSB); a
// family declares its own.
//
// Every protocol works on whole layer tensors: one message per protocol step
// per layer. Values are fixed point with Session.Frac fractional bits
// (default ring.DefaultFrac). docs/PROTOCOLS.md documents each protocol's
// message flow, bytes, rounds, error bounds and security argument.
package mpc

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// Party identifies a protocol participant: the correlations contract's
// (corr.Party), named by every protocol's caller.
type Party = corr.Party

// The two parties.
const (
	Server = corr.Server // holds the weights, learns nothing
	Client = corr.Client // holds the input, learns the output
)

// Session is one party's view of a two-party computation: its role, the
// connection to the peer and the fixed-point precision. It holds no source
// of correlated randomness: the protocols that need material take their
// Provider as an argument (the caller decides where material comes from
// and when it is fetched). A Session is not safe for concurrent use.
type Session struct {
	Party Party
	Conn  transport.Conn
	// Frac is the number of fractional bits of activations (and weights);
	// 0 means ring.DefaultFrac.
	Frac uint
	// Ell is the bit width of the signed inputs of the FSS gates on
	// activations (the ReLU positions of Act, max pooling); 0 means 64.
	// Inputs must lie in [−2^(Ell−1), 2^(Ell−1)); smaller widths give
	// smaller keys (offline cost only). The MSB-trick protocols (the
	// polynomial positions of Act, TruncMSB and average pooling) do not
	// use it: their inputs must satisfy |x| < 2^61.
	Ell int
	// Gates are the comparison gates of Act's ReLU positions and of
	// MaxPool, from a protocol family (fssgates.Gates for the dealer
	// suite); nil fails those layers with an error.
	Gates Gates

	preAct map[string]*preAct    // activation layers prepared by PreopenAct
	preLin map[string]*preLinear // client: linear material fetched by PreopenAct
}

// NewSession returns a session for party p over conn.
func NewSession(p Party, conn transport.Conn, frac uint) (*Session, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("mpc: invalid party %d", int(p))
	}
	if conn == nil {
		return nil, errors.New("mpc: session needs a connection")
	}
	if frac == 0 {
		frac = ring.DefaultFrac
	}
	if frac > ring.MaxFrac {
		return nil, fmt.Errorf("mpc: %d fractional bits, at most %d", frac, ring.MaxFrac)
	}
	return &Session{Party: p, Conn: conn, Frac: frac}, nil
}

func (s *Session) frac() uint {
	if s.Frac == 0 {
		return ring.DefaultFrac
	}
	return s.Frac
}

// encodeVec serialises v as little-endian uint64 words.
func encodeVec(v []uint64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], x)
	}
	return b
}

// decodeVec parses exactly n little-endian uint64 words.
func decodeVec(b []byte, n int) ([]uint64, error) {
	if len(b) != 8*n {
		return nil, fmt.Errorf("mpc: message of %d bytes, want %d (%d values)", len(b), 8*n, n)
	}
	v := make([]uint64, n)
	for i := range v {
		v[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return v, nil
}

// sendVec sends v as one message.
func (s *Session) sendVec(what string, v []uint64) error {
	if err := s.Conn.Send(encodeVec(v)); err != nil {
		return fmt.Errorf("mpc: %s: send: %w", what, err)
	}
	return nil
}

// recvVec receives one message of exactly n values; a longer one is
// refused from its length prefix (transport.RecvExact).
func (s *Session) recvVec(what string, n int) ([]uint64, error) {
	b, err := transport.RecvExact(s.Conn, 8*n)
	if err != nil {
		return nil, fmt.Errorf("mpc: %s: receive (%d values): %w", what, n, err)
	}
	return decodeVec(b, n)
}

// exchange sends mine and receives the peer's message of the same length:
// one simultaneous round (transport.Exchange, deadlock-free); a longer
// message is refused from its length prefix (transport.ExchangeExact).
func (s *Session) exchange(what string, mine []uint64) ([]uint64, error) {
	b, err := transport.ExchangeExact(s.Conn, encodeVec(mine), 8*len(mine))
	if err != nil {
		return nil, fmt.Errorf("mpc: %s (%d values): %w", what, len(mine), err)
	}
	return decodeVec(b, len(mine))
}

// open reconstructs x from this party's share xs in one simultaneous round
// (8 bytes per element each way). Only ever called on masked values.
func (s *Session) open(what string, xs []uint64) ([]uint64, error) {
	theirs, err := s.exchange(what, xs)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(xs))
	ring.AddVec(out, xs, theirs)
	return out, nil
}
