package fss

import (
	"context"
	"fmt"

	"github.com/autorep/autorep/internal/bufpool"
	"github.com/autorep/autorep/ring"
)

// Gate names the function a batch of gate keys computes.
type Gate uint8

// The gates. All take the public masked input x̂ = x + r_in (mod 2^64) and
// return additive shares over Z_2^64; x is read as a signed ℓ-bit value and
// must lie in [−2^(ℓ−1), 2^(ℓ−1)).
const (
	// GateDReLU computes 1{x ≥ 0}.
	GateDReLU Gate = 1 + iota
	// GateReLU computes max(x, 0) (sign-extended to 64 bits).
	GateReLU
	// GateTrunc computes x >> s (arithmetic) with one-bit error: the result is
	// floor(x/2^s) + e with e ∈ {0, 1} and P(e = 1) = (x mod 2^s)/2^s over the
	// dealer's randomness (stochastic rounding, unbiased).
	GateTrunc
	// GateTruncExact computes x >> s (arithmetic, floor(x/2^s)) exactly.
	GateTruncExact
	// GateReLUTrunc computes ReLU(x) >> s in one evaluation: 0 for x < 0,
	// else floor(x/2^s) + e with e ∈ {0, 1} distributed as in GateTrunc.
	GateReLUTrunc
)

// String returns the gate's name.
func (g Gate) String() string {
	switch g {
	case GateDReLU:
		return "drelu"
	case GateReLU:
		return "relu"
	case GateTrunc:
		return "trunc"
	case GateTruncExact:
		return "trunc-exact"
	case GateReLUTrunc:
		return "relu-trunc"
	}
	return fmt.Sprintf("gate(%d)", uint8(g))
}

// Keys is one party's batch of gate keys: element i of the batch evaluates
// the gate on the masked input x̂[i] for the mask r_in[i] fixed at key
// generation. Produce them with GenDReLU, GenReLU, GenTrunc or
// GenReLUTrunc, evaluate them with the matching EvalX or Eval; send them
// with MarshalBinary/UnmarshalBinary.
type Keys struct {
	gate  Gate
	party int
	ell   int
	shift int
	m     int
	w     []uint64 // m elements of stride(gate, ell, shift) words
	// pooled: w is the keys' own memory (generated), recycled by Release;
	// decoded keys may alias a frame that is not theirs to hand back.
	pooled bool
}

// Release hands the memory of generated keys back to the buffer pool
// (bufpool), for the next generation to reuse without clearing; the keys
// must not be used afterwards. Decoded keys are left to the garbage
// collector.
func (k *Keys) Release() {
	if k.pooled {
		bufpool.PutWords(k.w)
	}
	k.w, k.m, k.pooled = nil, 0, false
}

// Gate is the function the keys compute.
func (k *Keys) Gate() Gate { return k.gate }

// Party is the party (0 or 1) the keys belong to.
func (k *Keys) Party() int { return k.party }

// Ell is the bit width ℓ of the (signed) input.
func (k *Keys) Ell() int { return k.ell }

// Shift is the truncation shift s (0 for DReLU and ReLU).
func (k *Keys) Shift() int { return k.shift }

// Len is the number of elements in the batch.
func (k *Keys) Len() int { return k.m }

// BytesPerElement is the key material per element for this party, in bytes.
func (k *Keys) BytesPerElement() int { return 8 * stride(k.gate, k.ell, k.shift) }

// Slice returns the keys of elements [lo, hi) (sharing storage with k).
func (k *Keys) Slice(lo, hi int) (*Keys, error) {
	if lo < 0 || hi < lo || hi > k.m {
		return nil, fmt.Errorf("fss: slice [%d:%d] of %d keys", lo, hi, k.m)
	}
	st := stride(k.gate, k.ell, k.shift)
	c := *k
	c.m = hi - lo
	c.w = k.w[lo*st : hi*st : hi*st]
	return &c, nil
}

// KeyBytes is the per-element, per-party key size in bytes of gate g with
// input width ell and shift (ignored for DReLU/ReLU), or 0 if the
// parameters are invalid. Values for ℓ = 64: DReLU 1,544; ReLU 2,072;
// Trunc 1,568; TruncExact (s = 12) 1,880; ReLUTrunc 3,104.
func KeyBytes(g Gate, ell, shift int) int {
	if checkGate(g, ell, shift) != nil {
		return 0
	}
	return 8 * stride(g, ell, shift)
}

