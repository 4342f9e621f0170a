// Package demo is the library side of `autorep demo`, the whole path on
// MNIST: the training and AutoReP runs (Train, Reduce), the twoparty share
// width (Ell), one model's private inference in one suite against a
// running server with its plaintext reference and byte accounting (Run),
// and the summary (Table, Headline, WriteJSON). Starting the dealer and
// servers as child processes is the command's job.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/internal/progress"
	"github.com/autorep/autorep/internal/stat"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/reduce"
	"github.com/autorep/autorep/serve"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/train"
	"github.com/autorep/autorep/transport"
)

// Row is the report of one model served in one suite in the demo (a row
// of the table and of the JSON summary).
type Row struct {
	Suite       string  `json:"suite"`
	Name        string  `json:"name"`
	File        string  `json:"file"`
	ReLUs       int     `json:"relus"`
	PlainAcc    float64 `json:"plaintext_accuracy"` // fraction
	PrivateAcc  float64 `json:"private_accuracy"`   // fraction
	Agree       float64 `json:"label_agreement"`    // fraction of private labels equal to the plaintext ones
	Images      int     `json:"images"`
	Ell         int     `json:"ell"` // FSS gate input width (dealer) or share width (twoparty)
	OnlineMS    float64 `json:"online_ms_per_inference"`
	OfflineMS   float64 `json:"offline_ms_per_inference"`
	OnlineBytes int64   `json:"online_bytes_per_inference"`
	Rounds      int64   `json:"rounds_per_inference"`
	Material    int64   `json:"material_bytes_per_inference"` // the client's dealer material
	// ServerMaterial is the server's dealer material per inference (sized
	// from the dealer's generation of the plan's requests, since the
	// client cannot see what the server receives).
	ServerMaterial int64 `json:"server_material_bytes_per_inference"`
	// OfflineBytes is the input-independent traffic per inference, both
	// directions: dealer material of both parties and the request
	// messages (dealer suite), or bit triples and other traffic made
	// before or beside the online phase (twoparty suite).
	OfflineBytes int64 `json:"offline_bytes_per_inference"`
	// SetupBytes is the session opening, once per session: both
	// directions to the server (hello, plan, masked weights or HE keys and
	// base OTs) plus the setup dealer material.
	SetupBytes int64 `json:"setup_bytes"`
	// TotalBytes is setup + offline + online: one image in a session of
	// its own, as `bench pi`'s total_bytes.
	TotalBytes   int64   `json:"total_bytes_per_inference"`
	ConnectMS    float64 `json:"session_open_ms"`
	ConnectBytes int64   `json:"session_open_bytes"`
	WallSeconds  float64 `json:"wall_seconds"`
}

// CalibImages is the number of test images the twoparty share width
// is fitted on (pi.Plan.MinEll; the demo then adds one bit of margin).
const CalibImages = 1000

// Ell returns pi.Plan.MinEll of the model file on the first n images
// of test: the smallest twoparty share width exact on all of them.
func Ell(file string, test *data.Set, n int) (int, error) {
	m, err := models.Load(file)
	if err != nil {
		return 0, err
	}
	cfg, err := pi.Config{}.ForSuite(pi.SuiteTwoParty, "")
	if err != nil {
		return 0, err
	}
	plan, err := pi.Compile(m, cfg)
	if err != nil {
		return 0, err
	}
	need := 0
	const chunk = 250 // bounds the executor's memory
	for i := 0; i < n; i += chunk {
		e, err := plan.MinEll(test.NormalizedRange(i, min(i+chunk, n)))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", file, err)
		}
		need = max(need, e)
	}
	return need, nil
}

// Table prints the summary table, one row per suite and model.
func Table(w io.Writer, reports []Row) {
	fmt.Fprintf(w, "%-8s %-22s %6s %6s %8s %8s %7s %4s %10s %10s %10s %10s %6s %10s %10s\n", "suite", "model", "ReLUs", "images", "plain", "private",
		"agree", "ell", "setup B", "offline B", "online B", "total B", "rounds", "online ms", "offline ms")
	for _, r := range reports {
		fmt.Fprintf(w, "%-8s %-22s %6d %6d %7.2f%% %7.2f%% %6.2f%% %4d %10d %10d %10d %10d %6d %10.1f %10.1f\n", r.Suite, r.Name, r.ReLUs, r.Images,
			100*r.PlainAcc, 100*r.PrivateAcc, 100*r.Agree, r.Ell, r.SetupBytes, r.OfflineBytes, r.OnlineBytes, r.TotalBytes, r.Rounds, r.OnlineMS, r.OfflineMS)
	}
	fmt.Fprintln(w, "Bytes both directions. setup: opening a session, once (to the server, and the setup dealer material); per inference:\n"+
		"offline = dealer material of both parties and request messages (dealer), input-independent traffic (twoparty);\n"+
		"online = input to logits; total = setup + offline + online (one image in a session of its own, as bench pi's\n"+
		"total_bytes). agree = private labels equal to the plaintext model's. online ms: what a user waits for once the\n"+
		"session is open; offline ms: material left to fetch plus waiting for the server (dealer), the input-independent\n"+
		"phase run after each request, before its online phase (twoparty). A reduction removes ReLU comparisons only:\n"+
		"max-pool comparisons, linear layers (homomorphic encryption in the twoparty suite) and the session setup stay.\n"+
		"In the twoparty suite a degree-2 polynomial position has HE work of its own; a degree-1 one is folded into the\n"+
		"linear layer before it.")
}

