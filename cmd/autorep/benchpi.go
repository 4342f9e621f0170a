package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/autorep/autorep/internal/cputime"
	"math"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/internal/progress"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

func init() {
	registerBench("pi", "private inference: agreement, error, bytes, rounds, latency per image", runBenchPI)
}

// netModel is a network setting of the cost model (DESIGN §2.4).
type netModel struct {
	Name string
	Gbps float64 // bandwidth in Gbit/s
	RTT  float64 // round trip in ms
}

var costNets = []netModel{{"lan", 3, 0.3}, {"wan", 0.4, 40}}

// piLayer is one row of the per-layer breakdown.
type piLayer struct {
	Name   string  `json:"name"`
	Op     string  `json:"op"`
	ReLUs  int     `json:"relus"`
	Bytes  int64   `json:"bytes"`
	Rounds int64   `json:"rounds"`
	Ms     float64 `json:"ms_mean"`
	// OfflineBytes is the input-independent traffic the step made while
	// it ran (the twoparty suite's bit triples).
	OfflineBytes int64 `json:"offline_bytes,omitempty"`
}

// piEstimate is the cost-model latency of one image on a network.
type piEstimate struct {
	Network string  `json:"network"`
	Gbps    float64 `json:"gbit_s"`
	RTTms   float64 `json:"rtt_ms"`
	Ms      float64 `json:"latency_ms"`
	// OfflineMs is the time to move the dealer material of one image to
	// both parties over the same link.
	OfflineMs float64 `json:"offline_ms"`
}

// piReport is the JSON output of `autorep bench pi`.
type piReport struct {
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
	// OfflineInlineBytes and OfflineInlineRounds are the twoparty suite's
	// input-independent traffic made during the online phase (bit
	// triples; part of OfflineBytes), per image.
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
	// twoparty suite's inline offline work is inside the online latency).
	OfflineMs float64 `json:"offline_ms"`
	// CPUPerImage is the process CPU time (user + system, getrusage) of
	// the secure inferences per image: dealer, server and client together,
	// offline and online phases, without the plaintext checks.
	CPUPerImage float64 `json:"cpu_s_per_image"`
	// PeakRSSMiB is the peak resident set size of this process
	// (getrusage Maxrss) at the end of the run, in MiB: server, client
	// and the dealer suite's dealer all run in it, so it bounds no single
	// party's memory; the --cost-out runs are included.
	PeakRSSMiB float64      `json:"peak_rss_mib"`
	Estimates  []piEstimate `json:"estimates"`
	Layers     []piLayer    `json:"layers"`
	// SiteCosts is set with --cost-out.
	SiteCosts []siteCost `json:"site_costs,omitempty"`
}