// stride is the number of words per element (parameters already checked).
func stride(g Gate, ell, shift int) int {
	switch g {
	case GateDReLU:
		return dcfWords(ell-1, 1) + 1 // DCF + share of q
	case GateReLU:
		return dcfWords(ell-1, 2) + 3 // DCF + shares of q, q·r, r
	case GateTrunc:
		return dcfWords(ell, 1) + 1 // DCF + share of the constant
	case GateTruncExact:
		return dcfWords(ell, 1) + dcfWords(shift, 1) + 1
	case GateReLUTrunc:
		return dcfWords(ell-1, 4) + 4 // DCF + shares of q, q·K, K, 2^(ℓ−s)·m
	}
	return 0
}

func checkGate(g Gate, ell, shift int) error {
	if ell < 2 || ell > 64 {
		return fmt.Errorf("fss: %v: bit width %d outside [2, 64]", g, ell)
	}
	switch g {
	case GateDReLU, GateReLU:
		if shift != 0 {
			return fmt.Errorf("fss: %v: shift %d, want 0", g, shift)
		}
	case GateTrunc, GateTruncExact, GateReLUTrunc:
		if shift < 1 || shift >= ell {
			return fmt.Errorf("fss: %v: shift %d outside [1, %d)", g, shift, ell)
		}
	default:
		return fmt.Errorf("fss: unknown gate %d", uint8(g))
	}
	return nil
}

// low returns the low n bits of v (n ≤ 64).
func low(v uint64, n int) uint64 {
	if n >= 64 {
		return v
	}
	return v & (1<<uint(n) - 1)
}

// genKeys draws per-element randomness (perElem words) from prg serially,
// then fills both parties' keys in parallel with fill(i, r_in[i], rnd, w0, w1).
func genKeys(ctx context.Context, prg *ring.PRG, g Gate, rIn []uint64, ell, shift, perElem int,
	fill func(r uint64, rnd, w0, w1 []uint64)) (*Keys, *Keys, error) {
	if prg == nil {
		return nil, nil, fmt.Errorf("fss: %v: nil PRG", g)
	}
	if err := checkGate(g, ell, shift); err != nil {
		return nil, nil, err
	}
	m := len(rIn)
	st := stride(g, ell, shift)
	// fill writes every word of every key and the PRG every random word,
	// so recycled buffers need no clearing; none is allocated, nor cleared
	// by the runtime, after ctx ends (getWords).
	rnd, err := getWords(ctx, m*perElem)
	if err != nil {
		return nil, nil, err
	}
	defer bufpool.PutWords(rnd)
	if err := randomWords(ctx, prg, rnd); err != nil {
		return nil, nil, err
	}
	k0 := &Keys{gate: g, party: 0, ell: ell, shift: shift, m: m, pooled: true}
	k1 := &Keys{gate: g, party: 1, ell: ell, shift: shift, m: m, pooled: true}
	if k0.w, err = getWords(ctx, m*st); err != nil {
		return nil, nil, err
	}
	if k1.w, err = getWords(ctx, m*st); err != nil {
		k0.Release()
		return nil, nil, err
	}
	if err := parallelCtx(ctx, m, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			fill(rIn[i], rnd[i*perElem:(i+1)*perElem], k0.w[i*st:(i+1)*st], k1.w[i*st:(i+1)*st])
		}
	}); err != nil {
		k0.Release()
		k1.Release()
		return nil, nil, err
	}
	return k0, k1, nil
}

// GenContext generates the keys of gate g for the input masks rIn, as
// GenDReLU, GenReLU, GenTrunc (GateTrunc, GateTruncExact) or GenReLUTrunc,
// but stops with ctx's error once ctx ends: the workers check it between
// blocks of ctxBlock keys, so a cancelled generation of millions of keys
// returns within milliseconds, its workers gone. The keys of a generation
// that completes are those of the plain functions (same randomness).
func GenContext(ctx context.Context, prg *ring.PRG, g Gate, rIn []uint64, ell, shift int) (k0, k1 *Keys, err error) {
	if err := checkGate(g, ell, shift); err != nil {
		return nil, nil, err
	}
	switch g {
	case GateDReLU:
		return genDReLU(ctx, prg, rIn, ell)
	case GateReLU:
		return genReLU(ctx, prg, rIn, ell)
	case GateTrunc, GateTruncExact:
		return genTrunc(ctx, prg, rIn, ell, shift, g == GateTruncExact)
	default:
		return genReLUTrunc(ctx, prg, rIn, ell, shift)
	}
}

