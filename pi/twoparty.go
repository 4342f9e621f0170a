package pi

import (
	"fmt"

	"github.com/autorep/autorep/helinear"
	"github.com/autorep/autorep/hesimd"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/otgates"
	"github.com/autorep/autorep/transport"
)

// The protocol suites of private inference: which machinery makes the
// correlations behind the secure steps.
const (
	// SuiteDealer computes on shares over Z_2^64 with function secret
	// sharing and correlated randomness from a dealer (corr.Provider).
	SuiteDealer = "dealer"
	// SuiteTwoParty needs no dealer: linear steps by homomorphic
	// encryption (helinear), the other secure steps by oblivious-transfer
	// gates (otgates), on shares over Z_2^ℓ with ℓ the plan's Ell.
	SuiteTwoParty = "twoparty"
)

// ValidSuite returns nil for a known suite name ("" is the dealer suite)
// and an error naming the known suites otherwise.
func ValidSuite(name string) error {
	switch name {
	case "", SuiteDealer, SuiteTwoParty:
		return nil
	}
	return fmt.Errorf("pi: unknown suite %q (known: %s, %s)", name, SuiteDealer, SuiteTwoParty)
}

// suiteName returns the suite's canonical name ("" → SuiteDealer).
func suiteName(name string) string {
	if name == "" {
		return SuiteDealer
	}
	return name
}

// configSuite is the canonical suite a plan of cfg is compiled for:
// cfg.Suite, or when empty the one its forms imply (the dealer suite
// computes the default forms only).
func configSuite(cfg Config) (string, error) {
	if err := ValidSuite(cfg.Suite); err != nil {
		return "", err
	}
	suite := cfg.Suite
	if suite == "" {
		suite = SuiteDealer
		if cfg.Poly != "" || cfg.Trunc != "" {
			suite = SuiteTwoParty
		}
	}
	return suite, checkSuiteForms(suite, cfg.Poly, cfg.Trunc)
}

// checkSuiteForms checks a plan's suite, a canonical name, against its
// polynomial form and truncation mode: the dealer suite computes the
// default ones only.
func checkSuiteForms(suite, poly, trunc string) error {
	switch suite {
	case SuiteTwoParty:
		return nil
	case SuiteDealer:
		if poly != "" || trunc != "" {
			return fmt.Errorf("pi: the %s suite computes the default polynomial form and exact truncations, not form %q, truncation %q", SuiteDealer, poly, trunc)
		}
		return nil
	}
	return fmt.Errorf("pi: plan for suite %q (known: %s, %s)", suite, SuiteDealer, SuiteTwoParty)
}

// checkPlanSuite refuses to run, as party ("server" or "client") of
// suite, a plan compiled for another suite.
func checkPlanSuite(party, suite string, pub *Public) error {
	if ours := suiteName(suite); pub.Suite != ours {
		return fmt.Errorf("pi: %s: the plan is compiled for the %s suite, the %s runs the %s suite", party, pub.Suite, party, ours)
	}
	return nil
}

// Parties of the two-party suite: the server holds the weights and is
// party 0 of otgates and helinear, the client holds the input and the HE
// secret key.
const (
	tpServer = 0
	tpClient = 1
)

// twoPartyBackend evaluates steps on additive shares over Z_2^ℓ without
// a dealer. Every step reproduces the fixed-point executor (fixedBackend)
// exactly as long as the values fit the gates' ranges (|x| < 2^(ℓ−2)
// before an exact truncation, as the dealer suite assumes |x| < 2^(ℓ−1)).
type twoPartyBackend struct {
	party  int
	conn   transport.Conn
	pub    *Public
	sec    *Secret // server only
	ell    int
	layers []mpc.Layer // per step (compileLayers), for the statistics
	gates  *otgates.Party
	hs     *helinear.Server // server only
	hc     *helinear.Client // client only
	// The PolyHE form's SIMD HE session (nil for the other forms).
	hp *hesimd.Params
	qs *hesimd.Server // server only
	qc *hesimd.Client // client only
	// pre is the request's precomputed material (precompute), by step:
	// helinear's ClientPre/ServerPre, hesimd's ClientMask/ServerMask.
	// takePre removes an entry as its online step uses it, so no mask can
	// serve twice.
	pre map[int]any
	// preBytes is, by PolyHE step precomputed in a batch, its share of
	// the batch's traffic (both directions, in proportion to its
	// positions; precomputeBatch). The other steps' offline traffic is
	// labelled with their names in the connection's statistics.
	preBytes map[int]int64
	// tri holds the request's bit triples made ahead, by step
	// (precomputeTriples); the step's online gates take them
	// (withTriples).
	tri map[int]*otgates.Triples
	// cots is the request's COT count by step, the top-k's last
	// (cotCounts): the gates take them from the pool precomputeCOTs made
	// (withCOTs checks each step).
	cots []otgates.COTs
	// deg2PerStep makes precomputeDeg2 take the per-step form whatever
	// the bytes (tests: ResNet-size steps choose it, the test plans not).
	deg2PerStep bool
	// acts is, by activation step, one image's split of its positions
	// (newActSplits), computed once per session, not per request.
	acts []actSplit
	// hooks is the session's connection with the hooks that put a
	// PolyHE or folded step's messages in its ReLUTrunc's rounds
	// (polyhe_sched.go); every protocol of the session runs over it.
	hooks *hookConn
}

