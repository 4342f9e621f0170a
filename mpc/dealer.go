package mpc

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/autorep/autorep/fss"
	"github.com/autorep/autorep/ring"
)

// Dealer generates both parties' correlated randomness. All randomness of
// a request is derived from the master seed, the request's kind and label
// and its index among the requests of that (kind, label) with
// HMAC-SHA256, so a dealer is deterministic for a fixed seed (tests) and
// cryptographic for a random one (NewRandomDealer). It is safe for
// concurrent use. The network dealer serves Generate's halves over TCP;
// LocalProviders serves them in process.
type Dealer struct {
	master   ring.Seed
	sessions atomic.Uint64
}

// NewDealer returns a dealer whose output is a deterministic function of
// seed. Use it for tests; anyone knowing the seed knows all masks.
func NewDealer(seed ring.Seed) *Dealer { return &Dealer{master: seed} }

// Session returns the dealer of session number id, whose masks are
// independent of every other session's: its master seed is derived from
// d's with HMAC-SHA256. Masks must never be reused across sessions (a
// reused input mask R would show the server the difference of two
// inputs), and request indices restart in every session, so each session
// needs its own dealer; NewHub and LocalProviders take a fresh one each
// time.
func (d *Dealer) Session(id uint64) *Dealer {
	mac := hmac.New(sha256.New, d.master[:])
	var b [15]byte
	copy(b[:], "session")
	binary.LittleEndian.PutUint64(b[7:], id)
	mac.Write(b[:])
	var s ring.Seed
	copy(s[:], mac.Sum(nil))
	return NewDealer(s)
}

// NewRandomDealer returns a dealer with a fresh seed from crypto/rand.
func NewRandomDealer() (*Dealer, error) {
	s, err := ring.NewSeed()
	if err != nil {
		return nil, fmt.Errorf("mpc: dealer: %w", err)
	}
	return NewDealer(s), nil
}

// sessionKind reports kinds whose material is fixed for a label over the
// whole session (always index 0).
func sessionKind(k Kind) bool { return k == KindWeightMask || k == KindCoefMask }