// share writes an additive sharing of v with randomness r to a and b.
func share(v, r uint64, a, b *uint64) { *a, *b = r, v-r }

// GenDReLU generates keys for DReLU(x) = 1{x ≥ 0} on signed ℓ-bit x
// (2 ≤ ℓ ≤ 64) for the input masks rIn.
//
// With p = msb_ℓ(x̂), q = 1 ⊕ msb_ℓ(r_in) and c = 1{x̂ mod 2^(ℓ−1) < r_in mod 2^(ℓ−1)}
// (the borrow of the low bits), DReLU(x) = p ⊕ q ⊕ c. The key is a DCF on
// ℓ−1 bits with payload 1 − 2q plus shares of q, so w = q ⊕ c = q + (1−2q)·c
// is linear in the DCF output and DReLU = p + (1 − 2p)·w is local.
func GenDReLU(prg *ring.PRG, rIn []uint64, ell int) (k0, k1 *Keys, err error) {
	return genDReLU(context.Background(), prg, rIn, ell)
}

func genDReLU(ctx context.Context, prg *ring.PRG, rIn []uint64, ell int) (k0, k1 *Keys, err error) {
	n := ell - 1
	dw := dcfWords(n, 1)
	return genKeys(ctx, prg, GateDReLU, rIn, ell, 0, 5, func(r uint64, rnd, w0, w1 []uint64) {
		rl := low(r, ell)
		q := 1 ^ (rl>>uint(n))&1
		genDCFWords(n, low(rl, n), []uint64{1 - 2*q}, block{rnd[0], rnd[1]}, block{rnd[2], rnd[3]}, w0[:dw], w1[:dw])
		share(q, rnd[4], &w0[dw], &w1[dw])
	})
}

// GenReLU generates keys for ReLU(x) = max(x, 0) on signed ℓ-bit x
// (2 ≤ ℓ ≤ 64), output sign-extended in Z_2^64, for the input masks rIn.
//
// As GenDReLU, with the vector payload (1 − 2q, (1 − 2q)·r_in) so that the
// parties also get shares of DReLU(x)·r_in; then
// ReLU(x) = DReLU(x)·(x̂ − r_in) = x̂·DReLU(x) − DReLU(x)·r_in is local.
// One DCF evaluation per element, no communication beyond opening x̂.
func GenReLU(prg *ring.PRG, rIn []uint64, ell int) (k0, k1 *Keys, err error) {
	return genReLU(context.Background(), prg, rIn, ell)
}

func genReLU(ctx context.Context, prg *ring.PRG, rIn []uint64, ell int) (k0, k1 *Keys, err error) {
	n := ell - 1
	dw := dcfWords(n, 2)
	return genKeys(ctx, prg, GateReLU, rIn, ell, 0, 7, func(r uint64, rnd, w0, w1 []uint64) {
		rl := low(r, ell)
		q := 1 ^ (rl>>uint(n))&1
		sg := 1 - 2*q
		genDCFWords(n, low(rl, n), []uint64{sg, sg * r}, block{rnd[0], rnd[1]}, block{rnd[2], rnd[3]}, w0[:dw], w1[:dw])
		share(q, rnd[4], &w0[dw], &w1[dw])
		share(q*r, rnd[5], &w0[dw+1], &w1[dw+1])
		share(r, rnd[6], &w0[dw+2], &w1[dw+2])
	})
}

