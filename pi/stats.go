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
	// OfflineMsgs is the request/ready exchange around the prefetch.
	OfflineMsgs transport.Counts `json:"offline_msgs"`
	// Material is the dealer material this party received for the
	// request (the encoded size, mpc.Material.Size), in bytes.
	Material int64 `json:"material_bytes"`
	// OfflineTime is the wall time of the offline phase (fetching the
	// material; for the client it includes waiting for the server's).
	OfflineTime time.Duration `json:"offline_ns"`
	// OnlineTime is the wall time of the online phase.
	OnlineTime time.Duration `json:"online_ns"`
	// Layers breaks the online phase down per step (and "output" for the
	// reveal).
	Layers []LayerStats `json:"layers"`
}

// LayerStats is one step's share of the online phase.
type LayerStats struct {
	Name string `json:"name"`
	Op   Op     `json:"op"`
	// Bytes in both directions and rounds of this party.
	Bytes  int64 `json:"bytes"`
	Rounds int64 `json:"rounds"`
	// ReLUs is the number of ReLU gates of the step for the request
	// (activation ReLU positions and max-pool comparisons).
	ReLUs int `json:"relus"`
	// Time is the step's wall time.
	Time time.Duration `json:"time_ns"`
}

// statsRecorder accumulates a Stats from a connection's counters.
type statsRecorder struct {
	conn             transport.Conn
	pub              *Public
	layers           []mpc.Layer // per step, for the ReLU counts
	prov             mpc.Provider
	mat0             int64
	n                int
	start, off, last transport.Counts
	stats            Stats
}

func newStatsRecorder(conn transport.Conn, b *secureBackend, prov mpc.Provider, n int) *statsRecorder {
	t := conn.Stats().Total()
	return &statsRecorder{conn: conn, pub: b.pub, layers: b.layers, prov: prov, n: n, mat0: prov.Offline().Bytes, start: t, last: t}
}

// offlineDone closes the offline phase.
func (r *statsRecorder) offlineDone(d time.Duration) {
	t := r.conn.Stats().Total()
	r.stats.OfflineMsgs = sub(t, r.start)
	r.stats.OfflineTime = d
	r.off, r.last = t, t
}

// hook records step i's traffic and time.
func (r *statsRecorder) hook(i int, d time.Duration) {
	t := r.conn.Stats().Total()
	delta := sub(t, r.last)
	r.last = t
	st := &r.pub.Steps[i]
	l := LayerStats{Name: st.Name, Op: st.Op, Bytes: delta.Bytes(), Rounds: delta.Rounds, Time: d}
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
	t := r.conn.Stats().Total()
	if delta := sub(t, r.last); delta.Bytes() > 0 || delta.Rounds > 0 {
		r.stats.Layers = append(r.stats.Layers, LayerStats{Name: "output", Op: "reveal", Bytes: delta.Bytes(), Rounds: delta.Rounds})
	}
	r.stats.Images = r.n
	r.stats.Online = sub(t, r.off)
	r.stats.OnlineTime = d
	r.stats.Material = r.prov.Offline().Bytes - r.mat0
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
