// Package gatebench measures the non-linear gates of the dealer suite
// (package mpc's protocols over the FSS material of mpc/fssgates) on the
// table of otgates.Bench, the twoparty suite's harness: the same gates,
// inputs and checks, so the two suites compare line by line (`autorep
// bench gates --suite dealer`). It sits above both protocol families,
// which may not import each other.
package gatebench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/autorep/autorep/internal/cputime"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/otgates"
	"github.com/autorep/autorep/transport"
)

// Dealer measures the dealer suite's gates (package mpc over the FSS
// material of an in-process dealer) on the table of otgates.Bench: the
// same gates, inputs and checks, so the two suites compare line by line.
// Offline bytes are the dealer material both parties receive; online
// bytes the traffic between them; per_s includes the dealer's generation
// of the material (on demand, in this process). Differences from the
// twoparty gates: trunc is exact (floor); relu_trunc may round up by one;
// square works mod 2^64 (compared mod 2^ℓ); poly2 takes its input at
// scale 2f (a linear layer's output) with the coefficients fixed per
// channel by a once-per-session setup that is not counted (one channel per
// element here), and returns the value at scale f, floor or one more.
func Dealer(cfg otgates.BenchConfig) (*otgates.BenchReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	gates := cfg.Gates
	if gates == nil {
		gates = otgates.BenchGates
	}
	for _, g := range gates {
		if !slices.Contains(otgates.BenchGates, g) {
			return nil, fmt.Errorf("bench gates: unknown gate %q (have %s)", g, strings.Join(otgates.BenchGates, ", "))
		}
	}
	gen, err := dealer.NewRandomGenerator()
	if err != nil {
		return nil, err
	}
	prov0, prov1 := dealer.LocalProviders(gen)
	provs := [2]corr.Provider{prov0, prov1}
	c0, c1 := transport.Pipe()
	defer c0.Close()
	defer c1.Close()
	var ss [2]*mpc.Session
	for p, c := range []transport.Conn{c0, c1} {
		if ss[p], err = mpc.NewSession(mpc.Party(p), c, uint(cfg.Frac)); err != nil {
			return nil, err
		}
		ss[p].Ell = cfg.Ell
		ss[p].Gates = fssgates.Gates{} // the dealer suite's comparison gates (maxpool)
	}
	ell, n, f := cfg.Ell, cfg.N, cfg.Frac
	m := uint64(1)<<uint(ell) - 1
	if ell == 64 {
		m = ^uint64(0)
	}
	sgn := func(v uint64) int64 { return int64(v<<uint(64-ell)) >> uint(64-ell) }
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6465))
	rep := &otgates.BenchReport{Suite: "dealer", Ell: ell, N: n, Frac: f, Gates: map[string]otgates.GateCost{}}
	// An untimed batch of ReLUs first, as otgates.Bench does, so the first
	// gate is not timed with the heap still growing.
	warm := otgates.BenchInputs(rng, "relu", min(n, otgates.DefaultBatch), ell, f, false)
	if err := both(func(p int) error {
		xs := warm
		if p == 1 {
			xs = make([]uint64, len(warm)) // shares of the inputs themselves
		}
		_, err := fssgates.ReLU(ss[p], provs[p], "warm-up", xs, ell)
		return err
	}); err != nil {
		return nil, fmt.Errorf("bench gates warm-up: %w", err)
	}
	for gi, name := range gates {
		x := otgates.BenchInputs(rng, name, n, ell, f, true) // poly2: fed at scale 2f below
		var coefs mpc.PolyCoefs
		var keys [2]*mpc.PolyKey
		if name == "poly2" {
			for i := range x {
				x[i] = x[i] << uint(f) & m // the same reals at scale 2f
			}
			cs := make([][]float64, n)
			for i := range cs {
				cs[i] = []float64{rng.Float64() / 2, rng.Float64(), rng.Float64() / 2} // c0, c1, c2 as otgates.Bench
			}
			if coefs, err = mpc.EncodePolyCoefs(cs, uint(f)); err != nil {
				return nil, err
			}
			label := fmt.Sprintf("poly%d", gi)
			if err := both(func(p int) error {
				var err error
				keys[p], err = ss[p].SetupPolyCoefs(provs[p], label, n, [2]mpc.PolyCoefs{coefs, nil}[p])
				return err
			}); err != nil {
				return nil, err
			}
		}
		var sh [2][]uint64
		sh[0], sh[1] = make([]uint64, len(x)), make([]uint64, len(x))
		for i, v := range x {
			sh[0][i] = rng.Uint64() & m
			sh[1][i] = (v - sh[0][i]) & m
		}
		// Signed shares for the 64-bit ring of the dealer's gates: the
		// ℓ-bit value sign-extended, split as party 0's share and the rest.
		for i, v := range x {
			sh[1][i] = uint64(sgn(v)) - sh[0][i]
		}
		label := fmt.Sprintf("bench%d", gi)
		gate := func(p int) ([]uint64, error) {
			s, src, xs := ss[p], provs[p], sh[p]
			switch name {
			case "relu":
				return fssgates.ReLU(s, src, label, xs, ell)
			case "drelu":
				return fssgates.DReLU(s, src, label, xs, ell)
			case "trunc":
				return fssgates.Trunc(s, src, label, xs, uint(f), ell)
			case "relu_trunc":
				return fssgates.ReLUTrunc(s, src, label, xs, uint(f), ell)
			case "square":
				return s.Square(src, label, xs)
			case "poly2":
				return s.Poly(src, keys[p], corr.ActSpec{N: 1, C: n, HW: 1}, xs)
			default:
				return s.MaxPool(src, label, mpc.PoolSpec{N: 1, C: n, H: 2, W: 2, K: 2, Stride: 2}, xs)
			}
		}
		off0 := prov0.Offline().Bytes + prov1.Offline().Bytes
		c0.Stats().Reset()
		var out [2][]uint64
		cpu0 := cputime.Seconds()
		t0 := time.Now()
		if err := both(func(p int) error { var err error; out[p], err = gate(p); return err }); err != nil {
			return nil, fmt.Errorf("bench gates %s: %w", name, err)
		}
		wall := time.Since(t0).Seconds()
		cpu := cputime.Seconds() - cpu0
		st := c0.Stats().Total()
		off := float64(prov0.Offline().Bytes + prov1.Offline().Bytes - off0)
		g := otgates.GateCost{
			OnlineBytes:  float64(st.Bytes()) / float64(n),
			OfflineBytes: off / float64(n),
			Rounds:       st.Rounds,
			PerS:         float64(n) / wall,
		}
		g.Bytes = g.OnlineBytes + g.OfflineBytes
		if cpu > 0 {
			g.PerCPUS = float64(n) / cpu
		}
		for i := range out[0] {
			got := int64(out[0][i] + out[1][i])
			if name != "poly2" {
				got = sgn(uint64(got) & m)
			}
			lo, exact := otgates.ExactOutput(name, x, i, ell)
			hi := lo
			switch {
			case exact:
			case name == "trunc": // exact floor
				lo = sgn(x[i]) >> uint(f)
				hi = lo
			case name == "relu_trunc": // floor or one more
				lo = max(sgn(x[i]), 0) >> uint(f)
				hi = lo + 1
			default: // poly2: floor or one more; Eval takes t at scale f
				lo = int64(coefs.Eval(i, uint64(sgn(x[i])>>uint(f)), uint(f)))
				hi = lo + 1
			}
			if got < lo || got > hi {
				g.Mismatches++
			}
		}
		rep.Gates[name] = g
	}
	return rep, nil
}

// both runs f(0) and f(1) concurrently and returns the first error.
func both(f func(p int) error) error {
	var errs [2]error
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); errs[p] = f(p) }()
	}
	wg.Wait()
	return errors.Join(errs[0], errs[1])
}