// GenTrunc generates keys for the arithmetic right shift x >> shift of
// signed ℓ-bit x (2 ≤ ℓ ≤ 64, 1 ≤ shift < ℓ), output sign-extended in
// Z_2^64. With exact the result is floor(x/2^shift) for every x in
// [−2^(ℓ−1), 2^(ℓ−1)); otherwise it is floor(x/2^shift) or one more
// (stochastic rounding, see GateTrunc), never anything else.
//
// Let x' = x + 2^(ℓ−1) ∈ [0, 2^ℓ), x̂' = x̂ + 2^(ℓ−1) mod 2^ℓ, r = r_in mod 2^ℓ.
// Over the integers x' = x̂' − r + 2^ℓ·1{x̂' < r}, hence
//
//	x >> s = (x̂' >> s) − (r >> s) − 1{x̂' mod 2^s < r mod 2^s} + 2^(ℓ−s)·1{x̂' < r} − 2^(ℓ−1−s).
//
// The wrap term is one ℓ-bit DCF with payload 2^(ℓ−s); the exact gate adds
// an s-bit DCF with payload −1 for the low-bit borrow, which the one-bit
// gate drops. The constant −(r >> s) − 2^(ℓ−1−s) is shared in the key.
func GenTrunc(prg *ring.PRG, rIn []uint64, ell, shift int, exact bool) (k0, k1 *Keys, err error) {
	return genTrunc(context.Background(), prg, rIn, ell, shift, exact)
}

func genTrunc(ctx context.Context, prg *ring.PRG, rIn []uint64, ell, shift int, exact bool) (k0, k1 *Keys, err error) {
	g, per := GateTrunc, 5
	if exact {
		g, per = GateTruncExact, 9
	}
	dw := dcfWords(ell, 1)
	dws := dcfWords(shift, 1)
	return genKeys(ctx, prg, g, rIn, ell, shift, per, func(r uint64, rnd, w0, w1 []uint64) {
		rl := low(r, ell)
		genDCFWords(ell, rl, []uint64{1 << uint(ell-shift)}, block{rnd[0], rnd[1]}, block{rnd[2], rnd[3]}, w0[:dw], w1[:dw])
		c := -(rl >> uint(shift)) - 1<<uint(ell-1-shift)
		share(c, rnd[4], &w0[len(w0)-1], &w1[len(w1)-1])
		if exact {
			genDCFWords(shift, low(rl, shift), []uint64{^uint64(0)}, block{rnd[5], rnd[6]}, block{rnd[7], rnd[8]},
				w0[dw:dw+dws], w1[dw:dw+dws])
		}
	})
}

// GenReLUTrunc generates keys for the fused gate ReLU(x) >> shift on
// signed ℓ-bit x (2 ≤ ℓ ≤ 64, 1 ≤ shift < ℓ): the result is 0 for x < 0 and
// floor(x/2^shift) + e, e ∈ {0, 1}, for x ≥ 0 (stochastic rounding as in
// GateTrunc), sign-extended in Z_2^64. It replaces a truncation followed by
// a ReLU (two openings) by one opening and one DCF evaluation.
//
// With the notation of GenTrunc and GenDReLU (ρ = r_in mod 2^ℓ, m = msb(ρ),
// q = 1 − m, c = 1{x̂ mod 2^(ℓ−1) < ρ mod 2^(ℓ−1)}, p = msb(x̂), D = DReLU(x)
// = p ⊕ q ⊕ c, w = 1{x̂' < ρ}, K = −(ρ >> s) − 2^(ℓ−1−s), Z = 2^(ℓ−s)):
//
//	ReLU(x) >> s ≈ D·((x̂' >> s) + K + Z·w) = (x̂' >> s)·D + D·K + Z·D·w.
//
// Since x̂' = x̂ + 2^(ℓ−1) differs from x̂ only in the top bit, the wrap
// bit splits as w = (1 − u)·m + (1 − (u ⊕ m))·c with u = msb(x̂') = 1 − p,
// and D·w = m + (1 − 2m)·c if p = 1, m·c if p = 0: every term is c times a
// dealer value, or a dealer value. So one (ℓ−1)-bit DCF with the payload
// (1 − 2q, (1 − 2q)·K, Z·(1 − 2m), Z·m) and shares of (q, q·K, K, Z·m)
// suffices.
func GenReLUTrunc(prg *ring.PRG, rIn []uint64, ell, shift int) (k0, k1 *Keys, err error) {
	return genReLUTrunc(context.Background(), prg, rIn, ell, shift)
}