// newTwoPartyBackend runs the once-per-session setup on conn: base OTs
// both ways (otgates.New), then the client's HE keys (helinear, and
// hesimd for a PolyHE plan). sec is nil for the client.
func newTwoPartyBackend(conn transport.Conn, pub *Public, sec *Secret, party int) (*twoPartyBackend, error) {
	hooks := &hookConn{Conn: conn}
	conn = hooks
	layers, err := compileLayers(pub)
	if err != nil {
		return nil, err
	}
	ell := pub.Ell
	if ell == 0 {
		ell = 64
	}
	b := &twoPartyBackend{party: party, conn: conn, pub: pub, sec: sec, ell: ell, layers: layers, acts: newActSplits(pub), hooks: hooks}
	otc, err := pub.OT.Config()
	if err != nil {
		return nil, err
	}
	transport.SetLayer(conn, "setup/ot")
	if b.gates, err = otgates.NewConfig(conn, party, otc); err != nil {
		return nil, fmt.Errorf("pi: twoparty setup: %w", err)
	}
	transport.SetLayer(conn, "setup/he")
	if party == tpServer {
		b.hs, err = newHEServer(conn, pub, ell)
	} else {
		b.hc, err = newHEClient(conn, pub, ell)
	}
	if err == nil && pub.Poly == PolyHE && hasPoly(pub) {
		err = b.setupHESIMD()
	}
	transport.SetLayer(conn, "")
	if err != nil {
		return nil, fmt.Errorf("pi: twoparty setup: %w", err)
	}
	return b, nil
}

// hasPoly tells whether any activation position of the plan is a
// polynomial not folded into a linear step (a plan without one needs no
// SIMD HE keys).
func hasPoly(pub *Public) bool {
	for i := range pub.Steps {
		if st := &pub.Steps[i]; st.Op == OpAct && st.ReLUs < st.Positions() && !st.Folded {
			return true
		}
	}
	return false
}

// setupHESIMD starts the PolyHE form's SIMD HE session (the client's keys
// to the server) with a prime of the plan's PBits bits.
func (b *twoPartyBackend) setupHESIMD() error {
	var err error
	if b.hp, err = hesimd.NewParams(b.pub.PBits); err != nil {
		return err
	}
	if b.party == tpServer {
		b.qs, err = hesimd.NewServer(b.conn, b.hp)
	} else {
		b.qc, err = hesimd.NewClient(b.conn, b.hp)
	}
	return err
}

// begin attributes the traffic of the next step to its name.
func (b *twoPartyBackend) begin(st *Step) { transport.SetLayer(b.conn, st.Name) }

// isDense tells whether a linear step is a dense layer (helinear.FC packs
// it more tightly than a 1×1 convolution).
func isDense(g *Geom) bool {
	return g.H == 1 && g.W == 1 && g.R == 1 && g.S == 1 && (g.Groups <= 1) && g.StrideH <= 1 && g.StrideW <= 1 && g.PadH == 0 && g.PadW == 0
}