func runBenchPI(args []string) error {
	fs := newFlags("bench pi", "--model FILE --dataset D --n N [flags]",
		"Runs N test images through plaintext (float and fixed-point) and secure inference\n"+
			"(server and client in this process, in-process dealer) one image at a time and reports\n"+
			"label agreement with the fixed-point executor, the logit error against the float model,\n"+
			"online bytes and rounds, dealer material, latency percentiles, a per-layer breakdown and\n"+
			"the DESIGN §2.4 cost model (rounds x RTT + bytes / bandwidth + measured online time)\n"+
			"for LAN (3 Gbit/s, 0.3 ms) and WAN (400 Mbit/s, 40 ms). --model may also name an\n"+
			"architecture (random weights, for cost figures).\n\n"+
			"--suite twoparty runs the dealer-free suite instead (HE linear layers, OT gates; no dealer).\n\n"+
			"--cost-out FILE (all-ReLU models, either suite) runs the same images again with every\n"+
			"ReLU replaced by a polynomial of degree 1, then of degree 2, then all ReLU once more\n"+
			"(the all-ReLU CPU is the mean of its two runs), and writes each site's\n"+
			"measured saving per replaced ReLU for each degree (CPU time saved, both parties, plus\n"+
			"the bytes saved, offline + online without setup, as microseconds on the LAN link) for\n"+
			"'autorep reduce --cost'.\n\n"+
			"peak_rss_mib is the process's peak resident set size (getrusage): server, client and,\n"+
			"for the dealer suite, the dealer all run in this one process.")
	path := fs.String("model", "", "model file (.safetensors) or architecture name (random weights; required)")
	dataset := fs.String("dataset", "", "dataset (default: the one recorded in the model file)")
	dataDir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	n := fs.Int("n", 10, "number of test images (a fixed random subset, seed 1, unless all)")
	skip := fs.Int("skip", 0, "skip the first K images of the fixed subset (run images K..K+n-1 of a run of K+n: a long run in resumable chunks)")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object on stdout")
	trans := fs.String("transport", "pipe", "pipe (in memory) or tcp (loopback)")
	suite := fs.String("suite", pi.SuiteDealer, "protocol suite: dealer or twoparty (no dealer)")
	frac := fs.Uint("frac", 0, "fractional bits (0: 16, or 12 for the twoparty suite's HE polynomials, as serve)")
	ell := fs.Int("ell", 64, "bit width of the FSS gate inputs (dealer suite) or of the shares, Z_2^ell (twoparty suite)")
	costOut := fs.String("cost-out", "", "also measure every site with polynomials of degree 1 and 2 instead of ReLUs and write the per-site saving per replaced ReLU to this JSON file (for reduce --cost; all-ReLU models)")
	lazy := fs.Bool("lazy", false, "fetch dealer material layer by layer during the online phase (bounded memory; the in-process dealer may then generate items twice)")
	truncMode := fs.String("trunc", "", "twoparty suite's truncations: faithful (the default: polynomials by HE, one-unit errors) or exact (narrow polynomial form by OT, logits equal the fixed-point executor's)")
	pBits := fs.Int("pbits", 0, "twoparty suite, faithful: bit width of the HE prime of the polynomials, at most 50 (default 3·frac+10: frac ≤ 13)")
	output := fs.String("output", "logits", "what the client learns: logits, label (secure argmax) or topk:K (the K best labels in order)")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the whole run to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *path == "" {
		return errors.New("--model is required")
	}
	if *n <= 0 {
		return errors.New("--n must be positive")
	}
	if *trans != "pipe" && *trans != "tcp" {
		return fmt.Errorf("--transport %q: want pipe or tcp", *trans)
	}
	if err := pi.ValidSuite(*suite); err != nil {
		return fmt.Errorf("--suite: %w", err)
	}
	poly, tm, err := pi.SuiteForms(*suite, *truncMode)
	if err != nil {
		return fmt.Errorf("--trunc: %w", err)
	}
	topK, err := pi.ParseOutput(*output)
	if err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	if topK > 0 && *costOut != "" {
		return errors.New("--cost-out measures the logits output only")
	}
	if *suite == pi.SuiteTwoParty && *lazy {
		return errors.New("--lazy applies to the dealer suite's material; the twoparty suite has none")
	}
	m, random, err := piLoadOrBuild(*path, *dataset, *dataDir)
	if err != nil {
		return err
	}
	name, err := datasetOf(*dataset, *path, m)
	if err != nil {
		return err
	}
	set, err := data.Load(data.Dir(*dataDir), name, false)
	if err != nil {
		return err
	}
	if in := [3]int{set.C, set.H, set.W}; in != m.Input || set.Classes != m.Classes {
		return fmt.Errorf("model takes %v inputs and %d classes, %s has %v and %d", m.Input, m.Classes, name, in, set.Classes)
	}
	if set, err = piSubset(set, *skip, *n); err != nil {
		return err
	}
	total := min(*n, set.N)
	if *costOut != "" {
		if err := allReLU(m); err != nil {
			return err
		}
	}
	cfg := pi.Config{FracBits: *frac, Ell: *ell, Poly: poly, Trunc: tm, PBits: *pBits}
	plan, err := pi.Compile(m, cfg)
	if err != nil {
		return err
	}
	plan.Public.TopK = topK
	if err := plan.Public.Validate(); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	rep := &piReport{Model: *path, Suite: *suite, Arch: m.Arch, RandomWeights: random, Dataset: name, N: total, Skip: *skip, Transport: *trans,
		Frac: plan.Public.Frac, Ell: plan.Public.Ell, Lazy: *lazy, Trunc: plan.Public.Trunc, PBits: plan.Public.PBits}
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
			return fmt.Errorf("%s: reduction record: %w", *path, err)
		}
		rep.Method, rep.Degree = rec.Method, rec.Degree
	}
	if err := benchPI(plan, m, set, total, *trans, *lazy, rep); err != nil {
		return err
	}
	if *costOut != "" {
		cf, err := measureSiteCosts(m, cfg, set, total, *trans, *lazy, rep)
		if err != nil {
			return err
		}
		if err := writeCostFile(*costOut, cf); err != nil {
			return err
		}
		rep.SiteCosts = cf.Sites
	}
	rep.PeakRSSMiB = float64(cputime.PeakRSS()) / (1 << 20)
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printPIReport(rep)
	return nil
}

