// Package bench is the private-inference benchmark behind `autorep bench
// pi`: it runs test images through plaintext (float and fixed-point) and
// secure inference, the server and the client in this process (the dealer
// suite with an in-process dealer, or the dealer-free twoparty suite), one
// image at a time, and reports label agreement, logit errors, online and
// offline bytes and rounds, dealer material, latency percentiles, CPU time,
// a per-layer breakdown and the DESIGN §2.4 cost model (Report, the
// command's JSON). With Config.SiteCosts it also measures each activation
// site's saving per replaced ReLU for each polynomial degree (a
// reduce/sitecost file, for `autorep reduce --cost`).
//
// Run does what the command does after parsing its flags; Measure runs an
// already compiled plan. Config's fields are the command's flags, and its
// errors name them.
package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/internal/cputime"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/reduce/sitecost"
)

// Network is a network setting of the cost model (DESIGN §2.4).
type Network struct {
	Name string
	Gbps float64 // bandwidth in Gbit/s
	RTT  float64 // round trip in ms
}

// Networks are the cost model's settings, in the order of
// Report.Estimates: LAN first (site costs count bytes on it), then WAN.
var Networks = []Network{{"lan", 3, 0.3}, {"wan", 0.4, 40}}

// Layer is one row of the per-layer breakdown: the first image's traffic
// and the mean wall time of one plan step.
type Layer struct {
	Name   string  `json:"name"`
	Op     string  `json:"op"`
	ReLUs  int     `json:"relus"`
	Bytes  int64   `json:"bytes"`
	Rounds int64   `json:"rounds"`
	Ms     float64 `json:"ms_mean"`
	// OfflineBytes is the step's input-independent traffic
	// (pi.LayerStats.OfflineBytes: its share of the request's offline
	// phase, such as its HE precomputation, its PolyHE masks and bit
	// triples or the dealer suite's preopening, and any made while it
	// ran); the row "request" holds the rest (the request message).
	OfflineBytes int64 `json:"offline_bytes,omitempty"`
}

// Estimate is the cost-model latency of one image on a network.
type Estimate struct {
	Network string  `json:"network"`
	Gbps    float64 `json:"gbit_s"`
	RTTms   float64 `json:"rtt_ms"`
	Ms      float64 `json:"latency_ms"`
	// OfflineMs is the time to move the dealer material of one image to
	// both parties over the same link.
	OfflineMs float64 `json:"offline_ms"`
}