// precompute is the per-request offline phase of n images: in step
// order, the HE part of every linear step on a mask (helinear's
// Precompute: online the client sends its masked share, the server's
// work is local); then the PolyHE steps' masks, the degree-1 steps' with
// their answers in one batch (precomputeBatch), the degree-2 steps' in
// one batch or per step, whichever sends fewer bytes (precomputeDeg2);
// then the bit triples of every step's comparisons (precomputeTriples),
// then the correlated OTs of every step's gates (precomputeCOTs).
// None of it depends on the input. Both parties run it after the request,
// before the input is shared.
func (b *twoPartyBackend) precompute(n int) error {
	b.pre = map[int]any{} // a failed request's leftovers go: the session is over anyway
	b.gates.DropCOTs()    // so are its COTs (the triples' OTs must not draw on them)
	b.preBytes = map[int]int64{}
	defer transport.SetLayer(b.conn, "")
	var deg1, deg2 []int
	for i := range b.pub.Steps {
		st := &b.pub.Steps[i]
		switch {
		case st.Op == OpLinear:
			transport.SetLayer(b.conn, st.Name)
			m, err := b.precomputeLinear(i, st, n)
			if err != nil {
				return fmt.Errorf("precompute %q: %w", st.Name, err)
			}
			b.pre[i] = m
		case st.Op != OpAct || b.hp == nil || st.ReLUs == st.Positions() || st.Folded:
		case st.PolyDeg == 1:
			deg1 = append(deg1, i)
		default:
			deg2 = append(deg2, i)
		}
	}
	if err := b.precomputeBatch(deg1, n, 1); err != nil {
		return fmt.Errorf("precompute the degree-1 polynomial steps: %w", err)
	}
	if err := b.precomputeDeg2(deg2, n); err != nil {
		return fmt.Errorf("precompute the degree-2 polynomial steps: %w", err)
	}
	if err := b.precomputeTriples(n); err != nil {
		return err
	}
	return b.precomputeCOTs(n)
}

// precomputeLinear is the offline half of linear step i: of its stacked
// convolution (foldMap) for a Fold step.
func (b *twoPartyBackend) precomputeLinear(i int, st *Step, n int) (any, error) {
	g := st.Conv
	if st.Fold {
		g = foldChannels(st).geom(st)
	}
	if b.party == tpClient {
		if isDense(g) {
			return b.hc.PrecomputeFC(n, g.C, g.K)
		}
		return b.hc.PrecomputeConv2d(g.Params(n))
	}
	w, _ := b.weights(i, st)
	if isDense(g) {
		return b.hs.PrecomputeFC(n, g.C, g.K, w)
	}
	return b.hs.PrecomputeConv2d(g.Params(n), w)
}

// takePre removes and returns step i's precomputed material of type T.
func takePre[T any](b *twoPartyBackend, i int, st *Step) (T, error) {
	m, ok := b.pre[i].(T)
	delete(b.pre, i)
	if !ok {
		return m, fmt.Errorf("step %q: no precomputed material (the offline phase did not run, or it is used)", st.Name)
	}
	return m, nil
}

// weights returns the server's weights and biases of linear step i: W
// and Bias, or a Fold step's stacked set (foldMap.stack).
func (b *twoPartyBackend) weights(i int, st *Step) (w, bias []uint64) {
	sec := &b.sec.Steps[i]
	if !st.Fold {
		return sec.W, sec.Bias
	}
	return foldChannels(st).stack(sec, st.Conv.Params(1).WLen()/st.Conv.K)
}

// linear runs the online half of a precomputed linear step: the client
// sends its masked share, the server computes locally. A Fold step's
// stacked output is then narrowed to the step's by the public mask
// (foldMap.gather), locally on each share.
func (b *twoPartyBackend) linear(i int, st *Step, n int, x []uint64) ([]uint64, error) {
	var y []uint64
	var err error
	if b.party == tpClient {
		var pre *helinear.ClientPre
		if pre, err = takePre[*helinear.ClientPre](b, i, st); err != nil {
			return nil, err
		}
		y, err = b.hc.Online(pre, x)
	} else {
		var pre *helinear.ServerPre
		if pre, err = takePre[*helinear.ServerPre](b, i, st); err != nil {
			return nil, err
		}
		w, bias := b.weights(i, st)
		y, err = b.hs.Online(pre, w, bias, x)
	}
	if err != nil || !st.Fold {
		return y, err
	}
	return foldChannels(st).gather(st, n, y), nil
}

