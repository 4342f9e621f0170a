package ot

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/cloudflare/circl/group"

	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// Base OT: the "simplest OT" of Chou and Orlandi (Latincrypt 2015) on the
// prime-order group Ristretto255 (circl's group package), batched: one
// sender key for all n transfers, one round trip.
//
//	sender:   a ← Z_q, A = a·G                         → A
//	receiver: b_i ← Z_q, B_i = b_i·G + c_i·A            → B_1..B_n
//	sender:   k_i^0 = H(i, A, B_i, a·B_i), k_i^1 = H(i, A, B_i, a·(B_i − A))
//	receiver: k_i^{c_i} = H(i, A, B_i, b_i·A)
//
// H is SHA-256 with a label, truncated to a 16-byte PRG seed. Against a
// semi-honest party the receiver's B_i is uniform whatever c_i, and the
// key the receiver does not get, H(.., a·b_i·G ∓ a²G), is a random-oracle
// output on a CDH value it cannot compute. Hashing A, B_i and the index i
// keeps the n transfers of a batch independent. circl's ot/simot runs
// one transfer per sender key and encrypts fixed messages under AES-GCM;
// the extension only needs random seeds, so this batch form is leaner.
//
// The keys seed the PRGs of the extension, so the base OTs' messages are
// ring seeds.

var g = group.Ristretto255

const elemSize = 32 // a compressed Ristretto255 element

func baseKey(i int, a, b, k group.Element) (ring.Seed, error) {
	h := sha256.New()
	h.Write([]byte("autorep/ot base CO15 v1"))
	var ib [8]byte
	binary.LittleEndian.PutUint64(ib[:], uint64(i))
	h.Write(ib[:])
	for _, e := range []group.Element{a, b, k} {
		eb, err := e.MarshalBinary()
		if err != nil {
			return ring.Seed{}, fmt.Errorf("ot: base OT: encoding a group element: %w", err)
		}
		h.Write(eb)
	}
	var s ring.Seed
	copy(s[:], h.Sum(nil))
	return s, nil
}

func decodeElem(b []byte) (group.Element, error) {
	e := g.NewElement()
	if err := e.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("ot: base OT: invalid group element: %w", err)
	}
	return e, nil
}

// BaseSend runs n base OTs as the sender over c and returns the sender's
// n pairs of random seeds (keys[i][0], keys[i][1]).
func BaseSend(c transport.Conn, n int) ([][2]ring.Seed, error) {
	if n <= 0 {
		return nil, fmt.Errorf("ot: base OT: %d transfers", n)
	}
	a := g.RandomNonZeroScalar(nil)
	A := g.NewElement().MulGen(a)
	ab, err := A.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("ot: base OT: %w", err)
	}
	if err := c.Send(ab); err != nil {
		return nil, fmt.Errorf("ot: base OT: sending A: %w", err)
	}
	msg, err := transport.RecvExact(c, n*elemSize)
	if err != nil {
		return nil, fmt.Errorf("ot: base OT: receiving B (%d elements): %w", n, err)
	}
	aA := g.NewElement().Mul(A, a)
	keys := make([][2]ring.Seed, n)
	for i := range n {
		B, err := decodeElem(msg[i*elemSize : (i+1)*elemSize])
		if err != nil {
			return nil, err
		}
		k0 := g.NewElement().Mul(B, a)
		k1 := g.NewElement().Add(k0, g.NewElement().Neg(aA))
		if keys[i][0], err = baseKey(i, A, B, k0); err != nil {
			return nil, err
		}
		if keys[i][1], err = baseKey(i, A, B, k1); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// BaseReceive runs len(choices) base OTs as the receiver over c; choices
// holds one bit (0 or 1) per byte. It returns the chosen seeds.
func BaseReceive(c transport.Conn, choices []byte) ([]ring.Seed, error) {
	n := len(choices)
	if n == 0 {
		return nil, fmt.Errorf("ot: base OT: 0 transfers")
	}
	msg, err := transport.RecvExact(c, elemSize)
	if err != nil {
		return nil, fmt.Errorf("ot: base OT: receiving A: %w", err)
	}
	A, err := decodeElem(msg)
	if err != nil {
		return nil, err
	}
	if A.IsIdentity() {
		return nil, fmt.Errorf("ot: base OT: sender's A is the identity")
	}
	out := make([]byte, 0, n*elemSize)
	keys := make([]ring.Seed, n)
	for i, ch := range choices {
		if ch > 1 {
			return nil, fmt.Errorf("ot: base OT: choice %d is %d, not a bit", i, ch)
		}
		b := g.RandomNonZeroScalar(nil)
		B := g.NewElement().MulGen(b)
		B.Add(B, g.NewElement().CMov(int(ch), A))
		bb, err := B.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("ot: base OT: %w", err)
		}
		out = append(out, bb...)
		if keys[i], err = baseKey(i, A, B, g.NewElement().Mul(A, b)); err != nil {
			return nil, err
		}
	}
	if err := c.Send(out); err != nil {
		return nil, fmt.Errorf("ot: base OT: sending B: %w", err)
	}
	return keys, nil
}
