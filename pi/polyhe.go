package pi

import (
	"fmt"

	"github.com/autorep/autorep/hesimd"
)

// PolyHE is the two-party suite's polynomial form by homomorphic
// encryption (Public.Poly): the value is the default form's,
// ⌊(C2·t² + C1·t + C0)/2^2f⌋ with t = ⌊z/2^f⌋ and the coefficients of
// mpc.EncodePolyCoefs (C2 at f, C1 at 2f, C0 at 3f fractional bits;
// mpc.PolyCoefs.Eval, which EvalFixed runs), but the integer
// v = C2·t² + C1·t + C0 (at 3f bits) is computed modulo a prime P of
// Public.PBits bits by SIMD homomorphic encryption (hesimd.Quad, the
// server's coefficients in the plaintexts), not by OT products. The secure
// path per polynomial position (polyHE):
//
//	z (Z_2^ℓ) → otgates.ToPrimeTrunc by f → t mod P → hesimd Quad → v mod P
//	→ otgates.FromPrimeTrunc by 2f → the output in Z_2^ℓ
//
// The first truncation may be one unit low, the second one unit off either
// way, so the form needs the faithful truncation mode (TruncFaithful;
// Compile refuses the exact one). The conversions need |v| < P/4 − 2^2f:
// PBits ≥ bits(|v| + 2^2f) + 3, which MinWidths measures, and PBits ≥
// 2f + 4. The share width ℓ no longer carries v: the form is as narrow in
// ℓ as the narrow one.
//
// The name is the plan's (Public.Poly), so the public-plan hash covers
// the form's message schedule: "he2" since the conversions' messages ride
// in the ReLU positions' rounds (polyhe_sched.go, issue 15, session 14).
// Plans of the earlier schedule said "he"; a peer of either refuses the
// other's plan (an unknown form, or a different hash) before any message.
const PolyHE = "he2"

// DefaultPBitsMargin sets the width of P when Config.PBits is 0: 3f +
// DefaultPBitsMargin bits (at most MaxPBits), so exact while
// |C2·t² + C1·t + C0| < 2^(3f+DefaultPBitsMargin−3). MinWidths on 20 test
// images of each committed model asks for 3f + 6 (ResNet-20 AutoReP
// 12.9K, degree 2 and 1) and 3f + 8 (LeNet-5 AutoReP 10%) at f = 10..16;
// the default leaves two bits above the larger.
const DefaultPBitsMargin = 10

// MaxPBits bounds Public.PBits: hesimd's largest prime (otgates'
// conversions would take up to 2^62).
const MaxPBits = hesimd.MaxPBits

// DefaultHEFrac is the fractional bits Compile uses for the PolyHE form
// when Config.FracBits is 0: its default prime, 3f + DefaultPBitsMargin
// bits, must fit MaxPBits (f ≤ 13), and f = 12 keeps the committed
// models' labels (docs/PROTOCOLS.md).
const DefaultHEFrac = 12

// defaultPBits is the PBits Compile gives the PolyHE form at f fractional
// bits when the configuration leaves it 0.
func defaultPBits(f uint) int {
	return 3*int(f) + DefaultPBitsMargin
}

// minPBits is the smallest prime width at f fractional bits: the
// truncation by 2f in FromPrimeTrunc needs 2^2f < P/4.
func minPBits(f uint) int { return max(2*int(f)+4, hesimd.MinPBits) }

// checkPBits checks the public P width against the form and f.
func (p *Public) checkPBits() error {
	if p.Poly != PolyHE {
		if p.PBits != 0 {
			return fmt.Errorf("pi: prime width %d bits with polynomial form %q (only %q has one)", p.PBits, p.Poly, PolyHE)
		}
		return nil
	}
	if p.PBits < minPBits(p.Frac) || p.PBits > MaxPBits {
		return fmt.Errorf("pi: prime width %d bits, want %d..%d (2f + 4 for the truncation by 2f)", p.PBits, minPBits(p.Frac), MaxPBits)
	}
	if p.Trunc != TruncFaithful {
		return fmt.Errorf("pi: polynomial form %q needs truncation mode %q (its conversions truncate with one-unit errors); use %q for exact truncations", PolyHE, TruncFaithful, PolyNarrow)
	}
	return nil
}

// setHE switches a compiled plan to the PolyHE form with P of pBits bits
// (0: defaultPBits): it marks the activation steps whose polynomials all
// have C2 = 0 as degree 1 (public: their Quad skips the square).
func (p *Plan) setHE(pBits int) {
	if pBits == 0 {
		pBits = defaultPBits(p.Public.Frac)
	}
	p.Public.Poly = PolyHE
	p.Public.PBits = pBits
	p.markDegree1()
}

// markDegree1 sets PolyDeg = 1 on every activation step with polynomial
// positions whose channels all have C2 = 0 (the narrow and the HE form
// then skip the square).
func (p *Plan) markDegree1() {
	for i := range p.Public.Steps {
		st := &p.Public.Steps[i]
		if st.Op != OpAct || st.ReLUs == st.Positions() {
			continue
		}
		coef := p.Secret.Steps[i].Coef
		deg1 := true
		for ch := range coef.Channels() {
			deg1 = deg1 && coef[3*ch+2] == 0
		}
		if deg1 {
			st.PolyDeg = 1
		}
	}
}
