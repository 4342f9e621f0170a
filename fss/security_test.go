package fss

import (
	"math"
	"testing"
)

// keyBytes flattens keys into bytes, dropping the byte whose two low bits
// are the (always zero) low bits of a root seed at word offset 0 of each
// element.
func keyBytes(t *testing.T, m interface{ MarshalBinary() ([]byte, error) }, stride int) [][]byte {
	b := marshalOrFatal(t, m)[headerSize:]
	per := 8 * stride
	out := make([][]byte, len(b)/per)
	for i := range out {
		out[i] = b[i*per+1 : (i+1)*per]
	}
	return out
}

// twoSampleChi is the chi-square statistic of the 2×256 contingency table
// of byte values from two samples (255 degrees of freedom).
func twoSampleChi(a, b [][]byte) float64 {
	var ca, cb [256]float64
	var na, nb float64
	for _, k := range a {
		for _, v := range k {
			ca[v]++
			na++
		}
	}
	for _, k := range b {
		for _, v := range k {
			cb[v]++
			nb++
		}
	}
	var x float64
	for v := range 256 {
		tot := ca[v] + cb[v]
		if tot == 0 {
			continue
		}
		ea, eb := tot*na/(na+nb), tot*nb/(na+nb)
		x += (ca[v]-ea)*(ca[v]-ea)/ea + (cb[v]-eb)*(cb[v]-eb)/eb
	}
	return x
}

// maxBitZ is the largest two-proportion z statistic over bit positions:
// for each bit of the (equal-length) keys, the frequency of ones in sample a
// against sample b.
func maxBitZ(a, b [][]byte) (float64, int) {
	nbits := 8 * len(a[0])
	worst, at := 0.0, -1
	for bit := range nbits {
		var sa, sb float64
		for _, k := range a {
			sa += float64(k[bit/8] >> (bit % 8) & 1)
		}
		for _, k := range b {
			sb += float64(k[bit/8] >> (bit % 8) & 1)
		}
		pa, pb := sa/float64(len(a)), sb/float64(len(b))
		p := (sa + sb) / float64(len(a)+len(b))
		se := math.Sqrt(p * (1 - p) * (1/float64(len(a)) + 1/float64(len(b))))
		if se == 0 {
			continue
		}
		if z := math.Abs(pa-pb) / se; z > worst {
			worst, at = z, bit
		}
	}
	return worst, at
}

// Thresholds: chi-square(255) within 7 sd of its mean (sd = sqrt(510));
// bit z-scores below 6 (two-sided p ≈ 2e-9 per position, a few thousand
// positions). A key whose bits depended on alpha (for example an unmasked
// payload or path bit) fails by orders of magnitude.
const (
	chiMax = 255 + 7*22.6
	zMax   = 6.0
)

// TestDCFKeyIndependentOfAlpha compares one party's keys for two very
// different alphas (all-zero and all-one paths, with different payloads).
func TestDCFKeyIndependentOfAlpha(t *testing.T) {
	const m, n = 3000, 16
	for party := range 2 {
		var samples [2][][]byte
		for s, a := range []uint64{0, 1<<n - 1} {
			alpha := make([]uint64, m)
			beta := make([]uint64, m)
			for i := range alpha {
				alpha[i], beta[i] = a, a*7+1
			}
			k0, k1, err := GenDCF(testPRG(byte(10+s)), n, 1, alpha, beta)
			if err != nil {
				t.Fatal(err)
			}
			k := []*DCFKeys{k0, k1}[party]
			samples[s] = keyBytes(t, k, dcfWords(n, 1))
		}
		if c := twoSampleChi(samples[0], samples[1]); c > chiMax {
			t.Errorf("party %d: byte chi-square %.1f between alphas", party, c)
		}
		if z, bit := maxBitZ(samples[0], samples[1]); z > zMax {
			t.Errorf("party %d: bit %d differs between alphas (z = %.1f)", party, bit, z)
		}
	}
}

// TestReLUKeyIndependentOfMask does the same for ReLU keys with input
// masks of opposite sign (so the DCF payload sign differs) and different
// low bits.
func TestReLUKeyIndependentOfMask(t *testing.T) {
	const m, ell = 3000, 12
	var samples [2][][]byte
	for s, r := range []uint64{5, 1<<(ell-1) | 0x3f0} {
		rIn := make([]uint64, m)
		for i := range rIn {
			rIn[i] = r
		}
		_, k1, err := GenReLU(testPRG(byte(20+s)), rIn, ell)
		if err != nil {
			t.Fatal(err)
		}
		samples[s] = keyBytes(t, k1, stride(GateReLU, ell, 0))
	}
	if c := twoSampleChi(samples[0], samples[1]); c > chiMax {
		t.Errorf("byte chi-square %.1f between masks", c)
	}
	if z, bit := maxBitZ(samples[0], samples[1]); z > zMax {
		t.Errorf("bit %d differs between masks (z = %.1f)", bit, z)
	}
}
