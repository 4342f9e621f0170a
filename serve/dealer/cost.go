package dealer

import (
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
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
	// (corr.Material.Size, exactly): what the dealer sends, and holds for
	// the party that has not asked yet.
	Bytes [2]int64
}

// Total is the encoded material of both parties.
func (c Cost) Total() int64 { return c.Bytes[0] + c.Bytes[1] }

// RequestCost returns the cost of a valid request (corr.Request.Validate),
// from the shape its kind's registered description gives (corr.RequestShape);
// the zero Cost for an invalid one.
func RequestCost(r corr.Request) Cost {
	s, err := corr.RequestShape(r)
	if err != nil {
		return Cost{}
	}
	return Cost{Elems: s.Elems, MACs: s.MACs, Bytes: [2]int64{s.Size(mpc.Server), s.Size(mpc.Client)}}
}
