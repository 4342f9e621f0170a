package corr

import (
	"fmt"
	"sync"
)

// Provider is one party's source of correlated randomness. Both parties
// issue the same sequence of requests (same kinds, labels and specs, in the
// same order per (kind, label)); the provider returns this party's half.
// The in-process Dealer, a network dealer and a future two-party (OT/HE)
// provider implement it; the protocols do not care which.
type Provider interface {
	// Party is the party this provider serves.
	Party() Party
	// Get returns this party's material for req.
	Get(req Request) (*Material, error)
	// Offline returns the dealer traffic received so far: the encoded
	// size of all material delivered to this party.
	Offline() OfflineStats
}

// OfflineStats counts dealer material delivered to one party.
type OfflineStats struct {
	Bytes  int64                  `json:"bytes"`
	Items  int64                  `json:"items"`
	ByKind map[MaterialKind]int64 `json:"-"`
}

// Add counts one item of n encoded bytes of kind k: the one place offline
// material is accounted, whichever source delivered it.
func (s *OfflineStats) Add(k MaterialKind, n int64) {
	s.Bytes += n
	s.Items++
	if s.ByKind == nil {
		s.ByKind = map[MaterialKind]int64{}
	}
	s.ByKind[k] += n
}

// Clone returns a copy of s that shares no map with it (a provider's
// Offline hands out a snapshot of its running stats).
func (s OfflineStats) Clone() OfflineStats {
	c := s
	c.ByKind = make(map[MaterialKind]int64, len(s.ByKind))
	for k, v := range s.ByKind {
		c.ByKind[k] = v
	}
	return c
}

// queueKey names the queue of one (kind, label).
type queueKey struct {
	kind  MaterialKind
	label string
}

// MaterialQueue holds prefetched material per (kind, label) in request
// order: the one prefetch queue of the correlation sources (Prefetcher,
// the network dealer's dealer.Remote) and its one "same request" test (a
// queued item must have been fetched for exactly the spec asked for).
// Safe for concurrent use; the zero value is empty and ready.
type MaterialQueue struct {
	mu    sync.Mutex
	items map[queueKey][]queued
	n     int
}

type queued struct {
	req  Request
	m    *Material
	size int64
}

// Put appends m, fetched for req (size: its encoded bytes, for the
// caller's accounting), to the queue of req's (kind, label).
func (q *MaterialQueue) Put(req Request, m *Material, size int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.items == nil {
		q.items = map[queueKey][]queued{}
	}
	k := queueKey{req.Kind, req.Label}
	q.items[k] = append(q.items[k], queued{req, m, size})
	q.n++
}

// Take removes the head of req's (kind, label) queue and returns its
// material and size; ok is false if that queue is empty. An item queued
// for a different spec is removed and reported as an error (the request
// order diverged from the prefetch order).
func (q *MaterialQueue) Take(req Request) (m *Material, size int64, ok bool, err error) {
	k := queueKey{req.Kind, req.Label}
	q.mu.Lock()
	l := q.items[k]
	if len(l) == 0 {
		q.mu.Unlock()
		return nil, 0, false, nil
	}
	it := l[0]
	if len(l) == 1 {
		delete(q.items, k) // drop the backing array: used material can be collected
	} else {
		l[0] = queued{}
		q.items[k] = l[1:]
	}
	q.n--
	q.mu.Unlock()
	if !it.req.Same(req) {
		return nil, it.size, false, fmt.Errorf("mpc: %v %q: request differs from the prefetched one", req.Kind, req.Label)
	}
	return it.m, it.size, true, nil
}

// Missing returns the requests of reqs (in order) that the queue does not
// already hold: per (kind, label), the first queued items answer the
// first requests. A queued item for a different spec than the request it
// would answer is an error (the request order diverged from the prefetch
// order), found here rather than when the item is taken.
func (q *MaterialQueue) Missing(reqs []Request) ([]Request, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	used := map[queueKey]int{}
	var miss []Request
	for _, r := range reqs {
		k := queueKey{r.Kind, r.Label}
		i := used[k]
		if l := q.items[k]; i < len(l) {
			if !l[i].req.Same(r) {
				return nil, fmt.Errorf("mpc: %v %q: request differs from the prefetched one", r.Kind, r.Label)
			}
			used[k] = i + 1
			continue
		}
		miss = append(miss, r)
	}
	return miss, nil
}

// Len returns the number of queued items.
func (q *MaterialQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// Prefetching is a Provider with a prefetch queue: Prefetch makes sure
// the material of reqs is queued, fetching only what the queue lacks
// (MaterialQueue.Missing), and Get serves queued requests in order
// without asking the source again, so an online phase after a Prefetch
// does no dealer work. A Prefetcher gives any Provider one; the network
// dealer's dealer.Remote is one itself (one pipelined burst per
// Prefetch). A run fetches through one Prefetching source (WithPrefetch),
// so material is queued once.
type Prefetching interface {
	Provider
	Prefetch(reqs []Request) error
}

// WithPrefetch returns p itself if it has a prefetch queue, else p behind
// a new Prefetcher.
func WithPrefetch(p Provider) Prefetching {
	if q, ok := p.(Prefetching); ok {
		return q
	}
	return NewPrefetcher(p)
}

// Prefetcher is the Prefetching form of a Provider that has no queue of
// its own (the in-process Generator's): Prefetch asks the underlying
// provider for the requests the queue lacks, one at a time, and Get
// serves matching requests from the queue in order. Requests not
// prefetched go to the underlying provider. It is safe for concurrent
// use.
type Prefetcher struct {
	under Provider
	queue MaterialQueue
}

// NewPrefetcher wraps p.
func NewPrefetcher(p Provider) *Prefetcher {
	return &Prefetcher{under: p}
}

// Party returns the underlying provider's party.
func (b *Prefetcher) Party() Party { return b.under.Party() }

// Offline returns the underlying provider's counters (prefetched material
// is counted when it is fetched).
func (b *Prefetcher) Offline() OfflineStats { return b.under.Offline() }

// Prefetch fetches the material of the requests of reqs that are not
// queued yet now, in order.
func (b *Prefetcher) Prefetch(reqs []Request) error {
	miss, err := b.queue.Missing(reqs)
	if err != nil {
		return err
	}
	for _, r := range miss {
		m, err := b.under.Get(r)
		if err != nil {
			return fmt.Errorf("mpc: prefetch: %w", err)
		}
		b.queue.Put(r, m, 0)
	}
	return nil
}

// Get serves req from the prefetched queue of its (kind, label) if any,
// else from the underlying provider. A queued item for a different spec
// is an error (the request order diverged from the prefetch order).
func (b *Prefetcher) Get(req Request) (*Material, error) {
	m, _, ok, err := b.queue.Take(req)
	if err != nil {
		return nil, err
	}
	if !ok {
		return b.under.Get(req)
	}
	return m, nil
}
