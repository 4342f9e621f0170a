package otgates

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/autorep/autorep/internal/cputime"
	"github.com/autorep/autorep/ot"
	"github.com/autorep/autorep/transport"
)

// BenchConfig sets up Bench.
type BenchConfig struct {
	Ell  int    // ring width ℓ (2..64)
	N    int    // elements per gate (outputs for maxpool2x2)
	Frac int    // fractional bits: the truncation shift of trunc, relu_trunc and poly2
	Seed uint64 // inputs and input shares (the protocols' own randomness is fresh)
	// Batch is the most elements one gate call takes (0: DefaultBatch);
	// larger N runs in several calls, so memory stays bounded.
	Batch int
	// Gates are the gates to run, a subset of BenchGates (nil: all).
	Gates []string
	// OT is the OT extensions' configuration (nil: ot.DefaultConfig).
	OT *ot.Config
}

// DefaultBatch is BenchConfig.Batch's default.
const DefaultBatch = 1 << 15

// GateCost is what one gate cost per element, both parties in one
// process (each on its own OS thread) over an in-memory pipe.
type GateCost struct {
	Bytes        float64 `json:"bytes"`         // offline + online, both directions, per element
	OnlineBytes  float64 `json:"online_bytes"`  // traffic that depends on the inputs
	OfflineBytes float64 `json:"offline_bytes"` // input-independent traffic (bit triples)
	Rounds       int64   `json:"rounds"`        // party 0's rounds for one call (one batch; transport.Counts)
	PerS         float64 `json:"per_s"`         // elements per second of wall time
	PerCPUS      float64 `json:"per_cpu_s"`     // elements per second of process CPU time (both parties)
	// PerThreadCPUS is elements per CPU-second of one party's thread, the
	// figure to set beside SCI's "ReLUs per second, one thread per party":
	// each party runs on its own OS thread (runtime.LockOSThread), and the
	// CPU time charged to the busier party is the process's CPU time minus
	// the other party's thread time, so the Go runtime's own threads
	// (garbage collector, scheduler) count against it too. It is a rate
	// per CPU-second, not per wall second: waiting for the peer costs no
	// CPU, so with one idle core per party the wall rate would be lower
	// by the time each party waits. 0 where thread CPU clocks are
	// unavailable (Linux only).
	PerThreadCPUS float64 `json:"per_thread_cpu_s,omitempty"`
	Mismatches    int     `json:"mismatches"` // outputs outside what the plaintext function allows
}

// BenchReport is the result of Bench: one GateCost per gate name.
type BenchReport struct {
	Suite string              `json:"suite"`
	OT    string              `json:"ot,omitempty"` // the OT extensions (twoparty suite)
	Ell   int                 `json:"ell"`
	N     int                 `json:"n"`
	Frac  int                 `json:"frac"`
	Gates map[string]GateCost `json:"gates"`
}

// BenchGates lists the gates Bench runs, in order.
var BenchGates = []string{"relu", "drelu", "trunc", "relu_trunc", "square", "poly2", "maxpool2x2"}

// Validate checks the ring width, the element count and the fractional
// bits of a gate benchmark (either suite's: poly2's x² must fit ℓ).
func (cfg BenchConfig) Validate() error {
	if cfg.Ell < 2 || cfg.Ell > 64 {
		return fmt.Errorf("bench gates: ℓ = %d, want 2..64", cfg.Ell)
	}
	if cfg.N < 1 {
		return fmt.Errorf("bench gates: n = %d, want ≥ 1", cfg.N)
	}
	if cfg.Frac < 1 || 2*cfg.Frac+6 > cfg.Ell-2 {
		return fmt.Errorf("bench gates: %d fractional bits do not fit poly2's x² in ℓ = %d bits (need 2·frac + 8 ≤ ℓ)", cfg.Frac, cfg.Ell)
	}
	return nil
}