// Report is the JSON output of `autorep bench pi` (docs/CLI.md lists its
// fields); `autorep plot` reads it back.
type Report struct {
	Model         string `json:"model"`
	Suite         string `json:"suite"`
	Arch          string `json:"arch"`
	RandomWeights bool   `json:"random_weights,omitempty"`
	// Method and Degree come from the model's reduction record (absent
	// for an all-ReLU model): autorep plot draws one line per method.
	Method         string  `json:"method,omitempty"`
	Degree         int     `json:"degree,omitempty"`
	Dataset        string  `json:"dataset"`
	N              int     `json:"n"`
	Skip           int     `json:"skip,omitempty"`
	Transport      string  `json:"transport"`
	Frac           uint    `json:"frac"`
	Ell            int     `json:"ell"`
	Lazy           bool    `json:"lazy,omitempty"`
	Trunc          string  `json:"trunc,omitempty"`
	PBits          int     `json:"pbits,omitempty"`
	OT             string  `json:"ot,omitempty"`
	Output         string  `json:"output,omitempty"`
	ReLUs          int     `json:"relus"`
	Comparisons    int     `json:"maxpool_comparisons"`
	Agree          float64 `json:"agree"`
	SecureAcc      float64 `json:"secure_accuracy"`
	FloatAcc       float64 `json:"float_accuracy"`
	MaxLogitErr    float64 `json:"max_abs_logit_err"`
	MaxFixedErr    float64 `json:"max_abs_fixed_err"`
	OnlineBytes    int64   `json:"online_bytes"`
	OnlineRounds   int64   `json:"online_rounds"`
	BytesPerReLU   float64 `json:"online_bytes_per_relu"`
	OfflineBytes   int64   `json:"offline_bytes"`
	ServerMaterial int64   `json:"offline_material_server"`
	ClientMaterial int64   `json:"offline_material_client"`
	RequestMsgs    int64   `json:"offline_msg_bytes"`
	SetupBytes     int64   `json:"setup_bytes"`
	SetupMaterial  int64   `json:"setup_material_client"`
	SetupMs        float64 `json:"setup_ms"`
	// OfflineInlineBytes and OfflineInlineRounds are input-independent
	// traffic made during the online phase (part of OfflineBytes), per
	// image: zero since the twoparty suite makes its bit triples in the
	// offline phase (in RequestMsgs).
	OfflineInlineBytes  int64 `json:"offline_inline_bytes"`
	OfflineInlineRounds int64 `json:"offline_inline_rounds"`
	// TotalBytes is everything one image costs in a session of its own,
	// both directions: setup (messages and the client's setup material)
	// + offline (dealer material of both parties, request messages, inline
	// offline traffic) + online.
	TotalBytes int64 `json:"total_bytes"`
	// TotalBytesAmortized is one image's share of this run's session of N
	// images, one request each: setup/N + offline + online.
	TotalBytesAmortized int64 `json:"total_bytes_amortized"`
	// MinEll (twoparty suite) is the smallest share width at which these
	// images' logits stay exact (pi.Plan.MinEll, the largest over them;
	// above 64: not guaranteed at any width).
	MinEll     int     `json:"min_ell,omitempty"`
	P50        float64 `json:"latency_ms_p50"`
	P90        float64 `json:"latency_ms_p90"`
	Mean       float64 `json:"latency_ms_mean"`
	OfflineP50 float64 `json:"offline_ms_p50"`
	// OfflineMs is the mean wall time of the offline phase per image (the
	// twoparty suite's offline phase includes its bit triples).
	OfflineMs float64 `json:"offline_ms"`
	// CPUPerImage is the process CPU time (user + system, getrusage) of
	// the secure inferences per image: dealer, server and client together,
	// offline and online phases, without the plaintext checks.
	CPUPerImage float64 `json:"cpu_s_per_image"`
	// PeakRSSMiB is the peak resident set size of this process
	// (getrusage Maxrss) at the end of the run, in MiB: server, client
	// and the dealer suite's dealer all run in it, so it bounds no single
	// party's memory; the site-cost runs are included.
	PeakRSSMiB float64    `json:"peak_rss_mib"`
	Estimates  []Estimate `json:"estimates"`
	Layers     []Layer    `json:"layers"`
	// SiteCosts is set with Config.SiteCosts (--cost-out).
	SiteCosts []sitecost.Site `json:"site_costs,omitempty"`
	// Disagreements lists the images whose private label is not the
	// fixed-point executor's (none when Agree is 1).
	Disagreements []Disagreement `json:"disagreements,omitempty"`
}

// Disagreement is an image whose private label differs from the
// fixed-point executor's. The twoparty suite's faithful truncation rounds
// each step either way (±1 unit in the last place, at random), so its
// logits differ from the executor's deterministic ones by up to
// max_abs_fixed_err; when the executor's two labels are closer than twice
// this image's difference (WithinError), the protocol met a tie it may
// break either way, not a wrong result.
type Disagreement struct {
	Image   int `json:"image"`         // index in bench pi's subset, --skip included
	Label   int `json:"label"`         // the dataset's
	Fixed   int `json:"fixed_label"`   // the fixed-point executor's
	Private int `json:"private_label"` // the protocol's
	// FixedMargin is the executor's logit of its label minus its logit of
	// the private label (0 with --output label: no logits).
	FixedMargin float64 `json:"fixed_margin"`
	// FixedErr is this image's max |private − fixed| logit difference.
	FixedErr    float64 `json:"max_abs_fixed_err"`
	WithinError bool    `json:"within_error"`
}

// disagreement describes image i whose private label ls is not the
// fixed-point label lf, from the executor's logits fx and this image's
// max |private − fixed| dx (no logits: fx nil).
func disagreement(i, label, lf, ls int, fx []float32, dx float64) Disagreement {
	d := Disagreement{Image: i, Label: label, Fixed: lf, Private: ls, FixedErr: dx}
	if fx != nil && ls >= 0 && ls < len(fx) {
		d.FixedMargin = float64(fx[lf]) - float64(fx[ls])
		d.WithinError = d.FixedMargin <= 2*dx
	}
	return d
}

