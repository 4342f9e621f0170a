package mpc

import "github.com/autorep/autorep/mpc/corr"

// The core's material kinds. The comment of each lists the vectors of
// Material.Vecs in order, for the server (party 0) and the client (party
// 1); "shared" means additive shares of one value. Seeded vectors travel
// as 16-byte seeds.
const (
	// KindWeightMask (once per session per linear layer): server: B, the
	// uniform mask of the weight tensor (seeded). Client: nothing.
	KindWeightMask corr.MaterialKind = 1
	// KindLinear (per inference per linear layer): server: [B⊛R]₀ (seeded).
	// Client: R, the input mask (seeded), then [B⊛R]₁ (explicit).
	KindLinear corr.MaterialKind = 2
	// KindCoefMask (once per session per polynomial layer): server: the
	// uniform Z_2^192 masks B1, B2 of the coefficients laid out
	// [channel][B1 (3 words), B2 (3 words)] (seeded). Client: nothing.
	KindCoefMask corr.MaterialKind = 3
	// KindPoly (per inference per polynomial layer, n positions): both:
	// shares over Z_2^64 of the opening mask r (seeded), then eight
	// vectors of shares (party 0 seeded, party 1 explicit; little-endian
	// words) of r, M = msb(r), r², M·r, B2·r, B2·M, B2·r² − B1·r and
	// 2^64·B2·M − 2·B2·M·r + B1·M, where B1, B2 are the coefficient masks
	// of the position's channel (see Session.Act): over Z_2^192 (3n words)
	// for r, r², B2·r, B2·r² − B1·r, over Z_2^128 (2n words) for the
	// others, which are only used multiplied by 2^64. No FSS keys.
	KindPoly corr.MaterialKind = 4
	// KindTriple (n Beaver triples): both: shared a, b (seeded), shared c =
	// a·b (party 0 seeded, party 1 explicit).
	KindTriple corr.MaterialKind = 8
	// KindSquare (n square pairs): both: shared a (seeded), shared a²
	// (party 0 seeded, party 1 explicit).
	KindSquare corr.MaterialKind = 9
	// KindTruncMSB (n elements, Param = shift): both: shared input mask r
	// (seeded), then shares of r >> shift and of M = msb(r) (party 0
	// seeded, party 1 explicit); see Session.TruncMSB. No FSS keys.
	KindTruncMSB corr.MaterialKind = 11
)

// coefMaskWords is the number of words of the coefficient masks per
// channel: B1 and B2 in Z_2^192.
const coefMaskWords = 6
