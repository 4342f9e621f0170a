package serve

import (
	"encoding/hex"
	"fmt"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/tensor"
)

// ImageReport is a client's report of one private inference (an image of
// `autorep infer --json`).
type ImageReport struct {
	Index     *int      `json:"index,omitempty"` // the dataset index, for a dataset image
	Label     int       `json:"label"`
	TrueLabel *int      `json:"true_label,omitempty"`
	Logits    []float32 `json:"logits,omitempty"`
	// Labels are the K best classes, best first, when the server reveals
	// only them (serve --output topk:K or label).
	Labels []int `json:"labels,omitempty"`
	// Offline is the offline phase after the request; Prepare, the one
	// run ahead of it (twoparty suite, Session.Prepare; absent if none).
	LatencyMS struct {
		Online  float64 `json:"online"`
		Offline float64 `json:"offline"`
		Prepare float64 `json:"prepare,omitempty"`
	} `json:"latency_ms"`
	Bytes struct {
		Online   int64 `json:"online"`
		Offline  int64 `json:"offline"`
		Prepare  int64 `json:"prepare,omitempty"`
		Material int64 `json:"material"`
	} `json:"bytes"`
	Rounds int64 `json:"rounds"`
}

// NewImageReport reports r; the caller sets Index and TrueLabel.
func NewImageReport(r *Result) ImageReport {
	img := ImageReport{Label: r.Label, Logits: r.Logits, Labels: r.Labels, Rounds: r.Stats.Online.Rounds}
	img.LatencyMS.Online, img.LatencyMS.Offline = Millis(r.Stats.OnlineTime), Millis(r.Stats.OfflineTime)
	img.Bytes.Online, img.Bytes.Offline, img.Bytes.Material = r.Stats.Online.Bytes(), r.Stats.OfflineMsgs.Bytes(), r.Material
	if p := r.Prepare; p != nil {
		img.LatencyMS.Prepare, img.Bytes.Prepare = Millis(p.OfflineTime), p.OfflineMsgs.Bytes()
	}
	return img
}

// SessionReport is the session part of a client's report.
type SessionReport struct {
	Session  string `json:"session"`
	Suite    string `json:"suite"`
	Dealer   string `json:"dealer,omitempty"` // dealer suite: the dealer joined
	PlanHash string `json:"plan_hash"`
	Arch     string `json:"arch"`
	ReLUs    int    `json:"relus"`
	// Output is what the server reveals: logits, label or topk:K.
	Output  string `json:"output"`
	Connect struct {
		MS       float64 `json:"ms"`
		Bytes    int64   `json:"bytes"`
		Material int64   `json:"material_bytes"`
	} `json:"connect"`
}

// NewSessionReport reports the open session s.
func NewSessionReport(s *Session) SessionReport {
	pub := s.Public
	h := pub.Hash()
	r := SessionReport{Session: s.ID.String(), Suite: s.Suite, Dealer: s.DealerAddr, PlanHash: hex.EncodeToString(h[:]),
		Arch: pub.Arch, Output: pi.OutputName(pub.TopK)}
	r.ReLUs, _ = pub.ReLUs()
	r.Connect.MS, r.Connect.Bytes, r.Connect.Material = Millis(s.Connect.Time), s.Connect.Bytes, s.Connect.Material
	return r
}

// Report is a client's report of a session with one image (`autorep
// infer --json` for one image): the session's fields, then the image's.
type Report struct {
	SessionReport
	ImageReport
}

