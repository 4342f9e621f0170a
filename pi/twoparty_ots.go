package pi

import (
	"flag"
	"fmt"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/ot"
	"github.com/autorep/autorep/otgates"
	"github.com/autorep/autorep/transport"
)

// OTParams is the two-party suite's OT configuration, a public parameter
// of the plan (Public.OT, Config.OT): both parties must extend their OTs
// alike, so it is in the plan hash the hello compares. nil is
// ot.DefaultConfig (SoftSpoken k = 4 for the comparisons, k = 8 for the
// multiplications), and Compile records the default as nil, so default
// plans hash and run as before the field.
type OTParams struct {
	// K is the SoftSpoken k of the comparisons' extension (1..8; 0:
	// IKNP); with Ferret, of the extension its first COTs come from.
	K int `json:"k"`
	// KMul is the SoftSpoken k of the multiplications' extension (0:
	// K's); 0 with Ferret, whose COTs serve both kinds.
	KMul int `json:"kmul,omitempty"`
	// Ferret is the Ferret silent-OT parameter set that makes every COT
	// (ot.FerretSmall's "small", ot.FerretLarge's "large"); "" for none.
	Ferret string `json:"ferret,omitempty"`
}

// defaultOT is ot.DefaultConfig as OTParams (Compile records it as nil).
var defaultOT = OTParams{K: ot.DefaultConfig.K, KMul: ot.DefaultConfig.KMul}

// FerretOT returns the OT configuration of Ferret's parameter set name
// ("none" or "": the default, nil; "small", "large"), bootstrapped from
// the default comparisons' extension.
func FerretOT(name string) (*OTParams, error) {
	f, err := ot.ParseFerret(name)
	if err != nil {
		return nil, err
	}
	if f == ot.NoFerret {
		return nil, nil
	}
	return &OTParams{K: ot.DefaultConfig.K, Ferret: f.String()}, nil
}

// Config returns the ot package's configuration of p (nil:
// ot.DefaultConfig), or an error for parameters out of range.
func (p *OTParams) Config() (ot.Config, error) {
	if p == nil {
		return ot.DefaultConfig, nil
	}
	for _, k := range []int{p.K, p.KMul} {
		if k < 0 || k > ot.MaxSoftSpokenK {
			return ot.Config{}, fmt.Errorf("pi: OT configuration %+v: SoftSpoken k %d outside 0..%d", *p, k, ot.MaxSoftSpokenK)
		}
	}
	cfg := ot.Config{K: p.K, KMul: p.KMul}
	if p.Ferret == "" {
		return cfg, nil
	}
	f, err := ot.ParseFerret(p.Ferret)
	if err != nil || f == ot.NoFerret || f.String() != p.Ferret {
		return ot.Config{}, fmt.Errorf("pi: OT configuration %+v: Ferret parameter set %q (want small or large)", *p, p.Ferret)
	}
	if p.KMul != 0 {
		return ot.Config{}, fmt.Errorf("pi: OT configuration %+v: Ferret's COTs serve the multiplications too (kmul must be 0)", *p)
	}
	cfg.Ferret = f
	return cfg, nil
}

// String names the configuration as ot.Config does ("softspoken k=4,
// mul k=8", "ferret small from softspoken k=4").
func (p *OTParams) String() string {
	cfg, err := p.Config()
	if err != nil {
		return fmt.Sprintf("invalid %+v", *p)
	}
	return cfg.String()
}

// canonOT returns p as a plan records it: nil for the default.
func canonOT(p *OTParams) *OTParams {
	if p == nil || *p == defaultOT {
		return nil
	}
	c := *p
	return &c
}

// checkSuiteOT checks a plan's OT configuration against its suite: the
// dealer suite runs no OTs.
func checkSuiteOT(suite string, p *OTParams) error {
	if p == nil {
		return nil
	}
	if suite != SuiteTwoParty {
		return fmt.Errorf("pi: the %s suite runs no OTs (OT configuration %s given)", suite, p)
	}
	_, err := p.Config()
	return err
}

// planOTNote names, for a hello's error, whose plan pub is and its OT
// configuration when it is a two-party plan ("" otherwise), so that a
// plan mismatch between parties of different OT configurations names
// both.
func planOTNote(pub *Public, whose string) string {
	if pub == nil || pub.Suite != SuiteTwoParty {
		return ""
	}
	return fmt.Sprintf("; %s plan's OTs: %s", whose, pub.OT)
}