// Headline says, from the measured rows, what each reduction buys in
// each suite: every reduced model's total bytes and online time against
// the all-ReLU model's in the same suite (the suite's first row, which
// must have more ReLUs).
func Headline(reports []Row) []string {
	var out []string
	for i, b := range reports {
		j := slices.IndexFunc(reports, func(r Row) bool { return r.Suite == b.Suite })
		a := reports[j]
		if j == i || a.ReLUs <= b.ReLUs || a.TotalBytes <= 0 || b.TotalBytes <= 0 || a.OnlineMS <= 0 || b.OnlineMS <= 0 {
			continue
		}
		out = append(out, fmt.Sprintf("%s suite: %s (%d of %d ReLUs) %s and %s per image than %s, online %d vs %d B, %d vs %d rounds.",
			a.Suite, b.Name, b.ReLUs, a.ReLUs, factor(float64(a.TotalBytes), float64(b.TotalBytes), "fewer total bytes", "more total bytes"),
			factor(a.OnlineMS, b.OnlineMS, "faster online", "slower online"), a.Name, b.OnlineBytes, a.OnlineBytes, b.Rounds, a.Rounds))
	}
	return out
}

// factor words the ratio of an all-ReLU figure a to a reduced one b:
// "×2.31 fewer total bytes" when b is smaller, "×1.50 more total bytes"
// when larger.
func factor(a, b float64, less, more string) string {
	if b <= a {
		return fmt.Sprintf("×%.2f %s", a/b, less)
	}
	return fmt.Sprintf("×%.2f %s", b/a, more)
}

// WriteJSON writes the `demo --json` summary: images per suite, every row (one
// per suite and model) and the demo's wall time.
func WriteJSON(w io.Writer, n, n2 int, reports []Row, seconds float64) error {
	return json.NewEncoder(w).Encode(map[string]any{"images": n, "twoparty_images": n2, "models": reports,
		"headline": Headline(reports), "seconds": seconds})
}

// Train is the demo's training run, what `autorep train --model lenet
// --dataset mnist --data DIR --epochs N --checkpoint-every 0 --out OUT`
// runs (progress and log on stderr; checkpoints at epoch ends only: the
// demo's epochs last seconds and it never resumes).
func Train(dir string, epochs int, out string) train.Scratch {
	s := train.NewScratch("lenet", "mnist", epochs, out)
	s.DataDir, s.Progress, s.Log = dir, os.Stderr, os.Stderr
	s.Command = fmt.Sprintf("autorep train --model lenet --dataset mnist --data %s --epochs %d --checkpoint-every 0 --out %s", dir, epochs, out)
	return s
}

// Reduce is the demo's AutoReP run, what `autorep reduce --model BASE
// --method autorep --budget B --degree D --epochs N --lr LR
// --checkpoint-every 0 --data DIR --out OUT` runs (progress and log on
// stderr; checkpoints at epoch ends only, as Train).
func Reduce(dir, base, budget string, degree, epochs int, lr float64, out string) reduce.FileRun {
	return reduce.FileRun{Model: base, Out: out, Budget: budget, DataDir: dir,
		Command: fmt.Sprintf("autorep reduce --model %s --method autorep --budget %s --degree %d --epochs %d --lr %s --checkpoint-every 0 --data %s --out %s",
			base, budget, degree, epochs, strconv.FormatFloat(lr, 'g', -1, 64), dir, out),
		Config: reduce.Config{Method: reduce.MethodAutoReP, Degree: degree, Epochs: epochs, LR: lr, Seed: 1, Progress: os.Stderr, Log: os.Stderr}}
}

// Target is one private-inference run of the demo: the model file File
// (named Name in the table) served in Suite at Addr, the first N test
// images; Progress, if set, shows a progress bar.
type Target struct {
	Name, Suite, File, Addr string
	N                       int
	Progress                io.Writer
}