// Options are how Measure runs the parties.
type Options struct {
	// Transport is "pipe" (in memory) or "tcp" (loopback).
	Transport string
	// Lazy fetches the dealer suite's material layer by layer during the
	// online phase (pi.Server.Lazy).
	Lazy bool
	// Progress receives a progress bar (nil: none).
	Progress io.Writer
}

// Config is one run of Run: the flags of `autorep bench pi`.
type Config struct {
	// Model is a model file, or an architecture name (random weights,
	// batch norm in evaluation mode; needs Dataset).
	Model string
	// Dataset names the test set ("": the one the model file records);
	// DataDir is data.Dir's flag value.
	Dataset, DataDir string
	// N test images of a fixed random subset (seed 1, unless all), after
	// the first Skip of it (Subset).
	N, Skip int
	// Suite is pi.SuiteDealer or pi.SuiteTwoParty.
	Suite string
	// Frac, Ell, Trunc and PBits are pi.Config's FracBits, Ell, the
	// twoparty suite's truncation form (pi.SuiteForms) and PBits.
	Frac  uint
	Ell   int
	Trunc string
	PBits int
	// OT is the twoparty suite's OT configuration (pi.Config.OT; nil:
	// the default).
	OT *pi.OTParams
	// Output is what the client learns (pi.ParseOutput): "logits",
	// "label" or "topk:K".
	Output string
	// SiteCosts also measures every site with polynomials of each degree
	// of CostDegrees instead of ReLUs (all-ReLU models, logits output).
	SiteCosts bool
	// CPUProfile, if set, is a file to write a Go CPU profile of the
	// whole run to (go tool pprof).
	CPUProfile string
	Options
}

// forms checks c as the command checks its flags, in the same order, and
// returns the compile configuration (the suite's forms) and the top-K
// output.
func (c *Config) forms() (cfg pi.Config, topK int, err error) {
	if c.Model == "" {
		return pi.Config{}, 0, errors.New("--model is required")
	}
	if c.N <= 0 {
		return pi.Config{}, 0, errors.New("--n must be positive")
	}
	if err := validTransport(c.Transport); err != nil {
		return pi.Config{}, 0, err
	}
	if err := pi.ValidSuite(c.Suite); err != nil {
		return pi.Config{}, 0, fmt.Errorf("--suite: %w", err)
	}
	if cfg, err = (pi.Config{FracBits: c.Frac, Ell: c.Ell, PBits: c.PBits, OT: c.OT}).ForSuite(c.Suite, c.Trunc); err != nil {
		return pi.Config{}, 0, fmt.Errorf("--trunc: %w", err)
	}
	if topK, err = pi.ParseOutput(c.Output); err != nil {
		return pi.Config{}, 0, fmt.Errorf("--output: %w", err)
	}
	if topK > 0 && c.SiteCosts {
		return pi.Config{}, 0, errors.New("--cost-out measures the logits output only")
	}
	if c.Suite == pi.SuiteTwoParty && c.Lazy {
		return pi.Config{}, 0, errors.New("--lazy applies to the dealer suite's material; the twoparty suite has none")
	}
	return cfg, topK, nil
}

// Check reports the first flag-level error of c (what Run refuses before
// loading any model or data).
func (c Config) Check() error {
	_, _, err := c.forms()
	return err
}

func validTransport(t string) error {
	if t != "pipe" && t != "tcp" {
		return fmt.Errorf("--transport %q: want pipe or tcp", t)
	}
	return nil
}