// Bench runs every gate of BenchGates once on N random shared inputs,
// both parties over an in-memory pipe, checks every output against the
// plaintext function (exact, or within the stated one-unit truncation
// error) and measures traffic, rounds and speed. The OT session's setup
// (base OTs) is not counted.
func Bench(cfg BenchConfig) (*BenchReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("otgates: %w", err)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	gates := cfg.Gates
	if gates == nil {
		gates = BenchGates
	}
	for _, g := range gates {
		if !slices.Contains(BenchGates, g) {
			return nil, fmt.Errorf("otgates: bench: unknown gate %q (have %s)", g, strings.Join(BenchGates, ", "))
		}
	}
	otc := ot.DefaultConfig
	if cfg.OT != nil {
		otc = *cfg.OT
	}
	c0n, c1n := transport.Pipe()
	var p1 *Party
	errs := make(chan error, 1)
	go func() { var err error; p1, err = NewConfig(c1n, 1, otc); errs <- err }()
	p0, err := NewConfig(c0n, 0, otc)
	if e := <-errs; err == nil {
		err = e
	}
	if err != nil {
		return nil, err
	}
	defer c0n.Close()
	defer c1n.Close()
	rep := &BenchReport{Suite: "twoparty", OT: otc.String(), Ell: cfg.Ell, N: cfg.N, Frac: cfg.Frac, Gates: map[string]GateCost{}}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6f74))
	for gi, name := range gates {
		// One untimed call first, so the timing sees the steady state
		// (buffers allocated, caches warm, the heap grown to its working
		// size), not the first call's: a whole batch before the first gate
		// (measured: without it the first gate ran at half its rate
		// whichever it was), a small one before the others.
		w := cfg
		w.N = min(cfg.N, 1024)
		if gi == 0 {
			w.N = min(cfg.N, cfg.Batch)
		}
		if _, _, _, _, err := benchGate(p0, p1, rng, name, w, true); err != nil {
			return nil, fmt.Errorf("otgates: bench %s: %w", name, err)
		}
		var sum GateCost
		var wall, cpu, party float64
		for done := 0; done < cfg.N; {
			b := min(cfg.Batch, cfg.N-done)
			c := cfg
			c.N = b
			g, w, u, pu, err := benchGate(p0, p1, rng, name, c, done == 0)
			if err != nil {
				return nil, fmt.Errorf("otgates: bench %s: %w", name, err)
			}
			sum.Bytes += g.Bytes * float64(b)
			sum.OnlineBytes += g.OnlineBytes * float64(b)
			sum.OfflineBytes += g.OfflineBytes * float64(b)
			sum.Mismatches += g.Mismatches
			if done == 0 {
				sum.Rounds = g.Rounds
			}
			wall += w
			cpu += u
			party += pu
			done += b
		}
		n := float64(cfg.N)
		sum.Bytes /= n
		sum.OnlineBytes /= n
		sum.OfflineBytes /= n
		sum.PerS = n / wall
		if cpu > 0 {
			sum.PerCPUS = n / cpu
		}
		if party > 0 {
			sum.PerThreadCPUS = n / party
		}
		rep.Gates[name] = sum
	}
	return rep, nil
}

// BenchInputs returns the inputs Bench draws for gate name: n signed
// ℓ-bit values (4n for maxpool2x2) in the gate's valid range (poly2:
// |x| < 4.0 at scale 2^frac), the edge values first if edges. The dealer
// suite's table (cmd/autorep) draws the same.
func BenchInputs(rng *rand.Rand, name string, n, ell, frac int, edges bool) []uint64 {
	switch name {
	case "relu", "drelu", "square":
		return sample(rng, n, ell, ell-1, edges)
	case "trunc", "relu_trunc":
		return sample(rng, n, ell, ell-2, edges)
	case "poly2":
		return sample(rng, n, ell, frac+2, edges)
	default: // maxpool2x2
		return sample(rng, 4*n, ell, ell-2, edges)
	}
}

