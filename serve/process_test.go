package serve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/autorep/autorep/data"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// autorepBinary builds cmd/autorep once.
func autorepBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the test that builds and runs the autorep binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "autorep-serve-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "autorep")
		cmd := exec.Command("go", "build", "-o", binPath, "../cmd/autorep")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ../cmd/autorep: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

// proc is a child process waiting to print "listening on ADDR".
type proc struct {
	cmd  *exec.Cmd
	addr string
	log  *bytes.Buffer
	mu   sync.Mutex
	done chan error
}

func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: &bytes.Buffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			if i := strings.Index(line, "listening on "); i >= 0 {
				select {
				case addr <- strings.TrimSuffix(strings.Fields(line[i+13:])[0], ","):
				default:
				}
			}
		}
		io.Copy(io.Discard, pipe)
		p.done <- cmd.Wait()
	}()
	select {
	case p.addr = <-addr:
	case err := <-p.done:
		t.Fatalf("%v exited: %v\n%s", args, err, p.logs())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%v did not start", args)
	}
	return p
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// term sends SIGTERM and expects a clean exit.
func (p *proc) term(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("%v: exit after SIGTERM: %v\n%s", p.cmd.Args[1], err, p.logs())
		}
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		t.Errorf("%v ignored SIGTERM", p.cmd.Args[1])
	}
}

// TestProcesses runs dealer, server and client as three OS processes over
// TLS on loopback and classifies a PNG file.
func TestProcesses(t *testing.T) {
	bin := autorepBinary(t)
	plan := loadPlan(t)
	dir := t.TempDir()
	// Dealer and server have keys of their own: a certificate the server
	// holds must not vouch for the dealer the client trusts.
	gen := func(name string) (cert, key string) {
		if out, err := exec.Command(bin, "dealer", "--gen-cert", filepath.Join(dir, name), "--hosts", "127.0.0.1").CombinedOutput(); err != nil {
			t.Fatalf("dealer --gen-cert: %v\n%s", err, out)
		}
		return filepath.Join(dir, name, "cert.pem"), filepath.Join(dir, name, "key.pem")
	}
	dcert, dkey := gen("dealer")
	cert, key := gen("server")
	d := startProc(t, bin, "dealer", "--listen", "127.0.0.1:0", "--tls-cert", dcert, "--tls-key", dkey)
	s := startProc(t, bin, "serve", "--model", testModel, "--listen", "127.0.0.1:0", "--dealer", d.addr, "--pool", "1",
		"--tls-cert", cert, "--tls-key", key, "--tls-ca", dcert)

	// A 28×28 grey PNG.
	img := image.NewGray(image.Rect(0, 0, 28, 28))
	for y := 0; y < 28; y++ {
		for x := 0; x < 28; x++ {
			if (x-14)*(x-14)+(y-14)*(y-14) < 50 && (x-14)*(x-14)+(y-14)*(y-14) > 20 {
				img.SetGray(x, y, color.Gray{Y: 255})
			}
		}
	}
	pngPath := filepath.Join(dir, "digit.png")
	f, err := os.Create(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()

	out, err := exec.Command(bin, "infer", "--server", s.addr, "--tls-ca", cert, "--dealer", d.addr, "--dealer-ca", dcert, "--image", pngPath, "--json").Output()
	if err != nil {
		t.Fatalf("infer: %v\n%s", err, errText(err))
	}
	var rep struct {
		Label     int       `json:"label"`
		Logits    []float32 `json:"logits"`
		LatencyMS struct {
			Online, Offline float64
		} `json:"latency_ms"`
		Bytes struct {
			Online, Material int64
		} `json:"bytes"`
		Rounds int64 `json:"rounds"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("infer --json output %q: %v", out, err)
	}
	pix, err := data.ReadImage(pngPath, plan.Public.Input)
	if err != nil {
		t.Fatal(err)
	}
	x, err := data.NormalizePixels(pix, plan.Public.Input, plan.Public.Mean, plan.Public.Std)
	if err != nil {
		t.Fatal(err)
	}
	if want := fixedLabel(t, plan, x); rep.Label != want || len(rep.Logits) != plan.Public.Classes {
		t.Errorf("infer: label %d with %d logits, want %d with %d", rep.Label, len(rep.Logits), want, plan.Public.Classes)
	}
	if rep.LatencyMS.Online <= 0 || rep.Bytes.Online <= 0 || rep.Rounds <= 0 || rep.Bytes.Material <= 0 {
		t.Errorf("infer report lacks costs: %s", out)
	}
	t.Logf("infer: %s", out)

	// A wrong-size image with --no-resize, and a client without the CA.
	big := filepath.Join(dir, "big.png")
	bf, _ := os.Create(big)
	png.Encode(bf, image.NewGray(image.Rect(0, 0, 40, 30)))
	bf.Close()
	if _, err := exec.Command(bin, "infer", "--server", s.addr, "--tls-ca", cert, "--dealer", d.addr, "--dealer-ca", dcert, "--image", big, "--no-resize").Output(); err == nil || !strings.Contains(errText(err), "40x30") {
		t.Errorf("wrong-size image: %v %s", err, errText(err))
	}
	if _, err := exec.Command(bin, "infer", "--server", s.addr, "--image", pngPath).Output(); err == nil || !strings.Contains(errText(err), "certificate") {
		t.Errorf("client without the CA: %v %s", err, errText(err))
	}
	// The server's CA does not vouch for the dealer; an unpinned dealer is
	// refused unless the client accepts the server's choice.
	if _, err := exec.Command(bin, "infer", "--server", s.addr, "--tls-ca", cert, "--dealer", d.addr, "--dealer-ca", cert, "--image", pngPath).Output(); err == nil || !strings.Contains(errText(err), "certificate") {
		t.Errorf("dealer verified with the server's CA: %v %s", err, errText(err))
	}
	if _, err := exec.Command(bin, "infer", "--server", s.addr, "--tls-ca", cert, "--image", pngPath).Output(); err == nil || !strings.Contains(errText(err), "--trust-server-dealer") {
		t.Errorf("unpinned dealer: %v %s", err, errText(err))
	}
	if out, err := exec.Command(bin, "infer", "--server", s.addr, "--tls-ca", cert, "--trust-server-dealer", "--dealer-ca", dcert, "--image", pngPath).CombinedOutput(); err != nil || !strings.Contains(string(out), "WARNING") {
		t.Errorf("--trust-server-dealer: %v %s", err, out)
	}
	if _, err := exec.Command(bin, "infer", "--server", s.addr, "--insecure", "--image", pngPath, "--timeout", "5s").Output(); err == nil {
		t.Error("a plain-TCP client was served by a TLS server")
	}

	s.term(t)
	d.term(t)
	if !strings.Contains(s.logs(), "stopped after") || !strings.Contains(d.logs(), "stopped after") {
		t.Errorf("no clean shutdown:\n%s\n%s", s.logs(), d.logs())
	}
}

func errText(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	if err == nil {
		return ""
	}
	return err.Error()
}
