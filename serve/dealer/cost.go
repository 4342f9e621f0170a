package dealer

import (
	"encoding/binary"

	"github.com/autorep/autorep/fss"
	"github.com/autorep/autorep/mpc"
)

// Cost is what generating one request costs, computed from its public
// shape alone, before anything is generated: the dealer's admission
// control (Server.MaxRequestElems, MaxRequestMACs, MaxRequestBytes) and
// the provider's exact frame limit for the answer use it.
type Cost struct {
	// Elems is the number of ring elements of the request: the batch
	// length of a gate or Beaver request, positions of an activation
	// layer, the largest of the input, output and weight tensors of a
	// linear layer.
	Elems int64
	// MACs is the multiply-adds of the generation's linear algebra: the
	// convolution B⊛R of a KindLinear request (other kinds: 0; their work
	// is linear in Elems).
	MACs int64
	// Bytes is the encoded size of each party's material
	// (mpc.Material.Size, exactly): what the dealer sends, and holds for
	// the party that has not asked yet.
	Bytes [2]int64
}

// Total is the encoded material of both parties.
func (c Cost) Total() int64 { return c.Bytes[0] + c.Bytes[1] }

// polyWords are the words per position of the eight KindPoly vectors
// after the mask (mpc's layout: Z_2^192 values take 3 words, Z_2^128 2).
var polyWords = [8]int64{3, 2, 3, 2, 3, 2, 3, 2}

// vec is one encoded vector: seeded (a 16-byte seed) or explicit (8 bytes
// a word), of n words.
func vec(n int64, seeded bool) int64 {
	b := 1 + uvarintLen(uint64(n))
	if seeded {
		return b + 16
	}
	return b + 8*n
}

func uvarintLen(x uint64) int64 {
	var b [binary.MaxVarintLen64]byte
	return int64(binary.PutUvarint(b[:], x))
}

// RequestCost returns the cost of a valid request (mpc.Request.Validate).
// The material layout per kind is mpc's (see mpc.MaterialKind): each party's
// encoding is a header (magic, kind, party, parameter, vector count), its
// vectors, and its FSS key batch (16-byte header and fixed-size keys).
func RequestCost(r mpc.Request) Cost {
	var c Cost
	param := uint64(0)
	var vecs [2][]int64 // encoded vectors per party
	var keys [2]int64   // encoded key batch per party (0: none)
	n := int64(r.N)
	shared := func(words int64) { // party 0 seeded, party 1 explicit
		vecs[0] = append(vecs[0], vec(words, true))
		vecs[1] = append(vecs[1], vec(words, false))
	}
	mask := func(words int64) { // both seeded
		vecs[0] = append(vecs[0], vec(words, true))
		vecs[1] = append(vecs[1], vec(words, true))
	}
	gateKeys := func(perElem int) {
		keys[0], keys[1] = 16+n*int64(perElem), 16+n*int64(perElem)
	}
	ell := r.Ell
	if ell == 0 {
		ell = 64
	}
	switch r.Kind {
	case mpc.KindWeightMask:
		w := int64(r.Linear.WLen())
		c.Elems = w
		vecs[0] = append(vecs[0], vec(w, true))
	case mpc.KindLinear:
		p := r.Linear.Norm()
		x, y, w := int64(p.XLen()), int64(p.YLen()), int64(p.WLen())
		c.Elems = max(x, y, w)
		c.MACs = y * int64(p.C/p.Groups) * int64(p.R) * int64(p.S)
		vecs[0] = append(vecs[0], vec(y, true))
		vecs[1] = append(vecs[1], vec(x, true), vec(y, false))
	case mpc.KindCoefMask:
		w := 6 * int64(r.Act.C)
		c.Elems = w
		vecs[0] = append(vecs[0], vec(w, true))
	case mpc.KindPoly:
		a := r.Act
		pos := int64(a.N) * int64(a.C*a.HW-a.ReLU.Count())
		c.Elems = int64(a.N) * int64(a.C) * int64(a.HW)
		mask(pos)
		for _, w := range polyWords {
			shared(w * pos)
		}
	case mpc.KindTrunc:
		param = uint64(r.Shift)
		c.Elems = n
		mask(n)
		gateKeys(fss.KeyBytes(fss.GateTruncExact, ell, int(r.Shift)))
	case mpc.KindReLU, mpc.KindDReLU:
		g := fss.GateReLU
		if r.Kind == mpc.KindDReLU {
			g = fss.GateDReLU
		}
		c.Elems = n
		mask(n)
		gateKeys(fss.KeyBytes(g, ell, 0))
	case mpc.KindReLUTrunc:
		param = uint64(r.Shift)
		c.Elems = n
		mask(n)
		for range 3 {
			shared(n)
		}
		gateKeys(fss.DCFKeyBytes(ell-1, 3))
	case mpc.KindTruncMSB:
		param = uint64(r.Shift)
		c.Elems = n
		mask(n)
		shared(n)
		shared(n)
	case mpc.KindTriple:
		c.Elems = n
		mask(n)
		mask(n)
		shared(n)
	case mpc.KindSquare:
		c.Elems = n
		mask(n)
		shared(n)
	}
	for p := range 2 {
		b := int64(4+2) + uvarintLen(param) + uvarintLen(uint64(len(vecs[p])))
		for _, v := range vecs[p] {
			b += v
		}
		c.Bytes[p] = b + uvarintLen(uint64(keys[p])) + keys[p]
	}
	return c
}