// Run loads the model and its test images, compiles the plan, measures it
// (Measure) and, with c.SiteCosts, the per-site costs. The cost file
// returned is nil without c.SiteCosts; its sites are also the report's.
func Run(c Config) (*Report, *sitecost.File, error) {
	cfg, topK, err := c.forms()
	if err != nil {
		return nil, nil, err
	}
	stop, err := startCPUProfile(c.CPUProfile)
	if err != nil {
		return nil, nil, err
	}
	defer stop()
	m, random, err := LoadModel(c.Model, c.Dataset, c.DataDir)
	if err != nil {
		return nil, nil, err
	}
	set, name, err := Images(m, c.Model, c.Dataset, c.DataDir, c.Skip, c.N)
	if err != nil {
		return nil, nil, err
	}
	total := min(c.N, set.N)
	if c.SiteCosts {
		if err := AllReLU(m); err != nil {
			return nil, nil, err
		}
	}
	plan, err := pi.CompileOutput(m, cfg, topK)
	if errors.As(err, new(*pi.OutputError)) {
		return nil, nil, fmt.Errorf("--output: %w", err)
	} else if err != nil {
		return nil, nil, err
	}
	rep := &Report{Model: c.Model, Suite: c.Suite, Arch: m.Arch, RandomWeights: random, Dataset: name, N: total, Skip: c.Skip, Transport: c.Transport,
		Frac: plan.Public.Frac, Ell: plan.Public.Ell, Lazy: c.Lazy, Trunc: plan.Public.Trunc, PBits: plan.Public.PBits}
	if plan.Public.OT != nil { // the default is not named, so default reports are as before
		rep.OT = plan.Public.OT.String()
	}
	if topK > 0 {
		rep.Output = pi.OutputName(topK)
	}
	rep.ReLUs, rep.Comparisons = plan.Public.ReLUs()
	if len(m.Meta.Reduce) > 0 {
		var rec struct {
			Method string `json:"method"`
			Degree int    `json:"degree"`
		}
		if err := json.Unmarshal(m.Meta.Reduce, &rec); err != nil {
			return nil, nil, fmt.Errorf("%s: reduction record: %w", c.Model, err)
		}
		rep.Method, rep.Degree = rec.Method, rec.Degree
	}
	if err := Measure(plan, m, set, total, c.Options, rep); err != nil {
		return nil, nil, err
	}
	var cf *sitecost.File
	if c.SiteCosts {
		f, err := SiteCosts(m, cfg, set, total, c.Options, rep)
		if err != nil {
			return nil, nil, err
		}
		cf, rep.SiteCosts = &f, f.Sites
	}
	rep.PeakRSSMiB = float64(cputime.PeakRSS()) / (1 << 20)
	return rep, cf, nil
}

// Images loads the test images bench pi measures m on: the test split of
// dataset (default: the one recorded in the model file at path) from
// dataDir (data.Dir), checked against the model's input shape and
// classes, then Subset(skip, n); name is the dataset's. Scripts that study
// an agreement run (scripts/margins, scripts/minwidths) use it to see the
// same images.
func Images(m *models.Model, path, dataset, dataDir string, skip, n int) (set *data.Set, name string, err error) {
	if name, err = m.DatasetName(dataset, path); err != nil {
		return nil, "", err
	}
	if set, err = data.Load(data.Dir(dataDir), name, false); err != nil {
		return nil, "", err
	}
	if in := [3]int{set.C, set.H, set.W}; in != m.Input || set.Classes != m.Classes {
		return nil, "", fmt.Errorf("model takes %v inputs and %d classes, %s has %v and %d", m.Input, m.Classes, name, in, set.Classes)
	}
	set, err = Subset(set, skip, n)
	return set, name, err
}

// Subset returns images skip..skip+n−1 of bench pi's fixed subset of set:
// a seeded sample of skip+n images, whose first images do not depend on
// its size (data.Set.Sample), or the whole set in order when skip+n covers
// it.
func Subset(set *data.Set, skip, n int) (*data.Set, error) {
	if skip < 0 || skip >= set.N {
		return nil, fmt.Errorf("--skip %d: %s has %d test images", skip, set.Name, set.N)
	}
	if n <= 0 {
		return nil, fmt.Errorf("--n %d: want a positive number of images", n)
	}
	if skip+n < set.N {
		set = set.Sample(skip+n, 1)
	}
	idx := make([]int, min(n, set.N-skip))
	for i := range idx {
		idx[i] = skip + i
	}
	return set.Subset(idx)
}

// LoadModel loads a model file, or builds an architecture with random
// weights (batch norm in evaluation mode) for the dataset's shape; random
// tells which.
func LoadModel(path, dataset, dataDir string) (m *models.Model, random bool, err error) {
	if _, err := os.Stat(path); err == nil || models.Describe(path) == "" {
		m, err := models.Load(path)
		return m, false, err
	}
	if dataset == "" {
		return nil, false, fmt.Errorf("--model %s (random weights) needs --dataset", path)
	}
	info, err := data.Load(data.Dir(dataDir), dataset, false)
	if err != nil {
		return nil, false, err
	}
	if m, err = models.New(path, info.Classes, info.Shape()); err != nil {
		return nil, false, err
	}
	m.Meta.Dataset = dataset
	m.SetTraining(false)
	return m, true, nil
}