// ExactOutput returns output i of the gates that are exact in every suite
// (relu, drelu, square, maxpool2x2) as a signed ℓ-bit value, from Bench's
// inputs x; ok is false for the others (their bounds differ by suite).
func ExactOutput(name string, x []uint64, i, ell int) (v int64, ok bool) {
	sgn := func(v uint64) int64 { return int64(v<<uint(64-ell)) >> uint(64-ell) }
	switch name {
	case "relu":
		return max(sgn(x[i]), 0), true
	case "drelu":
		if sgn(x[i]) >= 0 {
			return 1, true
		}
		return 0, true
	case "square":
		return sgn(x[i] * x[i] & mask(ell)), true
	case "maxpool2x2":
		v = sgn(x[4*i])
		for _, u := range x[4*i+1 : 4*i+4] {
			v = max(v, sgn(u))
		}
		return v, true
	}
	return 0, false
}

// sample returns n signed values in [−2^bits, 2^bits) as ℓ-bit words,
// with edges (0, ±1, the extremes, half the extremes) first.
func sample(rng *rand.Rand, n, ell, bits int, edges bool) []uint64 {
	m := mask(ell)
	lim := int64(1)<<uint(bits) - 1
	if bits >= 63 {
		lim = 1<<63 - 1
	}
	x := make([]uint64, 0, n)
	for _, e := range []int64{0, 1, -1, lim, -lim - 1, lim / 2, -lim / 2} {
		if edges && len(x) < n {
			x = append(x, uint64(e)&m)
		}
	}
	for len(x) < n {
		x = append(x, uint64(int64(rng.Uint64())>>uint(63-bits))&m) // uniform in [−2^bits, 2^bits)
	}
	return x
}

func fixed(c float64, frac int) uint64 { return uint64(int64(c*float64(int64(1)<<uint(frac)) + 0.5)) }

// runParties runs f0 (party 0's side of a protocol) and f1 (party 1's)
// concurrently, each on a goroutine locked to its own OS thread, and
// returns the wall seconds, the process's CPU seconds and the busier
// party's CPU seconds as GateCost.PerThreadCPUS defines them (0 when
// thread clocks are unavailable).
func runParties(f0, f1 func() error) (wall, cpu, party float64, err error) {
	var tcpu [2]time.Duration
	var tok [2]bool
	errs := make(chan error, 2)
	run := func(i int, f func() error) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		t0, ok0 := threadCPU()
		e := f()
		t1, ok1 := threadCPU()
		tcpu[i], tok[i] = t1-t0, ok0 && ok1
		errs <- e
	}
	cpu0 := cputime.Seconds()
	start := time.Now()
	go run(1, f1)
	go run(0, f0)
	for range 2 {
		if e := <-errs; err == nil {
			err = e
		}
	}
	wall = time.Since(start).Seconds()
	cpu = cputime.Seconds() - cpu0
	if tok[0] && tok[1] {
		hi := max(tcpu[0], tcpu[1]).Seconds()
		party = max(cpu-min(tcpu[0], tcpu[1]).Seconds(), hi)
	}
	return wall, cpu, party, err
}