// FerretFlagUsage is the help text of a command's --ferret flag
// (FerretFlag).
const FerretFlagUsage = "twoparty suite: correlated OTs by Ferret silent OT with this parameter `set`: none (the SoftSpoken extension: 4 B per comparison COT, 2 B per multiplication COT), small (n = 607K: about 1 B per COT made ahead for about 2x the CPU, 0.6 MB more setup, a 76 MB buffer per party) or large (n = 10.6M: fewer bytes still on requests of millions of COTs, a 320 MB buffer per party); recorded in the public plan, so the client follows the server"

// FerretFlag is the value of a --ferret flag: an OT configuration by
// Ferret parameter set name (FerretOT).
type FerretFlag struct {
	name string
	p    *OTParams
}

// AddFerretFlag defines the --ferret flag on fs (default none).
func AddFerretFlag(fs *flag.FlagSet) *FerretFlag {
	f := &FerretFlag{name: "none"}
	fs.Var(f, "ferret", FerretFlagUsage)
	return f
}

// Set parses a parameter set name (flag.Value).
func (f *FerretFlag) Set(s string) error {
	p, err := FerretOT(s)
	if err != nil {
		return err
	}
	f.name, f.p = s, p
	return nil
}

// String returns the name given (flag.Value).
func (f *FerretFlag) String() string {
	if f == nil {
		return "none"
	}
	return f.name
}

// OT returns the configuration chosen (nil: the default).
func (f *FerretFlag) OT() *OTParams {
	if f == nil {
		return nil
	}
	return f.p
}

// The two-party suite's correlated OTs are made in the request's offline
// phase too (OT precomputation, otgates.MakeCOTs): the COTs each step's
// gates extend follow from the public plan, ℓ and n as the triples do
// (cotCounts, with otgates' per-gate counts), so precomputeCOTs extends
// them all, per extension and direction, after the triples; online every
// gate sends one derandomization bit per OT where it sent the
// extension's correction matrix (4 bytes per COT at SoftSpoken k = 4,
// 2 at k = 8), in the same messages and rounds. Each step is checked to
// take exactly its count (withCOTs), and the top-k what is left
// (cotsDone), after which the pool is freed: at most one request's COTs
// are held.

// cotLayer labels the traffic of a request's COTs in the connection's
// statistics; batchShares splits it over the steps by their counts.
const cotLayer = "otgates/cots"

// cotCounts returns the COTs the online phase of a request of n images
// extends, per step and, last, for the secure top-k: the gates act,
// actFaithful, maxPool, trunc and runTopK's geq and mux run, counted
// with otgates' per-gate counts. withCOTs checks each.
func cotCounts(pub *Public, n int) ([]otgates.COTs, error) {
	ell := effEll(pub.Ell)
	f := int(pub.Frac)
	exact := pub.Trunc != TruncFaithful
	trunc := func(m, s int) otgates.COTs { // truncate
		if exact {
			return otgates.TruncExactCOTs(m, s)
		}
		return otgates.TruncCOTs(m, s)
	}
	counts := make([]otgates.COTs, len(pub.Steps)+1)
	for i := range pub.Steps {
		st := &pub.Steps[i]
		var c otgates.COTs
		switch st.Op {
		case OpAct:
			m, nr := n*st.Positions(), n*st.ReLUs
			np := m - nr
			if !exact {
				if nr > 0 {
					c = otgates.ReLUTruncCOTs(nr, ell, f)
				}
				switch {
				case np == 0:
				case st.Folded:
					c = c.Add(otgates.TruncCOTs(np, int(pub.foldTrunc(st))))
				case pub.Poly == PolyHE:
					c = c.Add(otgates.PrimeCOTs(np)).Add(otgates.PrimeCOTs(np))
				default:
					c = c.Add(otgates.TruncCOTs(np, f)).Add(polyCOTs(pub, st, np, ell, f, trunc))
				}
				break
			}
			c = otgates.TruncExactCOTs(m, f)
			if nr > 0 {
				c = c.Add(otgates.DReLUCOTs(nr, ell-f)).Add(otgates.SelectCOTs(nr))
			}
			if np > 0 {
				c = c.Add(polyCOTs(pub, st, np, ell, f, trunc))
			}
		case OpMaxPool:
			spec := poolSpec(st, n)
			if err := spec.Validate(); err != nil {
				return nil, fmt.Errorf("pi: step %q: %w", st.Name, err)
			}
			_, err := mpc.Tournament(spec, make([]struct{}, spec.N*spec.C*spec.H*spec.W), func(a, _ []struct{}) ([]struct{}, error) {
				c = c.Add(otgates.MaxCOTs(len(a), ell))
				return a, nil
			})
			if err != nil {
				return nil, fmt.Errorf("pi: step %q: %w", st.Name, err)
			}
		case OpTrunc:
			c = trunc(n*st.Positions(), int(st.Shift))
		}
		counts[i] = c
	}
	if pub.TopK > 0 {
		var c otgates.COTs
		for _, levels := range argmaxLevels(pub.Classes, pub.TopK) {
			for _, lv := range levels {
				c = c.Add(otgates.DReLUCOTs(n*lv.pairs, ell)).Add(otgates.SelectCOTs(n * lv.width))
			}
		}
		counts[argmaxTriples(pub)] = c
	}
	return counts, nil
}

