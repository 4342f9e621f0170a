package otgates

// The bit triples each gate consumes (all in its comparisons' AND trees,
// LessThanTriples), for a caller that makes them ahead (MakeTriples): n
// is the number of elements. Tests check each against the triples the
// gate takes from a store.

// MSBTriples is MSB's count at width ℓ: one comparison of ℓ−1 bits.
func MSBTriples(n, ell int) int { return LessThanTriples(n, ell-1) }

// DReLUTriples is DReLU's count (MSB's), and so ReLU's.
func DReLUTriples(n, ell int) int { return MSBTriples(n, ell) }

// ReLUTruncTriples is ReLUTrunc's count: its DReLU at ℓ, whatever s.
func ReLUTruncTriples(n, ell int) int { return DReLUTriples(n, ell) }

// MaxTriples is Max's count: the ReLU of the n differences.
func MaxTriples(n, ell int) int { return DReLUTriples(n, ell) }

// TruncExactTriples is TruncExact's (and TruncExactNonNeg's) count for a
// shift of s bits: the carry's comparison of s bits (none for s = 0).
func TruncExactTriples(n, s int) int {
	if s == 0 {
		return 0
	}
	return LessThanTriples(n, s)
}

// Poly1ExactTriples is Poly1Exact's count: one exact truncation by f.
func Poly1ExactTriples(n, f int) int { return TruncExactTriples(n, f) }

// Poly2ExactTriples is Poly2Exact's count: the exact truncations of x²
// and of the sum, both by f.
func Poly2ExactTriples(n, f int) int { return 2 * TruncExactTriples(n, f) }
