package dealer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// Generator generates both parties' correlated randomness. All randomness of
// a request is derived from the master seed, the request's kind and label
// and its index among the requests of that (kind, label) with
// HMAC-SHA256, so a generator is deterministic for a fixed seed (tests) and
// cryptographic for a random one (NewRandomGenerator). It is safe for
// concurrent use. The network dealer serves Generate's halves over TCP;
// LocalProviders serves them in process.
type Generator struct {
	master   ring.Seed
	sessions atomic.Uint64
}

// NewGenerator returns a generator whose output is a deterministic
// function of seed. Use it for tests; anyone knowing the seed knows all
// masks.
func NewGenerator(seed ring.Seed) *Generator { return &Generator{master: seed} }

// Session returns the generator of session number id, whose masks are
// independent of every other session's: its master seed is derived from
// d's with HMAC-SHA256. Masks must never be reused across sessions (a
// reused input mask R would show the server the difference of two
// inputs), and request indices restart in every session, so each session
// needs its own generator; NewPairing and LocalProviders take a fresh one each
// time.
func (d *Generator) Session(id uint64) *Generator {
	mac := hmac.New(sha256.New, d.master[:])
	var b [15]byte
	copy(b[:], "session")
	binary.LittleEndian.PutUint64(b[7:], id)
	mac.Write(b[:])
	var s ring.Seed
	copy(s[:], mac.Sum(nil))
	return NewGenerator(s)
}

// NewRandomGenerator returns a generator with a fresh seed from crypto/rand.
func NewRandomGenerator() (*Generator, error) {
	s, err := ring.NewSeed()
	if err != nil {
		return nil, fmt.Errorf("mpc: dealer: %w", err)
	}
	return NewGenerator(s), nil
}

// prg returns the PRG of the request (kind, label, index).
func (d *Generator) prg(k corr.MaterialKind, label string, index uint64) *ring.PRG {
	mac := hmac.New(sha256.New, d.master[:])
	var hdr [9]byte
	hdr[0] = byte(k)
	binary.LittleEndian.PutUint64(hdr[1:], index)
	mac.Write(hdr[:])
	mac.Write([]byte(label))
	var s ring.Seed
	copy(s[:], mac.Sum(nil))
	return ring.NewPRG(s)
}

// sessionSeed is the seed of label's material of session kind k (a
// weight mask B, coefficient masks A): its first request's (corr.Gen).
func (d *Generator) SessionSeed(k corr.MaterialKind, label string) ring.Seed {
	return d.prg(k, label, 0).Seed()
}

// Generate returns the server's and the client's material for req, the
// index-th request of its (kind, label) (ignored for session kinds). The
// kind's registered description (KindDesc.Generate) generates it.
func (d *Generator) Generate(req corr.Request, index uint64) (m0, m1 *corr.Material, err error) {
	return d.GenerateContext(context.Background(), req, index)
}

// GenerateContext is Generate that stops early, with ctx's cause as the
// error, once ctx ends: a network dealer's session that ends (a party
// gone, idle, drained) does not wait for a large generation to finish.
// The checks (between blocks of FSS keys, images of a linear layer's
// convolution, positions of a polynomial) do not change the material of
// a generation that completes.
func (d *Generator) GenerateContext(ctx context.Context, req corr.Request, index uint64) (m0, m1 *corr.Material, err error) {
	if err := req.Validate(); err != nil {
		return nil, nil, err
	}
	if err := context.Cause(ctx); err != nil {
		return nil, nil, err
	}
	desc, err := corr.Describe(req.Kind)
	if err != nil {
		return nil, nil, err
	}
	if desc.Session {
		index = 0
	}
	g := corr.Gen{PRG: d.prg(req.Kind, req.Label, index), Ctx: ctx, SessionSeed: d.SessionSeed}
	m0 = &corr.Material{Kind: req.Kind, Party: corr.Server}
	m1 = &corr.Material{Kind: req.Kind, Party: corr.Client}
	if err := desc.Generate(req, g, m0, m1); err != nil {
		if c := context.Cause(ctx); c != nil {
			return nil, nil, c
		}
		return nil, nil, fmt.Errorf("mpc: dealer: %v %q: %w", req.Kind, req.Label, err)
	}
	if err := context.Cause(ctx); err != nil {
		return nil, nil, err // ended during the generation: the material may be partial
	}
	return m0, m1, nil
}

// LocalProviders returns in-process providers for the server and the
// client of a new session of d (through one Pairing).
func LocalProviders(d *Generator) (server, client corr.Provider) {
	h := NewPairing(d)
	return &localProvider{h: h, party: corr.Server}, &localProvider{h: h, party: corr.Client}
}

type countKey struct {
	kind  corr.MaterialKind
	label string
}

type pendKey struct {
	countKey
	index uint64
	party corr.Party
}

type pendItem struct {
	req corr.Request
	m   *corr.Material
}

// Pairing matches the two parties' requests of one session to a
// Generator: the n-th request of a (kind, label) from either party is the
// n-th of the other; the first of the two generates both halves and the
// other half waits in the pairing until its party asks. A network dealer
// serves each party's connection with Get; LocalProviders wraps it in
// process. It is safe for concurrent use.
type Pairing struct {
	d        *Generator
	mu       sync.Mutex
	count    [2]map[countKey]uint64
	pending  map[pendKey]pendItem
	inflight map[genKey]*flight
	held     int64 // encoded bytes of the pending halves
}

