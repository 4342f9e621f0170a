package ring

// Additive secret sharing over Z_2^64: x = x0 + x1 (mod 2^64), where x0 is
// uniform, so either share alone is independent of x.
//
// Seed-compressed sharing. A dealer that hands out correlated randomness
// (Beaver triples, masks, FSS keys' random parts) can derive one party's
// share from a 16-byte seed instead of sending it: for n ring elements it
// sends the seed (16 bytes) to party 0, which expands it with ExpandSeed,
// and the full correction x1 = x − PRG(seed) (8n bytes) to party 1. Plain
// sharing sends 8n bytes to each party, so the dealer's outgoing traffic
// drops from 16n to 8n + 16 bytes: it halves. For a Beaver triple
// (a, b, c = a·b) both parties' a and b shares can come from seeds and only
// party 1's c share is sent: 8n + 32 bytes instead of 48n, a sixth.

import "fmt"

// Share splits x into two additive shares using prg for the randomness:
// x0 is uniform and x1 = x − x0.
func Share(x *Tensor, prg *PRG) (x0, x1 *Tensor) {
	x0 = prg.Rand(x.Shape...)
	x1 = New(x.Shape...)
	SubVec(x1.Data, x.Data, x0.Data)
	return x0, x1
}

// Reconstruct returns x0 + x1.
func Reconstruct(x0, x1 *Tensor) (*Tensor, error) {
	r, err := Add(x0, x1)
	if err != nil {
		return nil, fmt.Errorf("ring: reconstruct: %w", err)
	}
	return r, nil
}

// ExpandSeed returns the tensor of the given shape that the PRG keyed by
// seed produces: the seed-derived share.
func ExpandSeed(seed Seed, shape ...int) *Tensor {
	return NewPRG(seed).Rand(shape...)
}

// ShareSeeded shares x so that party 0's share is ExpandSeed(seed, x.Shape...)
// and returns party 1's share x − ExpandSeed(seed). The dealer sends only the
// seed to party 0 (see the package notes on seed-compressed sharing).
func ShareSeeded(x *Tensor, seed Seed) (x1 *Tensor) {
	x0 := ExpandSeed(seed, x.Shape...)
	SubVec(x0.Data, x.Data, x0.Data)
	return x0
}
