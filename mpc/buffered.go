package mpc

import (
	"fmt"
	"math/bits"
	"sync"
)

// Buffered is a Provider that fetches material ahead of time: Prefetch
// asks the underlying provider for a list of requests (the offline phase)
// and Get then serves matching requests from that queue in order, so the
// online phase does no dealer work. Requests not prefetched go to the
// underlying provider. It is safe for concurrent use.
type Buffered struct {
	under Provider
	mu    sync.Mutex
	queue map[countKey][]bufItem
}

type bufItem struct {
	req Request
	m   *Material
}

// NewBuffered wraps p.
func NewBuffered(p Provider) *Buffered {
	return &Buffered{under: p, queue: map[countKey][]bufItem{}}
}

// Party returns the underlying provider's party.
func (b *Buffered) Party() Party { return b.under.Party() }

// Offline returns the underlying provider's counters (prefetched material
// is counted when it is fetched).
func (b *Buffered) Offline() OfflineStats { return b.under.Offline() }

// ManyGetter is implemented by providers that can fetch a batch of
// requests at once (RemoteProvider pipelines them in one round trip);
// Buffered.Prefetch uses it when available.
type ManyGetter interface {
	GetMany(reqs []Request) ([]*Material, error)
}

// Prefetch fetches the material of reqs now, in order.
func (b *Buffered) Prefetch(reqs ...Request) error {
	var ms []*Material
	if mg, ok := b.under.(ManyGetter); ok {
		var err error
		if ms, err = mg.GetMany(reqs); err != nil {
			return fmt.Errorf("mpc: prefetch: %w", err)
		}
		if len(ms) != len(reqs) {
			return fmt.Errorf("mpc: prefetch: %d materials for %d requests", len(ms), len(reqs))
		}
	}
	for i, r := range reqs {
		var m *Material
		if ms != nil {
			m = ms[i]
		} else {
			var err error
			if m, err = b.under.Get(r); err != nil {
				return fmt.Errorf("mpc: prefetch: %w", err)
			}
		}
		k := countKey{r.Kind, r.Label}
		b.mu.Lock()
		b.queue[k] = append(b.queue[k], bufItem{r, m})
		b.mu.Unlock()
	}
	return nil
}

// Get serves req from the prefetched queue of its (kind, label) if any,
// else from the underlying provider. A queued item for a different spec
// is an error (the request order diverged from the prefetch order).
func (b *Buffered) Get(req Request) (*Material, error) {
	k := countKey{req.Kind, req.Label}
	b.mu.Lock()
	q := b.queue[k]
	if len(q) == 0 {
		b.mu.Unlock()
		return b.under.Get(req)
	}
	it := q[0]
	q[0] = bufItem{} // drop the reference so used material can be collected
	b.queue[k] = q[1:]
	b.mu.Unlock()
	if !it.req.sameAs(req) {
		return nil, fmt.Errorf("mpc: %v %q: request differs from the prefetched one", req.Kind, req.Label)
	}
	return it.m, nil
}

// LinearRequests lists the per-inference requests of Linear(k, ·).
func (s *Session) LinearRequests(k *LinearKey) []Request {
	return []Request{{Kind: KindLinear, Label: k.Label, Linear: k.Spec}}
}

// ActRequests lists the per-inference requests of Act(label, k, spec, ·)
// in order (polyLabel is the PolyKey's label; unused without polynomial
// positions).
func (s *Session) ActRequests(label, polyLabel string, spec ActSpec) []Request {
	relu, poly, _ := spec.split()
	var reqs []Request
	if len(relu) > 0 {
		reqs = append(reqs, Request{Kind: KindReLUTrunc, Label: label + "/relu", N: len(relu), Shift: s.frac(), Ell: s.Ell})
	}
	if len(poly) > 0 {
		reqs = append(reqs, Request{Kind: KindPoly, Label: polyLabel, Act: spec})
	}
	return reqs
}

// MaxPoolRequests lists the per-inference requests of MaxPool(label, p, ·):
// one ReLU request per tournament round. It returns nil for an invalid p.
func (s *Session) MaxPoolRequests(label string, p PoolSpec) []Request {
	var reqs []Request
	for _, cnt := range MaxPoolRounds(p) {
		reqs = append(reqs, Request{Kind: KindReLU, Label: label, N: cnt, Ell: s.Ell})
	}
	return reqs
}

// AvgPoolRequests lists the per-inference requests of AvgPool(label, p, ·)
// (nil for an invalid p).
func (s *Session) AvgPoolRequests(label string, p PoolSpec) []Request {
	if p.Validate() != nil {
		return nil
	}
	return s.divideRequests(label, p.OutLen(), p.K*p.K)
}

// GlobalAvgPoolRequests lists the per-inference requests of
// GlobalAvgPool(label, n, c, hw, ·).
func (s *Session) GlobalAvgPoolRequests(label string, n, c, hw int) []Request {
	return s.divideRequests(label, n*c, hw)
}

// divideRequests mirrors divide.
func (s *Session) divideRequests(label string, n, d int) []Request {
	switch {
	case d <= 1:
		return nil
	case d&(d-1) == 0:
		return s.TruncMSBRequests(label, n, uint(bits.TrailingZeros(uint(d))))
	}
	return s.TruncMSBRequests(label, n, s.frac())
}
