// Package fss implements function secret sharing for two-party inference
// with a dealer, in the style of LLAMA (Gupta et al., PETS 2022) and Boyle
// et al., "Function Secret Sharing for Mixed-Mode and Fixed-Point Secure
// Computation" (Eurocrypt 2021).
//
// # DCF
//
// A distributed comparison function key pair (GenDCF, EvalDCF) encodes
//
//	f(x) = beta  if x < alpha  else 0        (x, alpha unsigned n-bit, strict "<")
//
// with a payload vector beta ∈ (Z_2^64)^g (1 ≤ g ≤ MaxPayload). Each party
// evaluates its key at a public x and gets an additive share of f(x) over
// Z_2^64; one key alone is pseudo-random and reveals nothing about alpha or
// beta. The tree PRG is fixed-key AES-128 in Matyas–Meyer–Oseas mode
// (H(x) = AES_K(x) ⊕ x, two public keys), run through an AES-NI routine
// that interleaves eight blocks, with a portable crypto/aes fallback on
// other platforms and under the purego build tag. A key has
// 16 + n·(16 + 8g) + 8g bytes (DCFKeyBytes).
//
// # Gates
//
// All gates use the masked-input pattern: the dealer picks a random mask
// r_in per element and gives the parties additive shares of r_in (not part
// of these keys; the caller shares it) and a key pair from GenX(prg, rIn,
// ...). Online, the parties open x̂ = x + r_in (mod 2^64) — one round, 8
// bytes per element each way — and each evaluates EvalX(party, keys, x̂)
// locally, getting additive shares over Z_2^64 of the output. No further
// communication. Inputs are signed ℓ-bit values (2 ≤ ℓ ≤ 64) sign-extended
// to 64 bits; the caller must guarantee x ∈ [−2^(ℓ−1), 2^(ℓ−1)) — a smaller
// ℓ gives smaller keys and faster evaluation.
//
//	gate            output                          DCFs per element          key bytes/party, ℓ = 64
//	GateDReLU       1{x ≥ 0}                        (ℓ−1)-bit, g = 1          1,544
//	GateReLU        max(x, 0)                       (ℓ−1)-bit, g = 2          2,072
//	GateTrunc       x >> s, error e ∈ {0, 1}        ℓ-bit, g = 1              1,568
//	GateTruncExact  x >> s, exact (floor)           ℓ-bit + s-bit, g = 1      1,880 (s = 12), 1,976 (s = 16)
//	GateReLUTrunc   ReLU(x) >> s, error e ∈ {0, 1}   (ℓ−1)-bit, g = 4          3,104
//
// KeyBytes gives the size for any parameters. x >> s is the arithmetic
// shift floor(x / 2^s). GateTruncExact is exact for every x in range.
// GateTrunc returns floor(x/2^s) + e where e ∈ {0, 1} and
// P(e = 1) = (x mod 2^s)/2^s over the dealer's randomness (stochastic
// rounding, unbiased): it can never be off by more than one unit, unlike
// local share truncation, which fails with probability ≈ |x|/2^64.
// GateReLUTrunc fuses a ReLU with the truncation that precedes it after a
// multiplication: 0 for x < 0, floor(x/2^s) + e as GateTrunc for x ≥ 0, in
// one opening instead of two (a truncation key plus a ReLU key would be
// 3,640 B per party at ℓ = 64 and need two rounds).
//
// Cost per element is one DCF evaluation (two for the exact truncation):
// one 8-block AES call per tree level for four elements in lockstep, so
// evaluation costs about ℓ/4 such calls per element and key generation ℓ
// calls (both parties' keys). See docs/BENCHMARKS.md, section "FSS", for
// measured rates.
//
// Eval dispatches on the gate of a key batch.
//
// # Typical use (package mpc/fssgates)
//
//	// dealer
//	rIn := prg.Rand(m).Data
//	k0, k1, _ := fss.GenReLU(prg, rIn, 64)
//	// share rIn to both parties, send k0 to party 0 and k1 to party 1
//	// (MarshalBinary / UnmarshalBinary)
//
//	// party b, holding share xb of x and share rb of rIn
//	// xhat = open(xb + rb)                    // exchange, 1 round
//	yb, err := fss.EvalReLU(b, kb, xhat)       // share of max(x, 0)
//
// Keys are batches (one key per element), evaluated on all CPUs; Slice
// splits a batch. Serialized keys are a 16-byte header plus the key words;
// UnmarshalBinary rejects anything malformed.
package fss
