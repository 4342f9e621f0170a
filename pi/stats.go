package pi

import (
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/transport"
)

// Stats describes one inference request as seen by one party. Bytes count
// both directions of that party's connection to the peer (so either
// party's figures are the protocol's totals); rounds are that party's
// send bursts (transport.Counts.Rounds).
type Stats struct {
	// Images is the number of images of the request.
	Images int `json:"images"`
	// Online is the traffic from the input to the revealed logits.
	Online transport.Counts `json:"online"`
	// OfflineMsgs is the traffic of the per-request offline phase: the
	// request, and the dealer suite's ready message and preopening or the
	// two-party suite's precomputation (HE on masks).
	OfflineMsgs transport.Counts `json:"offline_msgs"`
	// OfflineInline is the input-independent traffic a suite makes while
	// the online phase runs (the two-party suite's bit triples, counted in
	// transport.PhaseOffline by otgates); zero for the dealer suite.
	OfflineInline transport.Counts `json:"offline_inline"`
	// Material is the dealer material this party received for the
	// request (the encoded size, mpc.Material.Size), in bytes.
	Material int64 `json:"material_bytes"`
	// OfflineTime is the wall time of the offline phase (fetching the
	// material, for the client with waiting for the server's; the
	// two-party suite's precomputation).
	OfflineTime time.Duration `json:"offline_ns"`
	// OnlineTime is the wall time of the online phase.
	OnlineTime time.Duration `json:"online_ns"`
	// Prepared tells that the request's offline phase ran ahead of it, in
	// a prepare (Client.Prepare, whose own Stats describe it): OfflineMsgs
	// and OfflineTime are then the request message's alone.
	Prepared bool `json:"prepared,omitempty"`
	// Layers breaks the online phase down per step (and "output" for the
	// reveal).
	Layers []LayerStats `json:"layers"`
}

// LayerStats is one step's share of the online phase.
type LayerStats struct {
	Name string `json:"name"`
	Op   Op     `json:"op"`
	// Bytes in both directions and rounds of this party (online phase).
	Bytes  int64 `json:"bytes"`
	Rounds int64 `json:"rounds"`
	// OfflineBytes and OfflineRounds are the step's OfflineInline share.
	OfflineBytes  int64 `json:"offline_bytes,omitempty"`
	OfflineRounds int64 `json:"offline_rounds,omitempty"`
	// ReLUs is the number of ReLU gates of the step for the request
	// (activation ReLU positions and max-pool comparisons).
	ReLUs int `json:"relus"`
	// Time is the step's wall time.
	Time time.Duration `json:"time_ns"`
}

// statsRecorder accumulates a Stats from a connection's counters.
type statsRecorder struct {
	conn   transport.Conn
	pub    *Public
	layers []mpc.Layer  // per step, for the ReLU counts
	prov   mpc.Provider // nil without a dealer
	mat0   int64
	n      int
	start  transport.Counts
	off    counts2 // at the start of the online phase
	last   counts2 // at the end of the last step
	stats  Stats
}

// counts2 is a connection's total and offline-phase counters.
type counts2 struct{ total, offline transport.Counts }

func (r *statsRecorder) now() counts2 {
	s := r.conn.Stats().Snapshot()
	return counts2{s.Total, s.Phases[transport.PhaseOffline]}
}

// since returns the counters now and the traffic since c outside and in
// the offline phase.
func (r *statsRecorder) since(c counts2) (now counts2, online, offline transport.Counts) {
	now = r.now()
	offline = sub(now.offline, c.offline)
	return now, sub(sub(now.total, c.total), offline), offline
}

func newStatsRecorder(conn transport.Conn, pub *Public, layers []mpc.Layer, prov mpc.Provider, n int) *statsRecorder {
	r := &statsRecorder{conn: conn, pub: pub, layers: layers, prov: prov, n: n}
	if prov != nil {
		r.mat0 = prov.Offline().Bytes
	}
	r.last = r.now()
	r.start = r.last.total
	return r
}

// offlineDone closes the offline phase.
func (r *statsRecorder) offlineDone(d time.Duration) {
	t := r.now()
	r.stats.OfflineMsgs = sub(t.total, r.start)
	r.stats.OfflineTime = d
	r.off, r.last = t, t
}

// hook records step i's traffic and time.
func (r *statsRecorder) hook(i int, d time.Duration) {
	t, on, off := r.since(r.last)
	r.last = t
	st := &r.pub.Steps[i]
	l := LayerStats{Name: st.Name, Op: st.Op, Bytes: on.Bytes(), Rounds: on.Rounds,
		OfflineBytes: off.Bytes(), OfflineRounds: off.Rounds, Time: d}
	switch st.Op {
	case OpAct:
		l.ReLUs = r.n * st.ReLUs
	case OpMaxPool:
		if mp, ok := r.layers[i].(*mpc.MaxPoolLayer); ok {
			l.ReLUs = r.n * mp.Comparisons()
		}
	}
	r.stats.Layers = append(r.stats.Layers, l)
}

// finish closes the online phase.
func (r *statsRecorder) finish(d time.Duration) Stats {
	if _, on, _ := r.since(r.last); on.Bytes() > 0 || on.Rounds > 0 {
		r.stats.Layers = append(r.stats.Layers, LayerStats{Name: "output", Op: "reveal", Bytes: on.Bytes(), Rounds: on.Rounds})
	}
	_, on, off := r.since(r.off)
	r.stats.Images = r.n
	r.stats.Online = on
	r.stats.OfflineInline = off
	r.stats.OnlineTime = d
	if r.prov != nil {
		r.stats.Material = r.prov.Offline().Bytes - r.mat0
	}
	return r.stats
}

// sub returns a − b.
func sub(a, b transport.Counts) transport.Counts {
	return transport.Counts{
		BytesSent: a.BytesSent - b.BytesSent, BytesRecv: a.BytesRecv - b.BytesRecv,
		MsgsSent: a.MsgsSent - b.MsgsSent, MsgsRecv: a.MsgsRecv - b.MsgsRecv,
		Rounds: a.Rounds - b.Rounds,
	}
}