func genReLUTrunc(ctx context.Context, prg *ring.PRG, rIn []uint64, ell, shift int) (k0, k1 *Keys, err error) {
	n := ell - 1
	dw := dcfWords(n, 4)
	return genKeys(ctx, prg, GateReLUTrunc, rIn, ell, shift, 8, func(r uint64, rnd, w0, w1 []uint64) {
		rl := low(r, ell)
		m := (rl >> uint(n)) & 1
		q := 1 ^ m
		sg := 1 - 2*q
		k := -(rl >> uint(shift)) - 1<<uint(ell-1-shift)
		z := uint64(1) << uint(ell-shift)
		genDCFWords(n, low(rl, n), []uint64{sg, sg * k, z * (1 - 2*m), z * m},
			block{rnd[0], rnd[1]}, block{rnd[2], rnd[3]}, w0[:dw], w1[:dw])
		share(q, rnd[4], &w0[dw], &w1[dw])
		share(q*k, rnd[5], &w0[dw+1], &w1[dw+1])
		share(k, rnd[6], &w0[dw+2], &w1[dw+2])
		share(z*m, rnd[7], &w0[dw+3], &w1[dw+3])
	})
}

// checkEval validates an evaluation call.
func checkEval(name string, party int, k *Keys, xhat []uint64, gates ...Gate) error {
	if k == nil {
		return fmt.Errorf("fss: %s: nil keys", name)
	}
	ok := false
	for _, g := range gates {
		ok = ok || k.gate == g
	}
	if !ok {
		return fmt.Errorf("fss: %s: keys are for gate %v", name, k.gate)
	}
	if party != k.party {
		return fmt.Errorf("fss: %s: party %d evaluating party %d's keys", name, party, k.party)
	}
	if len(xhat) != k.m {
		return fmt.Errorf("fss: %s: %d masked inputs for %d keys", name, len(xhat), k.m)
	}
	return nil
}

// EvalDReLU returns party's additive shares of DReLU(x[i]) = 1{x[i] ≥ 0}
// from the public masked inputs xhat[i] = x[i] + r_in[i] (mod 2^64).
func EvalDReLU(party int, k *Keys, xhat []uint64) ([]uint64, error) {
	if err := checkEval("EvalDReLU", party, k, xhat, GateDReLU); err != nil {
		return nil, err
	}
	n := k.ell - 1
	dw := dcfWords(n, 1)
	st := dw + 1
	b := uint64(party)
	out := make([]uint64, k.m)
	parallel(k.m, func(lo, hi int) {
		in := make([]uint64, hi-lo)
		c := make([]uint64, hi-lo)
		for i := range in {
			in[i] = low(xhat[lo+i], n)
		}
		evalDCFMany(party, n, 1, k.w[lo*st:], st, 0, in, c)
		for i := range in {
			ws := k.w[(lo+i)*st+dw] + c[i] // share of w = q ⊕ c
			if low(xhat[lo+i], k.ell)>>uint(n) == 0 {
				out[lo+i] = ws
			} else {
				out[lo+i] = b - ws
			}
		}
	})
	return out, nil
}

// EvalReLU returns party's additive shares of ReLU(x[i]) = max(x[i], 0)
// (sign-extended in Z_2^64) from the public masked inputs
// xhat[i] = x[i] + r_in[i] (mod 2^64).
func EvalReLU(party int, k *Keys, xhat []uint64) ([]uint64, error) {
	if err := checkEval("EvalReLU", party, k, xhat, GateReLU); err != nil {
		return nil, err
	}
	n := k.ell - 1
	dw := dcfWords(n, 2)
	st := dw + 3
	b := uint64(party)
	out := make([]uint64, k.m)
	parallel(k.m, func(lo, hi int) {
		in := make([]uint64, hi-lo)
		c := make([]uint64, 2*(hi-lo))
		for i := range in {
			in[i] = low(xhat[lo+i], n)
		}
		evalDCFMany(party, n, 2, k.w[lo*st:], st, 0, in, c)
		for i := range in {
			w := k.w[(lo+i)*st+dw : (lo+i+1)*st]
			xh := xhat[lo+i]
			ws := w[0] + c[2*i]               // share of w = q ⊕ c
			wr := w[1] + c[2*i+1]             // share of w·r
			if low(xh, k.ell)>>uint(n) == 0 { // p = 0: DReLU = w
				out[lo+i] = xh*ws - wr
			} else { // p = 1: DReLU = 1 − w
				out[lo+i] = xh*(b-ws) - (w[2] - wr)
			}
		}
	})
	return out, nil
}