// BatchReport is a client's report of several images over one session
// (`autorep infer --count N --json`): the images and aggregates over them.
type BatchReport struct {
	SessionReport
	Count    int           `json:"count"`
	Images   []ImageReport `json:"images"`
	Correct  *int          `json:"correct,omitempty"`
	Accuracy *float64      `json:"accuracy,omitempty"`
	// LatencyMS summarises the per-image latencies.
	// (Prepare: the offline phases run ahead, over the prepared images;
	// absent if none.)
	LatencyMS struct {
		Online  LatencyStats  `json:"online"`
		Offline LatencyStats  `json:"offline"`
		Prepare *LatencyStats `json:"prepare,omitempty"`
	} `json:"latency_ms"`
	// PerInference are means over the images.
	PerInference struct {
		OnlineBytes   float64 `json:"online_bytes"`
		OfflineBytes  float64 `json:"offline_bytes"`
		PrepareBytes  float64 `json:"prepare_bytes,omitempty"`
		MaterialBytes float64 `json:"material_bytes"`
		Rounds        float64 `json:"rounds"`
	} `json:"per_inference"`
	// Total sums over the images.
	Total struct {
		OnlineMS      float64 `json:"online_ms"`
		OfflineMS     float64 `json:"offline_ms"`
		PrepareMS     float64 `json:"prepare_ms,omitempty"`
		OnlineBytes   int64   `json:"online_bytes"`
		OfflineBytes  int64   `json:"offline_bytes"`
		PrepareBytes  int64   `json:"prepare_bytes,omitempty"`
		MaterialBytes int64   `json:"material_bytes"`
		Rounds        int64   `json:"rounds"`
	} `json:"total"`
	// WallSeconds is the time from opening the session to the last result.
	WallSeconds float64 `json:"wall_seconds"`
}

// Summarize fills the aggregates from the session's totals.
func (r *BatchReport) Summarize(tot *Totals) {
	t := &r.Total
	t.OnlineMS, t.OfflineMS = Sum(tot.OnlineMS), Sum(tot.OfflineMS)
	t.OnlineBytes, t.OfflineBytes, t.MaterialBytes, t.Rounds = tot.OnlineBytes, tot.OfflineMsgBytes, tot.Material, tot.Rounds
	r.LatencyMS.Online, r.LatencyMS.Offline = SummarizeLatency(tot.OnlineMS), SummarizeLatency(tot.OfflineMS)
	if len(tot.PrepareMS) > 0 {
		p := SummarizeLatency(tot.PrepareMS)
		r.LatencyMS.Prepare = &p
		t.PrepareMS, t.PrepareBytes = Sum(tot.PrepareMS), tot.PrepareBytes
	}
	if n := float64(tot.Count()); n > 0 {
		p := &r.PerInference
		p.OnlineBytes, p.OfflineBytes, p.PrepareBytes = float64(t.OnlineBytes)/n, float64(t.OfflineBytes)/n, float64(t.PrepareBytes)/n
		p.MaterialBytes, p.Rounds = float64(t.MaterialBytes)/n, float64(t.Rounds)/n
	}
}

// LoadImage reads a PNG or JPEG file as a normalised [1, C, H, W] input
// of the served plan pub: converted to its channels (1 or 3), resized to
// its input size if resize (else a size mismatch is an error), and
// normalised with its mean and standard deviation.
func LoadImage(path string, pub *pi.Public, resize bool) (*tensor.Tensor, error) {
	cfg, format, err := data.ImageConfig(path)
	if err != nil {
		return nil, err
	}
	in := pub.Input
	if !resize && (cfg.Width != in[2] || cfg.Height != in[1]) {
		return nil, fmt.Errorf("%s: %s image of %dx%d pixels, the model (%s) takes %dx%d (drop --no-resize to resize)", path, format, cfg.Width, cfg.Height, pub.Arch, in[2], in[1])
	}
	if in[0] != 1 && in[0] != 3 {
		return nil, fmt.Errorf("the model takes %d-channel images; only 1 (grey) and 3 (RGB) are supported from files", in[0])
	}
	pix, err := data.ReadImage(path, in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	mean, std := pub.Mean, pub.Std
	if len(mean) != in[0] || len(std) != in[0] {
		return nil, fmt.Errorf("the served plan has no normalisation for %d channels (mean %v, std %v)", in[0], mean, std)
	}
	return data.NormalizePixels(pix, in, mean, std)
}
