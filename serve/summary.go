package serve

import (
	"context"
	"fmt"
	"time"

	"github.com/autorep/autorep/internal/stat"
	"github.com/autorep/autorep/tensor"
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
	// OnlineMS and OfflineMS are the per-result latencies, in order;
	// PrepareMS, the offline phases run ahead (Result.Prepare) of the
	// results that had one.
	OnlineMS, OfflineMS, PrepareMS []float64
	// OnlineBytes, OfflineMsgBytes (the per-request offline messages),
	// OfflineInlineBytes (a suite's correlations made inline),
	// PrepareBytes (the offline phases run ahead), Material (dealer
	// material, client's half) and Rounds are sums.
	OnlineBytes, OfflineMsgBytes, OfflineInlineBytes, PrepareBytes, Material, Rounds int64
}

// Add accumulates r.
func (t *Totals) Add(r *Result) {
	t.OnlineMS = append(t.OnlineMS, Millis(r.Stats.OnlineTime))
	t.OfflineMS = append(t.OfflineMS, Millis(r.Stats.OfflineTime))
	t.OnlineBytes += r.Stats.Online.Bytes()
	t.OfflineMsgBytes += r.Stats.OfflineMsgs.Bytes()
	t.OfflineInlineBytes += r.Stats.OfflineInline.Bytes()
	t.Material += r.Material
	t.Rounds += r.Stats.Online.Rounds
	if p := r.Prepare; p != nil {
		t.PrepareMS = append(t.PrepareMS, Millis(p.OfflineTime))
		t.PrepareBytes += p.OfflineMsgs.Bytes()
	}
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

// Millis is d in milliseconds at microsecond resolution, as the clients'
// reports give latencies.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Tally is a client's record of a labelled run: its Totals and how often
// the private label was right and equal to a reference (plaintext) label.
type Tally struct {
	Totals
	// Correct counts private labels equal to the truth, RefCorrect
	// reference labels equal to the truth, Agree private labels equal to
	// the reference.
	Correct, RefCorrect, Agree int
}

// ImageRun is a client's run of private inferences on N images over one
// session, one request each (`autorep infer --count`, the demo's
// Classify).
type ImageRun struct {
	// N is the number of images; Image(k) returns image k [1, C, H, W]
	// (an error ends the run as it is).
	N     int
	Image func(k int) (*tensor.Tensor, error)
	// Index, if set, is the number errors give image k (a dataset index);
	// else k.
	Index func(k int) int
	// Ahead is how many inferences have their offline phase run ahead of
	// their image (Session.Prepare, the twoparty suite's; the first, when
	// the session opened): after each result the next one's runs, up to
	// the Ahead-th image. 0 and 1: none beyond the session's.
	Ahead int
	// Done, if set, is called after each image with its result, once it
	// is added to the totals; an error ends the run.
	Done func(k int, r *Result) error
}

// Run runs the images in order and adds each result to tot.
func (run ImageRun) Run(ctx context.Context, s *Session, tot *Totals) error {
	index := run.Index
	if index == nil {
		index = func(k int) int { return k }
	}
	for k := 0; k < run.N; k++ {
		x, err := run.Image(k)
		if err != nil {
			return err
		}
		r, err := s.Infer(ctx, x)
		if err != nil {
			return fmt.Errorf("image %d: %w", index(k), err)
		}
		tot.Add(r)
		if run.Done != nil {
			if err := run.Done(k, r); err != nil {
				return err
			}
		}
		// The next image's offline phase, while this result is read
		// (Session.Prepare does nothing in the dealer suite).
		if k+1 < run.N && k+1 < run.Ahead {
			if err := s.Prepare(ctx); err != nil {
				return fmt.Errorf("image %d: %w", index(k+1), err)
			}
		}
	}
	return nil
}

// Classify runs private inference on n images in one session, one request
// each (ImageRun): image(i) is image i [1, C, H, W], truth(i) its true
// label and ref(i) the reference label to compare with. done, if set, is
// called after each image with the number done and the tally so far.
func Classify(ctx context.Context, s *Session, n int, image func(i int) *tensor.Tensor, truth, ref func(i int) int, done func(int, *Tally)) (*Tally, error) {
	t := &Tally{}
	run := ImageRun{N: n, Image: func(i int) (*tensor.Tensor, error) { return image(i), nil },
		Done: func(i int, res *Result) error {
			want, r := truth(i), ref(i)
			if r == want {
				t.RefCorrect++
			}
			if res.Label == want {
				t.Correct++
			}
			if res.Label == r {
				t.Agree++
			}
			if done != nil {
				done(i+1, t)
			}
			return nil
		}}
	if err := run.Run(ctx, s, &t.Totals); err != nil {
		return nil, err
	}
	return t, nil
}
