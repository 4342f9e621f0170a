package pi

import "fmt"

// TruncFaithful is the two-party suite's faithful truncation mode
// (Public.Trunc): every truncation may be one unit below the exact floor,
// as SCI, Cheetah and CrypTen accept. ReLU positions use the fused
// otgates.ReLUTrunc, polynomial positions otgates.Trunc then otgates.Poly2
// (degree 1: the server's b·t + c and one Trunc), other truncations
// otgates.Trunc. The logits then differ from EvalFixed's by a few units;
// the exact mode ("") reproduces them bit for bit at a higher cost.
const TruncFaithful = "faithful"

// validTruncMode returns nil for a known truncation mode.
func validTruncMode(mode string) error {
	if mode != "" && mode != TruncFaithful {
		return fmt.Errorf("pi: truncation mode %q, want \"\" (exact) or %q", mode, TruncFaithful)
	}
	return nil
}

// TruncFor returns the truncation mode a suite compiles with by default
// (Config.Trunc): TruncFaithful for SuiteTwoParty (its PolyHE form needs
// it), "" (exact) for the dealer suite.
func TruncFor(suite string) string {
	if suiteName(suite) == SuiteTwoParty {
		return TruncFaithful
	}
	return ""
}

// SuiteForms returns the polynomial form and truncation mode (Config.Poly,
// Config.Trunc) of suite for a command-line truncation name: "" is the
// suite's default (PolyFormFor, TruncFor); for the twoparty suite "exact"
// selects the narrow form with exact truncations (logits equal to
// EvalFixed's) and "faithful" the default; the dealer suite knows "exact"
// only.
func SuiteForms(suite, trunc string) (poly, mode string, err error) {
	if err := ValidSuite(suite); err != nil {
		return "", "", err
	}
	if trunc == "" {
		return PolyFormFor(suite), TruncFor(suite), nil
	}
	mode, err = ParseTruncMode(trunc)
	if err != nil {
		return "", "", err
	}
	if suiteName(suite) != SuiteTwoParty {
		if mode != "" {
			return "", "", fmt.Errorf("pi: truncation mode %s applies to the %s suite only", trunc, SuiteTwoParty)
		}
		return PolyFormFor(suite), "", nil
	}
	if mode == "" {
		return PolyNarrow, "", nil
	}
	return PolyHE, TruncFaithful, nil
}

// ParseTruncMode maps a command-line name ("exact" or "faithful") to the
// Config.Trunc value.
func ParseTruncMode(name string) (string, error) {
	switch name {
	case "", "exact":
		return "", nil
	case TruncFaithful:
		return TruncFaithful, nil
	}
	return "", fmt.Errorf("pi: truncation mode %q, want exact or %s", name, TruncFaithful)
}

// truncate is ⌊x/2^s⌋ for shared signed x in the plan's truncation mode:
// TruncExact, or Trunc (one unit below at most) when faithful.
func (b *twoPartyBackend) truncate(x []uint64, s int) ([]uint64, error) {
	if b.pub.Trunc == TruncFaithful {
		return b.gates.Trunc(x, b.ell, s)
	}
	return b.gates.TruncExact(x, b.ell, s)
}

// actFaithful is act in the faithful mode: ReLU positions take
// ReLUTrunc on z itself (the ReLU and the truncation by f in the ReLU's
// rounds), polynomial positions Trunc then the polynomial (polyAt), or in
// the PolyHE form the PolyHE path on z (polyHEStart), or Trunc alone at
// a Folded step (truncStart); those two put their messages in
// ReLUTrunc's rounds (polyhe_sched.go). Each output is at most a unit or
// two below the exact mode's.
func (b *twoPartyBackend) actFaithful(i int, st *Step, n int, x []uint64) ([]uint64, error) {
	f := int(b.pub.Frac)
	if n*st.ReLUs == len(x) {
		return b.gates.ReLUTrunc(x, b.ell, f)
	}
	relu, poly := b.acts[i].batch(n)
	y := make([]uint64, len(x))
	xp := gatherIdx(x, poly)
	var p []uint64
	var ph *polyHEStep
	var err error
	switch {
	case st.Folded: // the polynomial ran in the linear step: the truncation is left
		ph, err = b.truncStart(xp, int(b.pub.foldTrunc(st)))
	case b.pub.Poly == PolyHE:
		ph, err = b.polyHEStart(i, st, xp, poly)
	}
	if err != nil {
		return nil, err
	}
	if len(relu) > 0 {
		r, err := b.gates.ReLUTrunc(gatherIdx(x, relu), b.ell, f)
		if err != nil {
			return nil, err
		}
		scatterIdx(y, relu, r)
	}
	if err := b.hooks.flush(); err != nil {
		return nil, err
	}
	switch {
	case ph != nil:
		p, err = ph.finish()
	default: // the narrow form
		var tp []uint64
		if tp, err = b.gates.Trunc(xp, b.ell, f); err == nil {
			p, err = b.polyAt(i, st, tp, poly, f)
		}
	}
	if err != nil {
		return nil, err
	}
	scatterIdx(y, poly, p)
	return y, nil
}

// faithfulNarrow is the narrow form with one-unit truncation errors:
// Poly2, or for a degree-1 step the server's b·t (MulPrivate) plus c and
// one Trunc by f. ca, cb, cc are the server's coefficients (nil for the
// client).
func (b *twoPartyBackend) faithfulNarrow(st *Step, ca, cb, cc, t []uint64, f int) ([]uint64, error) {
	if st.PolyDeg != 1 {
		return b.gates.Poly2(ca, cb, cc, t, b.ell, f)
	}
	u, err := b.gates.MulPrivate(cb, t, b.ell)
	if err != nil {
		return nil, err
	}
	if b.party == tpServer {
		for q := range u {
			u[q] += cc[q]
		}
	}
	return b.gates.Trunc(u, b.ell, f)
}