// piSubset returns images skip..skip+n−1 of bench pi's fixed subset of
// set: a seeded sample of skip+n images, whose first images do not depend
// on its size (data.Set.Sample), or the whole set in order when skip+n
// covers it.
func piSubset(set *data.Set, skip, n int) (*data.Set, error) {
	if skip < 0 || skip >= set.N {
		return nil, fmt.Errorf("--skip %d: %s has %d test images", skip, set.Name, set.N)
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

// piLoadOrBuild loads a model file, or builds an architecture with random
// weights (batch norm in evaluation mode) for the dataset's shape.
func piLoadOrBuild(path, dataset, dataDir string) (*models.Model, bool, error) {
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
	m, err := models.New(path, info.Classes, info.Shape())
	if err != nil {
		return nil, false, err
	}
	m.Meta.Dataset = dataset
	m.SetTraining(false)
	return m, true, nil
}

// benchPI serves the plan to a client over the chosen transport and runs
// the images one by one, with the suite rep.Suite ("": the dealer suite,
// with an in-process dealer).
func benchPI(plan *pi.Plan, m *models.Model, set *data.Set, n int, trans string, lazy bool, rep *piReport) error {
	if rep.Suite == "" {
		rep.Suite = pi.SuiteDealer
	}
	var p0, p1 mpc.Provider
	if rep.Suite == pi.SuiteDealer {
		dealer, err := mpc.NewRandomDealer()
		if err != nil {
			return err
		}
		p0, p1 = mpc.LocalProviders(dealer)
	}
	c0, c1, err := piConns(trans)
	if err != nil {
		return err
	}
	defer c0.Close()
	defer c1.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var serverStats []pi.Stats
	srv := &pi.Server{Plan: plan, Provider: p0, Suite: rep.Suite, Lazy: lazy, OnInference: func(s pi.Stats) {
		mu.Lock()
		serverStats = append(serverStats, s)
		mu.Unlock()
	}}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, c0) }()
	cl := &pi.Client{Public: plan.Public, Provider: p1, Suite: rep.Suite, Lazy: lazy}
	if err := cl.Connect(ctx, c1); err != nil {
		return piServerErr(err, done)
	}
	rep.SetupBytes, rep.SetupMaterial, rep.SetupMs = cl.Setup.Offline.Bytes(), cl.Setup.Material, piMs(cl.Setup.Time)
	bar := progress.New(os.Stderr, "bench pi", n, "img")
	var lat, off []float64
	var layers []piLayer
	agree, secOK, fltOK := 0, 0, 0
	for i := 0; i < n; i++ {
		x := set.Normalized(i)
		cpu0 := cputime.Seconds()
		y, st, err := cl.Infer(ctx, c1, x)
		if err != nil {
			return piServerErr(err, done)
		}
		rep.CPUPerImage += (cputime.Seconds() - cpu0) / float64(n)
		fx, err := plan.EvalFixed(x)
		if err != nil {
			return err
		}
		if rep.Suite == pi.SuiteTwoParty {
			e, err := plan.MinEll(x)
			if err != nil {
				return fmt.Errorf("image %d: %w", i, err)
			}
			rep.MinEll = max(rep.MinEll, e)
		}
		fl, err := pi.ReferenceLogits(m, x)
		if err != nil {
			return err
		}
		ls, lf, lfl := piArgmax(y.Data), piArgmax(fx.Data), piArgmax(fl.Data)
		if plan.Public.TopK > 0 { // the client got labels, best first, no logits
			ls = int(y.Data[0])
		}
		if ls == lf {
			agree++
		}
		if int32(ls) == set.Labels[i] {
			secOK++
		}
		if int32(lfl) == set.Labels[i] {
			fltOK++
		}
		dl, dx := tensor.MaxAbsDiff(y, fl), tensor.MaxAbsDiff(y, fx)
		if plan.Public.TopK > 0 {
			dl, dx = 0, 0 // no logits to compare
		}
		if math.IsInf(dl, 1) || math.IsInf(dx, 1) {
			// A shape mismatch or a NaN/Inf logit, not an error to average away.
			return fmt.Errorf("image %d: secure logits %v %v are not comparable with the float %v and fixed-point %v references (max |diff| %g, %g)",
				i, y, y.Data, fl, fx, dl, dx)
		}
		rep.MaxLogitErr = math.Max(rep.MaxLogitErr, dl)
		rep.MaxFixedErr = math.Max(rep.MaxFixedErr, dx)
		lat = append(lat, piMs(st.OnlineTime))
		off = append(off, piMs(st.OfflineTime))
		rep.OfflineMs += piMs(st.OfflineTime) / float64(n)
		if i == 0 {
			rep.OnlineBytes, rep.OnlineRounds = st.Online.Bytes(), st.Online.Rounds
			rep.ClientMaterial, rep.RequestMsgs = st.Material, st.OfflineMsgs.Bytes()
			rep.OfflineInlineBytes, rep.OfflineInlineRounds = st.OfflineInline.Bytes(), st.OfflineInline.Rounds
			for _, l := range st.Layers {
				layers = append(layers, piLayer{Name: l.Name, Op: string(l.Op), ReLUs: l.ReLUs, Bytes: l.Bytes, Rounds: l.Rounds, OfflineBytes: l.OfflineBytes})
			}
		} else if st.Online.Bytes() != rep.OnlineBytes {
			return fmt.Errorf("image %d: %d online bytes, image 0 had %d", i, st.Online.Bytes(), rep.OnlineBytes)
		}
		for k := range layers {
			if k < len(st.Layers) {
				layers[k].Ms += piMs(st.Layers[k].Time) / float64(n)
			}
		}
		bar.Set(i+1, fmt.Sprintf("agree %d/%d, p50 %.0f ms", agree, i+1, piPercentile(lat, 0.5)))
	}
	bar.Finish("")
	if err := cl.Close(); err != nil {
		return err
	}
	if err := <-done; err != nil {
		return fmt.Errorf("server: %w", err)
	}
	mu.Lock()
	if len(serverStats) > 0 {
		rep.ServerMaterial = serverStats[0].Material
	}
	mu.Unlock()
	rep.Layers = layers
	rep.Agree = float64(agree) / float64(n)
	rep.SecureAcc = float64(secOK) / float64(n)
	rep.FloatAcc = float64(fltOK) / float64(n)
	rep.OfflineBytes = rep.ServerMaterial + rep.ClientMaterial + rep.RequestMsgs + rep.OfflineInlineBytes
	rep.TotalBytes = rep.SetupBytes + rep.SetupMaterial + rep.OfflineBytes + rep.OnlineBytes
	rep.TotalBytesAmortized = (rep.SetupBytes+rep.SetupMaterial)/int64(n) + rep.OfflineBytes + rep.OnlineBytes
	if rep.ReLUs > 0 {
		rep.BytesPerReLU = float64(rep.OnlineBytes) / float64(rep.ReLUs)
	}
	rep.P50, rep.P90 = piPercentile(lat, 0.5), piPercentile(lat, 0.9)
	for _, v := range lat {
		rep.Mean += v / float64(len(lat))
	}
	rep.OfflineP50 = piPercentile(off, 0.5)
	for _, nm := range costNets {
		bps := nm.Gbps * 1e9 / 8 // bytes per second
		// The twoparty suite's inline offline traffic and rounds are on
		// the online phase's critical path (zero for the dealer suite).
		rounds, bytes := rep.OnlineRounds+rep.OfflineInlineRounds, rep.OnlineBytes+rep.OfflineInlineBytes
		rep.Estimates = append(rep.Estimates, piEstimate{Network: nm.Name, Gbps: nm.Gbps, RTTms: nm.RTT,
			Ms:        float64(rounds)*nm.RTT + float64(bytes)/bps*1e3 + rep.P50,
			OfflineMs: float64(rep.ServerMaterial+rep.ClientMaterial) / bps * 1e3})
	}
	return nil
}