// polyCOTs counts polyAt at np positions of st (inputs truncated by f):
// the narrow form (Poly1Exact, Poly2Exact; faithfulNarrow's Poly2 or
// MulPrivate and Trunc) or the wide one (Square, MulPrivate of both
// terms, truncate by 2f).
func polyCOTs(pub *Public, st *Step, np, ell, f int, trunc func(m, s int) otgates.COTs) otgates.COTs {
	exact := pub.Trunc != TruncFaithful
	switch {
	case pub.Poly != PolyNarrow:
		return otgates.SquareCOTs(np, ell).Add(otgates.MulPrivateCOTs(2*np, ell)).Add(trunc(np, 2*f))
	case exact && st.PolyDeg == 1:
		return otgates.Poly1ExactCOTs(np, ell, f)
	case exact:
		return otgates.Poly2ExactCOTs(np, ell, f)
	case st.PolyDeg == 1:
		return otgates.MulPrivateCOTs(np, ell).Add(otgates.TruncCOTs(np, f))
	}
	return otgates.Poly2COTs(np, ell, f)
}

// precomputeCOTs makes the COTs of a request of n images ahead
// (cotCounts summed; labelled cotLayer), after the triples, whose own
// OTs must not draw on them.
func (b *twoPartyBackend) precomputeCOTs(n int) error {
	b.cots = nil
	counts, err := cotCounts(b.pub, n)
	if err != nil {
		return err
	}
	var sum otgates.COTs
	for _, c := range counts {
		sum = sum.Add(c)
	}
	transport.SetLayer(b.conn, cotLayer)
	if err := b.gates.MakeCOTs(sum); err != nil {
		return fmt.Errorf("correlated OTs: %w", err)
	}
	b.cots = counts
	return nil
}

// withCOTs runs f, the online gates of step i, and checks that they took
// exactly the step's count of the COTs made ahead (both parties count
// alike, so both fail alike).
func (b *twoPartyBackend) withCOTs(i int, st *Step, f func() ([]uint64, error)) ([]uint64, error) {
	if i >= len(b.cots) {
		return nil, fmt.Errorf("step %q: no correlated OTs made ahead (the offline phase did not run)", st.Name)
	}
	left := b.gates.COTsLeft()
	y, err := f()
	if err == nil && !b.gates.COTsUsed(left, b.cots[i]) {
		err = fmt.Errorf("step %q took %v of the correlated OTs made ahead, counted %v (cotCounts and the gates disagree)", st.Name, left.Sub(b.gates.COTsLeft()), b.cots[i])
	}
	return y, err
}

// cotsDone checks, after the top-k, that no COT made ahead is left (the
// top-k's are what the steps left) and frees the pool.
func (b *twoPartyBackend) cotsDone() error {
	left := b.gates.COTsLeft()
	b.gates.DropCOTs()
	b.cots = nil
	if left.Total() != 0 {
		return fmt.Errorf("the top-k left %v of the correlated OTs made ahead (cotCounts and the gates disagree)", left)
	}
	return nil
}

// cotWeights returns each count's share of the COTs' offline bytes: the
// extension's matrix bits per COT (⌈128/k⌉, 128 for IKNP) times the
// count, per extension.
func (b *twoPartyBackend) cotWeights(counts []otgates.COTs) []int {
	cfg := b.gates.OT.Config
	bits := func(k int) int {
		if k == 0 {
			return 128
		}
		return (128 + k - 1) / k
	}
	kb, mb := bits(cfg.K), bits(cfg.K)
	if cfg.KMul != 0 {
		mb = bits(cfg.KMul)
	}
	w := make([]int, len(counts))
	for i, c := range counts {
		w[i] = kb*(c.K[0]+c.K[1]) + mb*(c.Mul[0]+c.Mul[1])
	}
	return w
}