// prg returns the PRG of the request (kind, label, index).
func (d *Dealer) prg(k Kind, label string, index uint64) *ring.PRG {
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

// weightMaskSeed is the seed of label's weight mask B.
func (d *Dealer) weightMaskSeed(label string) ring.Seed {
	return d.prg(KindWeightMask, label, 0).Seed()
}

// coefMaskSeed is the seed of label's coefficient masks A.
func (d *Dealer) coefMaskSeed(label string) ring.Seed {
	return d.prg(KindCoefMask, label, 0).Seed()
}

// Generate returns the server's and the client's material for req, the
// index-th request of its (kind, label) (ignored for session kinds).
func (d *Dealer) Generate(req Request, index uint64) (m0, m1 *Material, err error) {
	if err := req.Validate(); err != nil {
		return nil, nil, err
	}
	if sessionKind(req.Kind) {
		index = 0
	}
	prg := d.prg(req.Kind, req.Label, index)
	m0 = &Material{Kind: req.Kind, Party: Server}
	m1 = &Material{Kind: req.Kind, Party: Client}
	// shared returns party 0's seeded share and party 1's explicit share of v.
	shared := func(v []uint64) (Vec, Vec) {
		v0 := SeededVec(prg.Seed(), len(v))
		v1 := make([]uint64, len(v))
		ring.SubVec(v1, v, v0.Data)
		return v0, Vec{Data: v1}
	}
	// mask returns a uniform value shared with both shares seeded.
	mask := func(n int) (r []uint64, r0, r1 Vec) {
		r0, r1 = SeededVec(prg.Seed(), n), SeededVec(prg.Seed(), n)
		r = make([]uint64, n)
		ring.AddVec(r, r0.Data, r1.Data)
		return r, r0, r1
	}
	switch req.Kind {
	case KindWeightMask:
		m0.Vecs = []Vec{SeededVec(d.weightMaskSeed(req.Label), req.Linear.WLen())}
	case KindLinear:
		p := req.Linear
		b := ring.ExpandSeed(d.weightMaskSeed(req.Label), p.WLen()).Data
		r := SeededVec(prg.Seed(), p.XLen())
		br, err := conv(p, b, r.Data)
		if err != nil {
			return nil, nil, err
		}
		c0, c1 := shared(br)
		m0.Vecs = []Vec{c0}
		m1.Vecs = []Vec{r, c1}
	case KindCoefMask:
		m0.Vecs = []Vec{SeededVec(d.coefMaskSeed(req.Label), coefMaskWords*req.Act.C)}
	case KindPoly:
		if err := d.genPoly(req, prg, m0, m1); err != nil {
			return nil, nil, err
		}
	case KindTrunc, KindReLU, KindDReLU:
		r, r0, r1 := mask(req.N)
		var k0, k1 *fss.Keys
		switch req.Kind {
		case KindTrunc:
			k0, k1, err = fss.GenTrunc(prg, r, req.ell(), int(req.Shift), true)
			m0.Param, m1.Param = uint64(req.Shift), uint64(req.Shift)
		case KindReLU:
			k0, k1, err = fss.GenReLU(prg, r, req.ell())
		default:
			k0, k1, err = fss.GenDReLU(prg, r, req.ell())
		}
		if err != nil {
			return nil, nil, fmt.Errorf("mpc: dealer: %v %q: %w", req.Kind, req.Label, err)
		}
		m0.Vecs, m0.Keys = []Vec{r0}, GateKeys{k0}
		m1.Vecs, m1.Keys = []Vec{r1}, GateKeys{k1}
	case KindReLUTrunc:
		r, r0, r1 := mask(req.N)
		ell, f := req.ell(), req.Shift
		half := uint64(1) << uint(ell-1)
		top := uint64(1) << (uint(ell) - f)
		alpha := make([]uint64, req.N)
		beta := make([]uint64, reluTruncPayload*req.N)
		qv, kv, qk := make([]uint64, req.N), make([]uint64, req.N), make([]uint64, req.N)
		for i, ri := range r {
			rl := low(ri, ell)
			q := rl >> uint(ell-1)
			k := rl>>f + half>>f
			sg := 1 - 2*q
			alpha[i] = low(rl, ell-1)
			beta[3*i], beta[3*i+1], beta[3*i+2] = sg, sg*k, q*top
			qv[i], kv[i], qk[i] = q, k, q*k
		}
		k0, k1, err := fss.GenDCF(prg, ell-1, reluTruncPayload, alpha, beta)
		if err != nil {
			return nil, nil, fmt.Errorf("mpc: dealer: %v %q: %w", req.Kind, req.Label, err)
		}
		m0.Vecs, m1.Vecs = []Vec{r0}, []Vec{r1}
		for _, v := range [][]uint64{qv, kv, qk} {
			v0, v1 := shared(v)
			m0.Vecs = append(m0.Vecs, v0)
			m1.Vecs = append(m1.Vecs, v1)
		}
		m0.Keys, m1.Keys = DCFKeys{k0}, DCFKeys{k1}
		m0.Param, m1.Param = uint64(f), uint64(f)
	case KindTruncMSB:
		r, r0, r1 := mask(req.N)
		hi, msb := make([]uint64, req.N), make([]uint64, req.N)
		for i, ri := range r {
			hi[i], msb[i] = ri>>req.Shift, ri>>63
		}
		h0, h1 := shared(hi)
		q0, q1 := shared(msb)
		m0.Vecs, m1.Vecs = []Vec{r0, h0, q0}, []Vec{r1, h1, q1}
		m0.Param, m1.Param = uint64(req.Shift), uint64(req.Shift)
	case KindTriple:
		a, a0, a1 := mask(req.N)
		b, b0, b1 := mask(req.N)
		c := make([]uint64, req.N)
		ring.MulVec(c, a, b)
		c0, c1 := shared(c)
		m0.Vecs, m1.Vecs = []Vec{a0, b0, c0}, []Vec{a1, b1, c1}
	case KindSquare:
		a, a0, a1 := mask(req.N)
		sq := make([]uint64, req.N)
		ring.MulVec(sq, a, a)
		s0, s1 := shared(sq)
		m0.Vecs, m1.Vecs = []Vec{a0, s0}, []Vec{a1, s1}
	}
	return m0, m1, nil
}

// genPoly fills the KindPoly material (see KindPoly and Session.Act).
func (d *Dealer) genPoly(req Request, prg *ring.PRG, m0, m1 *Material) error {
	_, _, ch := req.Act.split()
	n := len(ch)
	b := ring.ExpandSeed(d.coefMaskSeed(req.Label), coefMaskWords*req.Act.C).Data
	r0, r1 := SeededVec(prg.Seed(), n), SeededVec(prg.Seed(), n)
	r := make([]uint64, n)
	ring.AddVec(r, r0.Data, r1.Data)
	vals := make([][]uint64, polyVecs)
	for j := range vals {
		vals[j] = make([]uint64, polyWords[j]*n)
	}
	for i, c := range ch {
		b1, b2 := at3(b, 2*c), at3(b, 2*c+1)
		ri := bigU(r[i])
		mi := bigU(r[i] >> 63)
		sq := ri.mul(ri)
		mr := mi.mul(ri)
		b2m := b2.mul(mi)
		put3(vals[0], i, ri)
		put2(vals[1], i, mi)
		put3(vals[2], i, sq)
		put2(vals[3], i, mr)
		put3(vals[4], i, b2.mul(ri))
		put2(vals[5], i, b2m)
		put3(vals[6], i, b2.mul(sq).sub(b1.mul(ri)))
		put2(vals[7], i, b2m.shl(64).sub(b2.mul(mr).shl(1)).add(b1.mul(mi)))
	}
	m0.Vecs, m1.Vecs = []Vec{r0}, []Vec{r1}
	for j, v := range vals {
		v0 := SeededVec(prg.Seed(), len(v))
		v1 := make([]uint64, len(v))
		for i := 0; i < n; i++ {
			if polyWords[j] == 3 {
				put3(v1, i, at3(v, i).sub(at3(v0.Data, i)))
			} else {
				put2(v1, i, at2(v, i).sub(at2(v0.Data, i)))
			}
		}
		m0.Vecs = append(m0.Vecs, v0)
		m1.Vecs = append(m1.Vecs, Vec{Data: v1})
	}
	return nil
}

// low returns the low n bits of v (1 ≤ n ≤ 64).
func low(v uint64, n int) uint64 {
	if n >= 64 {
		return v
	}
	return v & (1<<uint(n) - 1)
}

// LocalProviders returns in-process providers for the server and the
// client of a new session of d (through one Hub).
func LocalProviders(d *Dealer) (server, client Provider) {
	h := NewHub(d)
	return &localProvider{h: h, party: Server}, &localProvider{h: h, party: Client}
}

type countKey struct {
	kind  Kind
	label string
}

type pendKey struct {
	countKey
	index uint64
	party Party
}

type pendItem struct {
	req Request
	m   *Material
}

// Hub matches the two parties' requests of one session to a Dealer: the
// n-th request of a (kind, label) from either party is the n-th of the
// other; the first of the two generates both halves and the other half
// waits in the hub until its party asks. A network dealer serves each
// party's connection with Get; LocalProviders wraps it in process. It is
// safe for concurrent use.
type Hub struct {
	d        *Dealer
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

// NewHub starts a new session of d: the hub generates with
// d.Session(n) for the n-th hub of d (n = 1, 2, ...), so sessions never
// share masks while a fixed seed still gives reproducible runs.
func NewHub(d *Dealer) *Hub {
	return &Hub{d: d.Session(d.sessions.Add(1)), pending: map[pendKey]pendItem{},
		count: [2]map[countKey]uint64{{}, {}}, inflight: map[genKey]*flight{}}
}

// Get returns party p's half of its next request req. If the other party
// made the matching request with a different spec, it is an error.
func (h *Hub) Get(p Party, req Request) (*Material, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("mpc: hub: invalid party %d", int(p))
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	ck := countKey{req.Kind, req.Label}
	h.mu.Lock()
	idx := uint64(0)
	if !sessionKind(req.Kind) {
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
		<-fl.done
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
	m0, m1, err := h.d.Generate(req, idx)
	m, other := m0, m1
	if p == Client {
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
func (h *Hub) take(k pendKey, it pendItem) {
	delete(h.pending, k)
	h.held -= it.m.Size()
}

// Pending returns the encoded size of the halves generated for one party
// and waiting in the hub until that party asks for them (what a network
// dealer holds in memory for the session).
func (h *Hub) Pending() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held
}

// Generates reports whether Get(p, req) called now would generate new
// material, rather than return the half that the other party's matching
// request generated or is generating.
func (h *Hub) Generates(p Party, req Request) bool {
	if !p.Valid() {
		return false
	}
	ck := countKey{req.Kind, req.Label}
	h.mu.Lock()
	defer h.mu.Unlock()
	idx := uint64(0)
	if !sessionKind(req.Kind) {
		idx = h.count[p][ck]
	}
	if _, ok := h.pending[pendKey{ck, idx, p}]; ok {
		return false
	}
	return h.inflight[genKey{ck, idx}] == nil
}

// localProvider serves one party from a Hub and counts its material.
type localProvider struct {
	h     *Hub
	party Party
	mu    sync.Mutex
	stats OfflineStats
}

// Party returns the party served.
func (p *localProvider) Party() Party { return p.party }

// Offline returns the dealer bytes delivered to this party so far.
func (p *localProvider) Offline() OfflineStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats.Clone()
}

// Get returns this party's half of req.
func (p *localProvider) Get(req Request) (*Material, error) {
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