// act computes, per position, t = ⌊z/2^f⌋ exactly (TruncExact), then
// ReLU(t) at ReLU positions and the plan's polynomial elsewhere (polyAt).
// The sign of t is taken at ℓ−f bits (|t| < 2^(ℓ−2−f)), which makes the
// comparison cheaper. The faithful mode has its own (actFaithful).
func (b *twoPartyBackend) act(i int, st *Step, n int, x []uint64) ([]uint64, error) {
	if b.pub.Trunc == TruncFaithful {
		return b.actFaithful(i, st, n, x)
	}
	f := int(b.pub.Frac)
	t, err := b.gates.TruncExact(x, b.ell, f)
	if err != nil {
		return nil, err
	}
	if n*st.ReLUs == len(t) {
		return b.relu(t, f)
	}
	relu, poly := b.acts[i].batch(n)
	y := make([]uint64, len(t))
	if len(relu) > 0 {
		r, err := b.relu(gatherIdx(t, relu), f)
		if err != nil {
			return nil, err
		}
		scatterIdx(y, relu, r)
	}
	p, err := b.polyAt(i, st, gatherIdx(t, poly), poly, f)
	if err != nil {
		return nil, err
	}
	scatterIdx(y, poly, p)
	return y, nil
}

// actSplit is one image's split of an activation step's positions: the
// indices of its ReLU and of its polynomial positions. The mask is public
// and the same for every image, so the split is computed once per step
// (newActSplits) and a batch's is this one repeated (batch).
type actSplit struct {
	per        int // positions per image
	relu, poly []int
}

// newActSplits returns the split of every activation step of pub, by
// step index (the zero value for the other steps).
func newActSplits(pub *Public) []actSplit {
	acts := make([]actSplit, len(pub.Steps))
	for i := range pub.Steps {
		st := &pub.Steps[i]
		if st.Op != OpAct {
			continue
		}
		a := &acts[i]
		a.per = st.Positions()
		a.relu = make([]int, 0, st.ReLUs)
		a.poly = make([]int, 0, a.per-st.ReLUs)
		for j := range a.per {
			if st.Mask.At(j) {
				a.relu = append(a.relu, j)
			} else {
				a.poly = append(a.poly, j)
			}
		}
	}
	return acts
}

// batch returns the indices of the ReLU and of the polynomial positions
// among the n·per outputs of n images, image by image.
func (a actSplit) batch(n int) (relu, poly []int) {
	return repeatIdx(a.relu, a.per, n), repeatIdx(a.poly, a.per, n)
}

// repeatIdx is idx for each of n images of per positions: image k's
// indices offset by k·per.
func repeatIdx(idx []int, per, n int) []int {
	out := make([]int, 0, n*len(idx))
	for k := range n {
		for _, j := range idx {
			out = append(out, k*per+j)
		}
	}
	return out
}

// polyAt evaluates the step's polynomials at the positions idx, tp their
// inputs truncated to f fractional bits: the narrow form (narrowPoly) or
// the default one (widePoly).
func (b *twoPartyBackend) polyAt(i int, st *Step, tp []uint64, idx []int, f int) ([]uint64, error) {
	per := st.Positions()
	c, _, _ := chw(st.Shape)
	hw := per / c
	if b.pub.Poly == PolyNarrow {
		return b.narrowPoly(i, st, tp, idx, per, hw, f)
	}
	return b.widePoly(i, tp, idx, per, hw, f)
}

// widePoly is the default form ⌊(C2·t² + C1·t + C0)/2^2f⌋ at the positions
// idx: Square, one MulPrivate for C2·t² and C1·t together (the
// coefficients are the server's), then the final truncation (truncate).
func (b *twoPartyBackend) widePoly(i int, tp []uint64, idx []int, per, hw, f int) ([]uint64, error) {
	sq, err := b.gates.Square(tp, b.ell)
	if err != nil {
		return nil, err
	}
	k := len(idx)
	xs := append(sq, tp...)
	var coef []uint64
	if b.party == tpServer {
		pc := b.sec.Steps[i].Coef
		coef = make([]uint64, 2*k)
		for q, j := range idx {
			ch := (j % per) / hw
			coef[q], coef[k+q] = pc[3*ch+2], pc[3*ch+1]
		}
	}
	m, err := b.gates.MulPrivate(coef, xs, b.ell)
	if err != nil {
		return nil, err
	}
	u := m[:k]
	for q, j := range idx {
		u[q] += m[k+q]
		if b.party == tpServer {
			u[q] += b.sec.Steps[i].Coef[3*((j%per)/hw)]
		}
	}
	return b.truncate(u, 2*f)
}

