package otgates

import (
	"testing"

	"github.com/autorep/autorep/ot"
)

// ferretConfig is the session configuration of the Ferret tests: the
// small parameter set over SoftSpoken k = 4 (fast to set up).
var ferretConfig = ot.Config{K: 4, Ferret: ot.FerretSmall}

// TestBenchFerret: every bench gate over Ferret COTs equals its plaintext
// function at ℓ = 32 and 64, and once the buffer is warm a ReLU costs
// less than over SoftSpoken k = 4 alone.
func TestBenchFerret(t *testing.T) {
	for _, ell := range []int{32, 64} {
		rep, err := Bench(BenchConfig{Ell: ell, N: 300, Frac: 12, Seed: 1, Batch: 1000, OT: &ferretConfig})
		if err != nil {
			t.Fatal(err)
		}
		base, err := Bench(BenchConfig{Ell: ell, N: 300, Frac: 12, Seed: 1, Batch: 1000, Gates: []string{"relu"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range BenchGates {
			checkGateExact(t, rep, ell, name, " over Ferret")
		}
		if f, b := rep.Gates["relu"].Bytes, base.Gates["relu"].Bytes; f >= b {
			t.Errorf("ℓ=%d: ReLU over Ferret %.1f bytes, over SoftSpoken %.1f", ell, f, b)
		}
	}
}

// TestReLUOverTCPFerret is TestReLUOverTCP over Ferret: the first batch's
// refills (≈ 249 KB) ride in payload messages through 32 KB socket
// buffers while both parties send.
func TestReLUOverTCPFerret(t *testing.T) { testReLUOverTCP(t, ferretConfig) }