// benchGate runs one call of gate name on cfg.N elements (edge values
// first if edges) and returns its costs, wall and CPU seconds and the
// busier party's CPU seconds (runParties).
func benchGate(p0, p1 *Party, rng *rand.Rand, name string, cfg BenchConfig, edges bool) (GateCost, float64, float64, float64, error) {
	ell, n, f := cfg.Ell, cfg.N, cfg.Frac
	m := mask(ell)
	sgn := func(v uint64) int64 { return int64(v<<uint(64-ell)) >> uint(64-ell) }
	x := BenchInputs(rng, name, n, ell, f, edges)
	x0 := make([]uint64, len(x))
	x1 := make([]uint64, len(x))
	for i, v := range x {
		x0[i] = rng.Uint64() & m
		x1[i] = (v - x0[i]) & m
	}
	// poly2's coefficients are the server's secret (party 0's), one per
	// element, around DaPa's fit of ReLU (c2 ∈ [0, 0.5), c1 ∈ [0, 1),
	// c0 ∈ [0, 0.5)); c0 is encoded at 2f to add at the products' scale.
	var k2, k1, k0 []uint64
	if name == "poly2" {
		k2, k1, k0 = make([]uint64, n), make([]uint64, n), make([]uint64, n)
		for i := range n {
			k2[i] = fixed(rng.Float64()/2, f)
			k1[i] = fixed(rng.Float64(), f)
			k0[i] = fixed(rng.Float64()/2, 2*f)
		}
	}
	gate := func(p *Party, xs []uint64) ([]uint64, error) {
		switch name {
		case "relu":
			return p.ReLU(xs, ell)
		case "drelu":
			d, err := p.DReLU(xs, ell)
			if err != nil {
				return nil, err
			}
			return p.B2A(d, ell) // to compare like the others; B2A's traffic is not counted below
		case "trunc":
			return p.Trunc(xs, ell, f)
		case "relu_trunc":
			return p.ReLUTrunc(xs, ell, f)
		case "square":
			return p.Square(xs, ell)
		case "poly2":
			if p.ID == 0 {
				return p.Poly2(k2, k1, k0, xs, ell, f)
			}
			return p.Poly2(nil, nil, nil, xs, ell, f)
		default: // maxpool2x2
			return p.MaxPool2x2(xs, ell)
		}
	}
	var stop0 transport.Snapshot
	var rounds int64
	var r0, r1 []uint64
	p0.Conn.Stats().Reset()
	wall, cpu, party, err := runParties(func() error {
		var err error
		if name != "drelu" {
			r0, err = gate(p0, x0)
			return err
		}
		// drelu's B2A is not part of the gate: stop counting before it.
		d, err := p0.DReLU(x0, ell)
		if err != nil {
			return err
		}
		stop0 = p0.Conn.Stats().Snapshot()
		rounds = p0.Conn.Stats().Total().Rounds
		r0, err = p0.B2A(d, ell)
		return err
	}, func() error { var err error; r1, err = gate(p1, x1); return err })
	if err != nil {
		return GateCost{}, 0, 0, 0, err
	}
	if name != "drelu" {
		stop0 = p0.Conn.Stats().Snapshot()
		rounds = stop0.Total.Rounds
	}
	g := GateCost{
		Bytes:        float64(stop0.Total.Bytes()) / float64(n),
		OnlineBytes:  float64(stop0.Phases[transport.PhaseOnline].Bytes()) / float64(n),
		OfflineBytes: float64(stop0.Phases[transport.PhaseOffline].Bytes()) / float64(n),
		Rounds:       rounds,
	}
	// Check every output against the plaintext function.
	floorShift := func(v int64, s int) int64 { return v >> uint(s) }
	for i := range r0 {
		got := sgn((r0[i] + r1[i]) & m)
		lo, exact := ExactOutput(name, x, i, ell) // allowed range [lo, hi]
		hi := lo
		switch {
		case exact:
		case name == "trunc": // centred: the floor or one unit either way
			lo = floorShift(sgn(x[i]), f)
			lo, hi = lo-1, lo+1
		case name == "relu_trunc":
			lo = floorShift(max(sgn(x[i]), 0), f)
			lo, hi = lo-1, lo+1
		default: // poly2: ⌊x²/2^f⌋ and the final shift each within one unit
			v := sgn(x[i])
			y := floorShift(v*v, f)
			lo, hi = math.MaxInt64, math.MinInt64
			for _, yy := range []int64{y - 1, y, y + 1} {
				z := floorShift(int64(k2[i])*yy+int64(k1[i])*v+int64(k0[i]), f)
				lo, hi = min(lo, z-1), max(hi, z+1)
			}
		}
		if got < lo || got > hi {
			g.Mismatches++
		}
	}
	return g, wall, cpu, party, nil
}