func piServerErr(err error, done chan error) error {
	select {
	case serr := <-done:
		if serr != nil {
			return fmt.Errorf("%w (server: %v)", err, serr)
		}
	case <-time.After(time.Second):
	}
	return err
}

// piBenchConns returns the server's and the client's connection.
func piConns(trans string) (transport.Conn, transport.Conn, error) {
	if trans == "pipe" {
		a, b := transport.Pipe()
		return a, b, nil
	}
	l, err := transport.Listen("127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type acc struct {
		c   transport.Conn
		err error
	}
	ch := make(chan acc, 1)
	go func() {
		c, err := l.Accept(ctx)
		ch <- acc{c, err}
	}()
	c1, err := transport.Dial(ctx, l.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	a := <-ch
	if a.err != nil {
		c1.Close()
		return nil, nil, a.err
	}
	return a.c, c1, nil
}

// startCPUProfile starts a Go CPU profile written to path; stop ends it
// and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "autorep: --cpuprofile %s: %v\n", path, err)
		}
	}, nil
}

func piMs(d time.Duration) float64 { return float64(d) / 1e6 }

func piArgmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// piPercentile returns the q-quantile (nearest rank) of v.
func piPercentile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// printPIReport prints the human-readable report on stderr.
func printPIReport(r *piReport) {
	w := os.Stderr
	kind := ""
	if r.RandomWeights {
		kind = " (random weights)"
	}
	skipped := ""
	if r.Skip > 0 {
		skipped = fmt.Sprintf(" (after the first %d of the subset)", r.Skip)
	}
	fmt.Fprintf(w, "private inference (%s suite): %s%s on %s, %d images%s, %s transport, f=%d, ell=%d\n", r.Suite, r.Arch, kind, r.Dataset, r.N, skipped, r.Transport, r.Frac, r.Ell)
	fmt.Fprintf(w, "  ReLUs %d (+ %d max-pool comparisons)\n", r.ReLUs, r.Comparisons)
	fmt.Fprintf(w, "  agree with fixed point %.2f%%   secure accuracy %.2f%%   float accuracy %.2f%%\n", 100*r.Agree, 100*r.SecureAcc, 100*r.FloatAcc)
	fmt.Fprintf(w, "  max |logit − float| %.3g   max |logit − fixed| %.3g\n", r.MaxLogitErr, r.MaxFixedErr)
	fmt.Fprintf(w, "  online  %s, %d rounds, %.1f B/ReLU\n", piHumanBytes(r.OnlineBytes), r.OnlineRounds, r.BytesPerReLU)
	fmt.Fprintf(w, "  offline %s per image (dealer material server %s, client %s; messages %s; inline %s, %d rounds); setup %s once\n",
		piHumanBytes(r.OfflineBytes), piHumanBytes(r.ServerMaterial), piHumanBytes(r.ClientMaterial), piHumanBytes(r.RequestMsgs),
		piHumanBytes(r.OfflineInlineBytes), r.OfflineInlineRounds, piHumanBytes(r.SetupBytes))
	fmt.Fprintf(w, "  total %s for one image in a session of its own (setup + offline + online, both directions); %s per image in this session of %d (setup/%d + offline + online)\n",
		piHumanBytes(r.TotalBytes), piHumanBytes(r.TotalBytesAmortized), r.N, r.N)
	if r.MinEll > 0 {
		note := ""
		if r.MinEll > 64 {
			note = ": more than 64, so no ell guarantees exact logits on them"
		}
		fmt.Fprintf(w, "  these images need ell >= %d to be guaranteed exact (pi.Plan.MinEll)%s\n", r.MinEll, note)
	}
	fmt.Fprintf(w, "  latency p50 %.1f ms  p90 %.1f ms  mean %.1f ms (online, measured); offline p50 %.1f ms\n", r.P50, r.P90, r.Mean, r.OfflineP50)
	fmt.Fprintf(w, "  CPU %.3f s per image (dealer, server and client, offline + online; process user + system time); peak RSS %.0f MiB (all parties, one process)\n", r.CPUPerImage, r.PeakRSSMiB)
	for _, e := range r.Estimates {
		fmt.Fprintf(w, "  cost model %-3s (%.1f Gbit/s, %.1f ms RTT): %.1f ms online, %.1f ms to ship the dealer material\n", strings.ToUpper(e.Network), e.Gbps, e.RTTms, e.Ms, e.OfflineMs)
	}
	fmt.Fprintf(w, "\n  %-28s %-9s %9s %12s %6s %9s %12s\n", "layer", "op", "ReLUs", "bytes", "rounds", "ms", "inline off.")
	for _, l := range r.Layers {
		fmt.Fprintf(w, "  %-28s %-9s %9d %12d %6d %9.2f %12d\n", l.Name, l.Op, l.ReLUs, l.Bytes, l.Rounds, l.Ms, l.OfflineBytes)
	}
	if len(r.SiteCosts) > 0 {
		fmt.Fprintf(w, "\n  saving per replaced ReLU (µs: CPU + bytes on the LAN link saved by a polynomial of the degree; step ms recorded, not counted)\n")
		fmt.Fprintf(w, "  %-28s %9s %3s %9s %9s %11s %11s %9s %9s %9s\n", "site", "ReLUs", "deg", "relu ms", "poly ms", "relu B", "poly B", "cpu", "bytes", "cost")
		for _, c := range r.SiteCosts {
			for _, d := range c.Degrees {
				fmt.Fprintf(w, "  %-28s %9d %3d %9.2f %9.2f %11d %11d %9.3f %9.3f %9.3f\n", c.Site, c.ReLUs, d.Degree, c.ReLUMs, d.PolyMs, c.ReLUBytes, d.PolyBytes, d.CPUUs, d.BytesUs, d.Cost)
			}
		}
	}
}

func piHumanBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
