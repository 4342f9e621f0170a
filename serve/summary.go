package serve

import (
	"time"

	"github.com/autorep/autorep/internal/stat"
)

// LatencyStats summarises per-inference latencies (milliseconds).
type LatencyStats struct {
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// SummarizeLatency returns the mean, nearest-rank median and 90th
// percentile, minimum and maximum of v (all zero for an empty v).
func SummarizeLatency(v []float64) LatencyStats {
	if len(v) == 0 {
		return LatencyStats{}
	}
	st := LatencyStats{Median: stat.Percentile(v, 0.5), P90: stat.Percentile(v, 0.9), Min: v[0], Max: v[0]}
	for _, x := range v {
		st.Mean += x
		st.Min, st.Max = min(st.Min, x), max(st.Max, x)
	}
	st.Mean /= float64(len(v))
	return st
}

// Totals accumulates the figures of a session's inference results (a
// client's loop over images: Add each Result).
type Totals struct {
	// OnlineMS and OfflineMS are the per-result latencies, in order.
	OnlineMS, OfflineMS []float64
	// OnlineBytes, OfflineMsgBytes (the per-request offline messages),
	// OfflineInlineBytes (a suite's correlations made inline), Material
	// (dealer material, client's half) and Rounds are sums.
	OnlineBytes, OfflineMsgBytes, OfflineInlineBytes, Material, Rounds int64
}

// Add accumulates r.
func (t *Totals) Add(r *Result) {
	t.OnlineMS = append(t.OnlineMS, ms(r.Stats.OnlineTime))
	t.OfflineMS = append(t.OfflineMS, ms(r.Stats.OfflineTime))
	t.OnlineBytes += r.Stats.Online.Bytes()
	t.OfflineMsgBytes += r.Stats.OfflineMsgs.Bytes()
	t.OfflineInlineBytes += r.Stats.OfflineInline.Bytes()
	t.Material += r.Material
	t.Rounds += r.Stats.Online.Rounds
}

// Count is the number of results added.
func (t *Totals) Count() int { return len(t.OnlineMS) }

// Sum returns the sum of v.
func Sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

// ms is d in milliseconds at microsecond resolution.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
