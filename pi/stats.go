package pi

import (
	"time"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
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
	// two-party suite's precomputation (HE on masks, bit triples).
	OfflineMsgs transport.Counts `json:"offline_msgs"`
	// OfflineInline is the input-independent traffic a suite makes while
	// the online phase runs (counted in transport.PhaseOffline): zero for
	// both suites since the two-party suite makes its bit triples in the
	// offline phase; otgates gates run without a store made ahead would
	// show here.
	OfflineInline transport.Counts `json:"offline_inline"`
	// Material is the dealer material this party received for the
	// request (the encoded size, corr.Material.Size), in bytes.
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
	// Layers breaks the request down per step: a row "request" first for
	// the offline traffic no step is credited with (the request message;
	// absent without any), then the steps, "argmax" for a top-k output
	// and "output" for the reveal. Their Bytes sum to Online, their
	// OfflineBytes to OfflineMsgs + OfflineInline.
	Layers []LayerStats `json:"layers"`
}

// LayerStats is one step's share of the online phase.
type LayerStats struct {
	Name string `json:"name"`
	Op   Op     `json:"op"`
	// Bytes in both directions and rounds of this party (online phase).
	Bytes  int64 `json:"bytes"`
	Rounds int64 `json:"rounds"`
	// OfflineBytes is the step's offline traffic: what the offline phase
	// made for it (traffic labelled with its name, such as its HE
	// precomputation or the dealer suite's preopening, and its share of
	// the batches several steps share: the PolyHE batches and the bit
	// triples, in proportion to positions and triples) plus its
	// OfflineInline share. OfflineRounds counts the inline share's rounds
	// only.
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
	run    suiteRun
	layers []mpc.Layer   // per step, for the ReLU counts
	prov   corr.Provider // nil without a dealer
	mat0   int64
	n      int
	start  transport.Counts
	label0 map[string]int64 // offline bytes by label at the start
	off    counts2          // at the start of the online phase
	last   counts2          // at the end of the last step
	// offStep is the offline phase's traffic by step (offlineDone; the
	// top-k's at len(pub.Steps)), offRest the rest.
	offStep map[int]int64
	offRest int64
	stats   Stats
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

func newStatsRecorder(conn transport.Conn, pub *Public, run suiteRun, n int) *statsRecorder {
	r := &statsRecorder{conn: conn, pub: pub, run: run, layers: run.stepLayers(), prov: run.provider(), n: n}
	if r.prov != nil {
		r.mat0 = r.prov.Offline().Bytes
	}
	r.label0 = offlineByLabel(conn)
	r.last = r.now()
	r.start = r.last.total
	return r
}

// offlineDone closes the offline phase and credits its traffic to the
// steps (attributeOffline).
func (r *statsRecorder) offlineDone(d time.Duration) {
	t := r.now()
	r.stats.OfflineMsgs = sub(t.total, r.start)
	r.stats.OfflineTime = d
	r.off, r.last = t, t
	r.attributeOffline()
	r.stats.Layers = r.offlineRows("request")
}

// offlineByLabel returns conn's offline-phase bytes by layer label.
func offlineByLabel(conn transport.Conn) map[string]int64 {
	m := map[string]int64{}
	for _, l := range conn.Stats().Snapshot().Layers {
		if l.Phase == transport.PhaseOffline {
			m[l.Layer] += l.Counts.Bytes()
		}
	}
	return m
}

// batchSharer is a suite run whose offline phase makes batches for
// several steps at once: batchShares returns each step's share of the
// batches' bytes by their labels (twoPartyRun: the PolyHE batches).
type batchSharer interface {
	batchShares(n int, byLabel map[string]int64) (map[int]int64, error)
}

// attributeOffline credits the offline phase's traffic since the start
// to the steps: traffic labelled with a step's name to that step, the
// batches of several steps by the run's shares (batchSharer); what is
// left (the request message) is offRest.
func (r *statsRecorder) attributeOffline() {
	now := offlineByLabel(r.conn)
	diff := map[string]int64{}
	for l, b := range now {
		if d := b - r.label0[l]; d != 0 {
			diff[l] = d
		}
	}
	r.offStep = map[int]int64{}
	attributed := int64(0)
	if s, ok := r.run.(batchSharer); ok {
		if shares, err := s.batchShares(r.n, diff); err == nil {
			for i, b := range shares {
				r.offStep[i] += b
				attributed += b
			}
		}
	}
	step := map[string]int{}
	for i := range r.pub.Steps {
		if _, dup := step[r.pub.Steps[i].Name]; !dup {
			step[r.pub.Steps[i].Name] = i
		}
	}
	for l, b := range diff {
		if i, ok := step[l]; ok {
			r.offStep[i] += b
			attributed += b
		}
	}
	r.offRest = r.stats.OfflineMsgs.Bytes() - attributed
}

// offlineRows returns the row of the offline traffic no step is credited
// with, named name (none if there is none).
func (r *statsRecorder) offlineRows(name string) []LayerStats {
	if r.offRest == 0 {
		return nil
	}
	return []LayerStats{{Name: name, Op: Op(name), OfflineBytes: r.offRest}}
}

// hook records step i's traffic and time.
func (r *statsRecorder) hook(i int, d time.Duration) {
	t, on, off := r.since(r.last)
	r.last = t
	st := &r.pub.Steps[i]
	l := LayerStats{Name: st.Name, Op: st.Op, Bytes: on.Bytes(), Rounds: on.Rounds,
		OfflineBytes: r.offStep[i] + off.Bytes(), OfflineRounds: off.Rounds, Time: d}
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
	if k := len(r.pub.Steps); r.offStep[k] != 0 {
		for j := range r.stats.Layers {
			if l := &r.stats.Layers[j]; l.Name == "argmax" && l.Op == "argmax" {
				l.OfflineBytes += r.offStep[k]
			}
		}
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