// genKey names one generation of material: the n-th request of a (kind,
// label), shared by both parties.
type genKey struct {
	countKey
	index uint64
}

// flight is a generation in progress; the other party's Get waits on done
// instead of generating the same item again.
type flight struct {
	done chan struct{}
	err  error
}

// NewPairing starts a new session of d: the pairing generates with
// d.Session(n) for the n-th pairing of d (n = 1, 2, ...), so sessions never
// share masks while a fixed seed still gives reproducible runs.
func NewPairing(d *Generator) *Pairing {
	return &Pairing{d: d.Session(d.sessions.Add(1)), pending: map[pendKey]pendItem{},
		count: [2]map[countKey]uint64{{}, {}}, inflight: map[genKey]*flight{}}
}

// Get returns party p's half of its next request req. If the other party
// made the matching request with a different spec, it is an error.
func (h *Pairing) Get(p corr.Party, req corr.Request) (*corr.Material, error) {
	return h.GetContext(context.Background(), p, req)
}

// GetContext is Get whose generation (Generator.GenerateContext), or wait for
// the other party's generation of the same item, stops with ctx's cause
// once ctx ends. The item's index is then spent: the session cannot go on
// consistently and is expected to end with ctx.
func (h *Pairing) GetContext(ctx context.Context, p corr.Party, req corr.Request) (*corr.Material, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("mpc: pairing: invalid party %d", int(p))
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	ck := countKey{req.Kind, req.Label}
	h.mu.Lock()
	idx := uint64(0)
	if !corr.SessionKind(req.Kind) {
		idx = h.count[p][ck]
		h.count[p][ck]++
	}
	mine := pendKey{ck, idx, p}
	gk := genKey{ck, idx}
	it, ok := h.pending[mine]
	if ok {
		h.take(mine, it)
	} else if fl := h.inflight[gk]; fl != nil {
		// The other party is generating this very item: wait for its
		// half rather than generating (and stranding) a second copy.
		h.mu.Unlock()
		select {
		case <-fl.done:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		if fl.err != nil {
			return nil, fl.err
		}
		h.mu.Lock()
		it, ok = h.pending[mine]
		if ok {
			h.take(mine, it)
		}
		if !ok {
			h.mu.Unlock()
			return nil, fmt.Errorf("mpc: dealer: %v %q #%d: material already taken", req.Kind, req.Label, idx)
		}
	}
	if ok {
		h.mu.Unlock()
		if !it.req.Same(req) {
			return nil, fmt.Errorf("mpc: dealer: %v %q #%d: the parties asked for different material", req.Kind, req.Label, idx)
		}
		return it.m, nil
	}
	fl := &flight{done: make(chan struct{})}
	h.inflight[gk] = fl
	h.mu.Unlock()
	m0, m1, err := h.d.GenerateContext(ctx, req, idx)
	m, other := m0, m1
	if p == corr.Client {
		m, other = m1, m0
	}
	h.mu.Lock()
	delete(h.inflight, gk)
	if err == nil {
		h.pending[pendKey{ck, idx, 1 - p}] = pendItem{req: req, m: other}
		h.held += other.Size()
	}
	fl.err = err
	h.mu.Unlock()
	close(fl.done)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// take removes a pending half (h.mu held).
func (h *Pairing) take(k pendKey, it pendItem) {
	delete(h.pending, k)
	h.held -= it.m.Size()
}

// Pending returns the encoded size of the halves generated for one party
// and waiting in the pairing until that party asks for them (what a network
// dealer holds in memory for the session).
func (h *Pairing) Pending() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held
}

// Generates reports whether Get(p, req) called now would generate new
// material, rather than return the half that the other party's matching
// request generated or is generating.
func (h *Pairing) Generates(p corr.Party, req corr.Request) bool {
	if !p.Valid() {
		return false
	}
	ck := countKey{req.Kind, req.Label}
	h.mu.Lock()
	defer h.mu.Unlock()
	idx := uint64(0)
	if !corr.SessionKind(req.Kind) {
		idx = h.count[p][ck]
	}
	if _, ok := h.pending[pendKey{ck, idx, p}]; ok {
		return false
	}
	return h.inflight[genKey{ck, idx}] == nil
}

// localProvider serves one party from a Pairing and counts its material.
type localProvider struct {
	h     *Pairing
	party corr.Party
	mu    sync.Mutex
	stats corr.OfflineStats
}

// Party returns the party served.
func (p *localProvider) Party() corr.Party { return p.party }

// Offline returns the dealer bytes delivered to this party so far.
func (p *localProvider) Offline() corr.OfflineStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats.Clone()
}

// Get returns this party's half of req.
func (p *localProvider) Get(req corr.Request) (*corr.Material, error) {
	m, err := p.h.Get(p.party, req)
	if err != nil {
		return nil, err
	}
	n := m.Size()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Add(m.Kind, n)
	return m, nil
}