// EvalTrunc returns party's additive shares of x[i] >> s (see GenTrunc for
// the exact guarantee of each variant) from the public masked inputs
// xhat[i] = x[i] + r_in[i] (mod 2^64). It accepts GateTrunc and
// GateTruncExact keys.
func EvalTrunc(party int, k *Keys, xhat []uint64) ([]uint64, error) {
	if err := checkEval("EvalTrunc", party, k, xhat, GateTrunc, GateTruncExact); err != nil {
		return nil, err
	}
	ell, s := k.ell, k.shift
	dw := dcfWords(ell, 1)
	st := stride(k.gate, ell, s)
	exact := k.gate == GateTruncExact
	b := uint64(party)
	half := uint64(1) << uint(ell-1)
	out := make([]uint64, k.m)
	parallel(k.m, func(lo, hi int) {
		xp := make([]uint64, hi-lo)
		c := make([]uint64, hi-lo)
		for i := range xp {
			xp[i] = low(xhat[lo+i]+half, ell)
		}
		evalDCFMany(party, ell, 1, k.w[lo*st:], st, 0, xp, c)
		for i := range xp {
			out[lo+i] = b*(xp[i]>>uint(s)) + k.w[(lo+i+1)*st-1] + c[i]
		}
		if exact {
			for i := range xp {
				xp[i] = low(xp[i], s)
			}
			evalDCFMany(party, s, 1, k.w[lo*st:], st, dw, xp, c)
			for i := range xp {
				out[lo+i] += c[i]
			}
		}
	})
	return out, nil
}

// EvalReLUTrunc returns party's additive shares of ReLU(x[i]) >> s (see
// GenReLUTrunc for the guarantee) from the public masked inputs
// xhat[i] = x[i] + r_in[i] (mod 2^64).
func EvalReLUTrunc(party int, k *Keys, xhat []uint64) ([]uint64, error) {
	if err := checkEval("EvalReLUTrunc", party, k, xhat, GateReLUTrunc); err != nil {
		return nil, err
	}
	ell, s := k.ell, k.shift
	n := ell - 1
	dw := dcfWords(n, 4)
	st := dw + 4
	b := uint64(party)
	half := uint64(1) << uint(n)
	out := make([]uint64, k.m)
	parallel(k.m, func(lo, hi int) {
		in := make([]uint64, hi-lo)
		c := make([]uint64, 4*(hi-lo))
		for i := range in {
			in[i] = low(xhat[lo+i], n)
		}
		evalDCFMany(party, n, 4, k.w[lo*st:], st, 0, in, c)
		for i := range in {
			w := k.w[(lo+i)*st+dw : (lo+i+1)*st]
			e := c[4*i : 4*i+4]
			a := low(xhat[lo+i]+half, ell) >> uint(s) // x̂' >> s
			ws := w[0] + e[0]                         // share of q ⊕ c
			wk := w[1] + e[1]                         // share of (q ⊕ c)·K
			if low(xhat[lo+i], ell)>>uint(n) == 0 {   // p = 0: D = q ⊕ c, D·w = m·c
				out[lo+i] = a*ws + wk + e[3]
			} else { // p = 1: D = 1 − (q ⊕ c), D·w = m + (1 − 2m)·c
				out[lo+i] = a*(b-ws) + (w[2] - wk) + w[3] + e[2]
			}
		}
	})
	return out, nil
}

// Eval evaluates keys of any gate (dispatching on k.Gate()).
func Eval(party int, k *Keys, xhat []uint64) ([]uint64, error) {
	if k == nil {
		return nil, fmt.Errorf("fss: Eval: nil keys")
	}
	switch k.gate {
	case GateDReLU:
		return EvalDReLU(party, k, xhat)
	case GateReLU:
		return EvalReLU(party, k, xhat)
	case GateTrunc, GateTruncExact:
		return EvalTrunc(party, k, xhat)
	case GateReLUTrunc:
		return EvalReLUTrunc(party, k, xhat)
	}
	return nil, fmt.Errorf("fss: Eval: unknown gate %v", k.gate)
}
