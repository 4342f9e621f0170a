package transport

import (
	"sync"
)

// Phase names used by the protocols.
const (
	PhaseOffline = "offline"
	PhaseOnline  = "online"
)

// Counts are traffic counters. Bytes are payload bytes (the 4-byte frame
// header of the TCP transport is not included).
type Counts struct {
	BytesSent int64 `json:"bytes_sent"`
	BytesRecv int64 `json:"bytes_recv"`
	MsgsSent  int64 `json:"msgs_sent"`
	MsgsRecv  int64 `json:"msgs_recv"`
	// Rounds is the number of send bursts: a round starts each time the
	// party sends while it has received something since its previous send
	// (its first send also starts one). Any number of messages sent in a
	// row belong to one round, and a simultaneous exchange (both parties
	// send, then both receive) is one round for each party. For two
	// parties running in lock step the protocol's latency is about
	// Rounds × one-way delay (Rounds × RTT/2).
	Rounds int64 `json:"rounds"`
}

// Add returns the element-wise sum c + o.
func (c Counts) Add(o Counts) Counts {
	return Counts{
		BytesSent: c.BytesSent + o.BytesSent,
		BytesRecv: c.BytesRecv + o.BytesRecv,
		MsgsSent:  c.MsgsSent + o.MsgsSent,
		MsgsRecv:  c.MsgsRecv + o.MsgsRecv,
		Rounds:    c.Rounds + o.Rounds,
	}
}

// Bytes is the total traffic in both directions.
func (c Counts) Bytes() int64 { return c.BytesSent + c.BytesRecv }

// LayerCounts are the counters attributed to one (phase, layer) pair.
type LayerCounts struct {
	Phase string `json:"phase"`
	Layer string `json:"layer"`
	Counts
}

// Snapshot is a copy of a Stats, ready for JSON encoding.
type Snapshot struct {
	Total  Counts            `json:"total"`
	Phases map[string]Counts `json:"phases"`
	// Layers lists the (phase, layer) pairs in order of first use.
	Layers []LayerCounts `json:"layers"`
}

// Merge returns the sum of two snapshots (for a party with several
// connections, e.g. to the peer and to the dealer).
func (s Snapshot) Merge(o Snapshot) Snapshot {
	r := Snapshot{Total: s.Total.Add(o.Total), Phases: map[string]Counts{}}
	for _, m := range []map[string]Counts{s.Phases, o.Phases} {
		for k, v := range m {
			r.Phases[k] = r.Phases[k].Add(v)
		}
	}
	idx := map[[2]string]int{}
	for _, l := range append(append([]LayerCounts(nil), s.Layers...), o.Layers...) {
		k := [2]string{l.Phase, l.Layer}
		if i, ok := idx[k]; ok {
			r.Layers[i].Counts = r.Layers[i].Counts.Add(l.Counts)
			continue
		}
		idx[k] = len(r.Layers)
		r.Layers = append(r.Layers, l)
	}
	return r
}

// Stats counts one connection's traffic, attributed to the current phase
// and layer label. It is safe for concurrent use.
type Stats struct {
	mu          sync.Mutex
	phase       string
	layer       string
	recvSinceTx bool // received since the last send (or nothing sent yet)
	total       Counts
	byKey       map[[2]string]*Counts
	order       [][2]string
}

// NewStats returns empty counters with phase "online" and no layer label.
func NewStats() *Stats {
	return &Stats{phase: PhaseOnline, recvSinceTx: true}
}

// SetPhase sets the phase that subsequent traffic is attributed to
// (PhaseOffline or PhaseOnline; any label is accepted).
func (s *Stats) SetPhase(phase string) {
	s.mu.Lock()
	s.phase = phase
	s.mu.Unlock()
}

// SetLayer sets the layer label that subsequent traffic is attributed to
// ("" for none).
func (s *Stats) SetLayer(label string) {
	s.mu.Lock()
	s.layer = label
	s.mu.Unlock()
}

// Phase returns the current phase.
func (s *Stats) Phase() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phase
}

// Layer returns the current layer label.
func (s *Stats) Layer() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.layer
}

func (s *Stats) cur() *Counts {
	k := [2]string{s.phase, s.layer}
	c, ok := s.byKey[k]
	if !ok {
		if s.byKey == nil {
			s.byKey = map[[2]string]*Counts{}
		}
		c = &Counts{}
		s.byKey[k] = c
		s.order = append(s.order, k)
	}
	return c
}

// RecordSend counts one sent message of n payload bytes. Conn
// implementations call it; protocols do not need to.
func (s *Stats) RecordSend(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cur()
	if s.recvSinceTx {
		s.recvSinceTx = false
		s.total.Rounds++
		c.Rounds++
	}
	s.total.BytesSent += int64(n)
	s.total.MsgsSent++
	c.BytesSent += int64(n)
	c.MsgsSent++
}

// RecordRecv counts one received message of n payload bytes.
func (s *Stats) RecordRecv(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cur()
	s.recvSinceTx = true
	s.total.BytesRecv += int64(n)
	s.total.MsgsRecv++
	c.BytesRecv += int64(n)
	c.MsgsRecv++
}

// Total returns the counters summed over all phases and layers.
func (s *Stats) Total() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Snapshot returns a copy of the counters.
func (s *Stats) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Snapshot{Total: s.total, Phases: map[string]Counts{}, Layers: []LayerCounts{}}
	for _, k := range s.order {
		c := *s.byKey[k]
		r.Phases[k[0]] = r.Phases[k[0]].Add(c)
		r.Layers = append(r.Layers, LayerCounts{Phase: k[0], Layer: k[1], Counts: c})
	}
	return r
}

// Reset zeroes the counters and restarts round counting (the next send
// starts a round); the phase and layer label are kept.
func (s *Stats) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total = Counts{}
	s.byKey = nil
	s.order = nil
	s.recvSinceTx = true
}
