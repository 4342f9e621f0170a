package gatebench

import (
	"strings"
	"testing"

	"github.com/autorep/autorep/otgates"
)

// TestDealer runs every gate of the table on a few elements: every output
// is within what the plaintext function allows, and the FSS gates and
// Beaver products draw dealer material. Online, each gate opens one masked
// 64-bit word per element in each direction (16 B) in one round; a 2×2 max
// pool output is a tournament of three comparisons in two rounds (48 B).
func TestDealer(t *testing.T) {
	rep, err := Dealer(otgates.BenchConfig{Ell: 32, N: 40, Frac: 12, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Suite != "dealer" || rep.Ell != 32 || rep.N != 40 || rep.Frac != 12 || rep.OT != "" {
		t.Errorf("header %+v", rep)
	}
	for _, name := range otgates.BenchGates {
		g, ok := rep.Gates[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		t.Logf("%-10s %+v", name, g)
		if g.Mismatches != 0 || g.OnlineBytes <= 0 || g.OfflineBytes <= 0 || g.Rounds < 1 || g.PerS <= 0 {
			t.Errorf("%s: %+v", name, g)
		}
		online, rounds := 16.0, int64(1)
		if name == "maxpool2x2" {
			online, rounds = 48, 2
		}
		if g.OnlineBytes != online || g.Rounds != rounds {
			t.Errorf("%s: online %v B per element in %d rounds, want %v in %d", name, g.OnlineBytes, g.Rounds, online, rounds)
		}
		if g.Bytes != g.OnlineBytes+g.OfflineBytes {
			t.Errorf("%s: bytes %v ≠ online %v + offline %v", name, g.Bytes, g.OnlineBytes, g.OfflineBytes)
		}
	}
	// A subset runs only the gates asked for.
	rep, err = Dealer(otgates.BenchConfig{Ell: 64, N: 5, Frac: 16, Gates: []string{"trunc"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Gates) != 1 || rep.Gates["trunc"].Mismatches != 0 {
		t.Errorf("--gates trunc at ℓ 64: %+v", rep.Gates)
	}
}

// TestDealerErrors: bad configurations are errors naming the bound.
func TestDealerErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  otgates.BenchConfig
		want string
	}{
		{otgates.BenchConfig{Ell: 65, N: 1, Frac: 12}, "ℓ = 65"},
		{otgates.BenchConfig{Ell: 1, N: 1, Frac: 12}, "ℓ = 1"},
		{otgates.BenchConfig{Ell: 32, N: 0, Frac: 12}, "n = 0"},
		{otgates.BenchConfig{Ell: 20, N: 1, Frac: 12}, "fractional bits"},
		{otgates.BenchConfig{Ell: 32, N: 1, Frac: 0}, "fractional bits"},
		{otgates.BenchConfig{Ell: 32, N: 1, Frac: 12, Gates: []string{"relu", "gelu"}}, `unknown gate "gelu"`},
	} {
		if _, err := Dealer(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error containing %q", c.cfg, err, c.want)
		}
	}
}
