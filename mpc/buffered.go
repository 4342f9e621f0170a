package mpc

import (
	"fmt"
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