// narrowPoly evaluates the narrow form (PolyNarrow) at the positions idx
// of the step's output, t their truncated inputs: otgates.Poly2Exact (the
// square and b·t on one batch of OTs, a·s on the bits of a, exact
// truncations), or Poly1Exact without the square for a degree-1 step. The
// coefficients are the server's; the client passes none.
func (b *twoPartyBackend) narrowPoly(i int, st *Step, t []uint64, idx []int, per, hw, f int) ([]uint64, error) {
	var ca, cb, cc []uint64
	if b.party == tpServer {
		coef := b.sec.Steps[i].Coef
		ca, cb, cc = make([]uint64, len(idx)), make([]uint64, len(idx)), make([]uint64, len(idx))
		for q, j := range idx {
			ca[q], cb[q], cc[q] = narrowCoef(coef, (j%per)/hw, uint(f))
		}
	}
	if b.pub.Trunc == TruncFaithful {
		return b.faithfulNarrow(st, ca, cb, cc, t, f)
	}
	if st.PolyDeg == 1 {
		return b.gates.Poly1Exact(cb, cc, t, b.ell, f)
	}
	return b.gates.Poly2Exact(ca, cb, cc, t, b.ell, f)
}

// relu is max(t, 0) for values t already truncated by f bits: the sign at
// ℓ−f bits, then the multiplexer at ℓ.
func (b *twoPartyBackend) relu(t []uint64, f int) ([]uint64, error) {
	d, err := b.gates.DReLU(t, b.ell-f)
	if err != nil {
		return nil, err
	}
	return b.gates.Select(d, t, b.ell)
}

func (b *twoPartyBackend) maxPool(i int, st *Step, n int, x []uint64) ([]uint64, error) {
	return mpc.Tournament(poolSpec(st, n), x, func(a, c []uint64) ([]uint64, error) {
		return b.gates.Max(a, c, b.ell)
	})
}

func (b *twoPartyBackend) trunc(i int, st *Step, x []uint64) ([]uint64, error) {
	if int(st.Shift) > b.ell-2 {
		return nil, fmt.Errorf("truncation by %d bits needs ℓ ≥ %d, plan has %d", st.Shift, st.Shift+2, b.ell)
	}
	if st.Mul != 1 {
		x = mpc.Scale(x, st.Mul)
	}
	return b.truncate(x, int(st.Shift))
}

// inputShares returns the party's share of the client's encoded input
// (n images): the client's is the input itself, the server's is zero.
func (b *twoPartyBackend) inputShares(in []uint64, size int) []uint64 {
	if b.party == tpClient {
		return in
	}
	return make([]uint64, size)
}

// revealToClient sends the server's output shares to the client, which
// returns the values mod 2^ℓ sign-extended to 64 bits (the fixed-point
// executor's values when they fit ℓ bits).
func (b *twoPartyBackend) revealToClient(y []uint64) ([]uint64, error) {
	mask := ^uint64(0) >> (64 - b.ell)
	if b.party == tpServer {
		out := make([]uint64, len(y))
		for j, v := range y {
			out[j] = v & mask
		}
		return nil, transport.SendUint64s(b.conn, out)
	}
	s := make([]uint64, len(y))
	if err := transport.RecvUint64sInto(b.conn, s); err != nil {
		return nil, fmt.Errorf("output shares: %w", err)
	}
	out := make([]uint64, len(y))
	sh := uint(64 - b.ell)
	for j := range y {
		out[j] = uint64(int64((s[j]+y[j])<<sh) >> sh)
	}
	return out, nil
}

// gatherIdx returns x[idx[0]], x[idx[1]], ….
func gatherIdx(x []uint64, idx []int) []uint64 {
	out := make([]uint64, len(idx))
	for q, j := range idx {
		out[q] = x[j]
	}
	return out
}

// scatterIdx sets y[idx[q]] = v[q].
func scatterIdx(y []uint64, idx []int, v []uint64) {
	for q, j := range idx {
		y[j] = v[q]
	}
}