// Run classifies the first t.N test images privately against the server
// at t.Addr, in t.Suite, and in the clear with the same model file, and
// returns the row: accuracies, label agreement and the per-inference
// costs. In the dealer suite the client's material must equal what
// pi.DealerMaterial sizes from the plan (a cross-check of the byte
// accounting), and the server's material is sized the same way.
func Run(ctx context.Context, t Target, sec secnet.Config, test *data.Set) (*Row, error) {
	n, name := t.N, t.Name
	m, err := models.Load(t.File)
	if err != nil {
		return nil, err
	}
	_, relus := m.ReLUCount()
	plain, err := pi.ReferenceLogits(m, test.NormalizedRange(0, n))
	if err != nil {
		return nil, err
	}
	classes := plain.Shape[1]
	r := &Row{Suite: t.Suite, Name: name, File: t.File, ReLUs: relus, Images: n}
	opts := transport.DefaultOptions()
	opts.ReadTimeout, opts.WriteTimeout = 2*time.Minute, 2*time.Minute
	t0 := time.Now()
	cfg := serve.ClientConfig{Server: t.Addr, Suite: t.Suite,
		Dial: func(ctx context.Context, a string) (transport.Conn, error) { return secnet.Dial(ctx, a, sec, opts) }}
	if t.Suite == pi.SuiteDealer {
		// The demo started the dealer itself: the dealer the server
		// advertises is the demo's own.
		cfg.Pool, cfg.TrustServerDealer = 4, true
	}
	sess, err := serve.Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	r.Ell = sess.Public.Ell
	r.ConnectMS, r.ConnectBytes = serve.Millis(sess.Connect.Time), sess.Connect.Bytes
	var setupMat, clientMat int64
	if t.Suite == pi.SuiteDealer {
		if setupMat, r.ServerMaterial, clientMat, err = pi.DealerMaterial(sess.Public); err != nil {
			return nil, err
		}
	}
	bar := progress.New(t.Progress, name, n, "img")
	status := func(done int, t *serve.Tally) string {
		return fmt.Sprintf("private accuracy %.2f%% online %.1f ms/inference", 100*float64(t.Correct)/float64(done), serve.Sum(t.OnlineMS)/float64(done))
	}
	tot, err := serve.Classify(ctx, sess, n, test.Normalized, func(i int) int { return int(test.Labels[i]) },
		func(i int) int { return stat.Argmax(plain.Data[i*classes : (i+1)*classes]) },
		func(done int, t *serve.Tally) { bar.Set(done, status(done, t)) })
	if err != nil {
		return nil, fmt.Errorf("%s (%s suite): %w", name, t.Suite, err)
	}
	bar.Finish(status(n, tot))
	f, in := float64(n), int64(n)
	r.PlainAcc, r.PrivateAcc, r.Agree = float64(tot.RefCorrect)/f, float64(tot.Correct)/f, float64(tot.Agree)/f
	r.OnlineMS, r.OfflineMS = serve.Sum(tot.OnlineMS)/f, serve.Sum(tot.OfflineMS)/f
	r.OnlineBytes, r.Rounds, r.Material = tot.OnlineBytes/in, tot.Rounds/in, tot.Material/in
	r.OfflineBytes = tot.OfflineMsgBytes + tot.OfflineInlineBytes
	if r.Material != clientMat {
		// The client's own count cross-checks the generated sizes.
		return nil, fmt.Errorf("%s: client material %d B per inference, the dealer generates %d B", name, r.Material, clientMat)
	}
	r.OfflineBytes = r.OfflineBytes/in + r.ServerMaterial + r.Material
	r.SetupBytes = r.ConnectBytes + setupMat
	r.TotalBytes = r.SetupBytes + r.OfflineBytes + r.OnlineBytes
	r.WallSeconds = time.Since(t0).Seconds()
	return r, nil
}

// ParseDegrees parses the demo's --degrees: distinct polynomial degrees
// reduce supports (1, 2 or 3), comma-separated, at least one.
func ParseDegrees(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || d < 1 || d > 3 {
			return nil, fmt.Errorf("--degrees %q: want degrees 1, 2 or 3, comma-separated", s)
		}
		if slices.Contains(out, d) {
			return nil, fmt.Errorf("--degrees %q: degree %d twice", s, d)
		}
		out = append(out, d)
	}
	return out, nil
}

// Files returns the demo's model files in workdir and their rows' names:
// the all-ReLU LeNet, then one AutoReP model per degree.
func Files(workdir, budget string, degrees []int) (files, names []string) {
	files = []string{filepath.Join(workdir, "lenet-mnist.safetensors")}
	names = []string{"LeNet (all ReLU)"}
	for _, d := range degrees {
		files = append(files, filepath.Join(workdir, fmt.Sprintf("lenet-mnist-autorep-deg%d.safetensors", d)))
		names = append(names, fmt.Sprintf("LeNet AutoReP %s deg%d", budget, d))
	}
	return files, names
}

// Ells returns each model's twoparty share width: Ell on the first calib
// test images plus one bit, at most 64, each logged on w.
func Ells(files, names []string, test *data.Set, calib int, w io.Writer) ([]int, error) {
	ells := make([]int, len(files))
	for i, f := range files {
		need, err := Ell(f, test, calib)
		if err != nil {
			return nil, err
		}
		ells[i] = min(need+1, 64)
		fmt.Fprintf(w, "%s: MinEll %d, serving at ell %d\n", names[i], need, ells[i])
	}
	return ells, nil
}
