package main

import (
	"bufio"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/autorep/autorep/autograd"
	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/tensor"
)

// daemon is a long-running autorep process (dealer or serve) started by a
// test; it is interrupted and checked for a clean exit at cleanup.
type daemon struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  strings.Builder
	done chan error
}

func (d *daemon) stderr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

var listenRE = regexp.MustCompile(`listening on ([^\s,]+)`)

// startDaemon runs autorep args in the background and returns the address
// it logs ("listening on ADDR"). At cleanup it sends SIGINT and expects
// exit 0 within the grace period, with no crash in its log.
func startDaemon(t *testing.T, args ...string) (string, *daemon) {
	t.Helper()
	d := &daemon{name: args[0], cmd: exec.Command(autorepBin(t), args...), done: make(chan error, 1)}
	pr, pw := io.Pipe()
	d.cmd.Stderr = pw
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting autorep %s: %v", args[0], err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			d.mu.Lock()
			d.log.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				addr <- m[1]
				sent = true
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		err := d.cmd.Wait()
		pw.Close()
		d.done <- err
	}()
	t.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-d.done:
			var ee *exec.ExitError
			if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 0) {
				t.Errorf("autorep %s exited with %v after SIGINT\n%s", d.name, err, d.stderr())
			}
		case <-time.After(20 * time.Second):
			d.cmd.Process.Kill()
			<-d.done
			t.Errorf("autorep %s did not stop within 20s of SIGINT\n%s", d.name, d.stderr())
		}
		if crashRE.MatchString(d.stderr()) {
			t.Errorf("autorep %s crashed\n%s", d.name, d.stderr())
		}
	})
	select {
	case a := <-addr:
		return a, d
	case err := <-d.done:
		d.done <- err
		t.Fatalf("autorep %s exited before listening: %v\n%s", args[0], err, d.stderr())
	case <-time.After(time.Minute):
		t.Fatalf("autorep %s did not report its address within a minute\n%s", args[0], d.stderr())
	}
	return "", nil
}

// inferJSON is the part of `autorep infer --json` the tests check.
type inferJSON struct {
	Label     int       `json:"label"`
	TrueLabel *int      `json:"true_label"`
	Logits    []float32 `json:"logits"`
	Rounds    int64     `json:"rounds"`
	PlanHash  string    `json:"plan_hash"`
	Arch      string    `json:"arch"`
	ReLUs     int       `json:"relus"`
	Images    []struct {
		Index     int       `json:"index"`
		Label     int       `json:"label"`
		TrueLabel *int      `json:"true_label"`
		Logits    []float32 `json:"logits"`
	} `json:"images"`
	Accuracy *float64 `json:"accuracy"`
}

// plainLogits runs the model in plaintext on a grayscale image normalised
// with the model's mean and std.
func plainLogits(t *testing.T, m *models.Model, img *image.Gray) []float32 {
	t.Helper()
	b := img.Bounds()
	x := tensor.New(1, 1, b.Dy(), b.Dx())
	for i, p := range img.Pix {
		x.Data[i] = (float32(p)/255 - m.Meta.Mean[0]) / m.Meta.Std[0]
	}
	m.SetTraining(false)
	var out []float32
	autograd.NoGrad(func() {
		y, err := m.Forward(autograd.Const(x))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, y.Value.Data...)
	})
	return out
}

func argmax(v []float32) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

// closeLogits fails unless the private logits match the plaintext ones to
// within the fixed-point error.
func closeLogits(t *testing.T, what string, private, plain []float32) {
	t.Helper()
	if len(private) != len(plain) {
		t.Fatalf("%s: %d private logits, %d plaintext", what, len(private), len(plain))
	}
	for i := range plain {
		if d := math.Abs(float64(private[i] - plain[i])); d > 0.05+0.01*math.Abs(float64(plain[i])) {
			t.Fatalf("%s: logit %d private %v plaintext %v\nprivate %v\nplain   %v", what, i, private[i], plain[i], private, plain)
		}
	}
}

// TestPrivateInference runs a dealer, a server with a reduced LeNet and
// clients as separate processes on loopback, and compares the private
// logits with the plaintext model's.
func TestPrivateInference(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the multi-process private inference test")
	}
	modelFile := modelPath(t, "lenet-mnist-autorep10.safetensors")
	m, err := models.Load(modelFile)
	if err != nil {
		t.Fatal(err)
	}
	_, relus := m.ReLUCount()
	dealerAddr, _ := startDaemon(t, "dealer", "--listen", "127.0.0.1:0", "--insecure", "--grace", "1s")
	// An SNL model (identity replacements) shares the dealer.
	snlFile := modelPath(t, "lenet-mnist-snl10.safetensors")
	snl, err := models.Load(snlFile)
	if err != nil {
		t.Fatal(err)
	}
	snlAddr, _ := startDaemon(t, "serve", "--model", snlFile, "--listen", "127.0.0.1:0", "--dealer", dealerAddr,
		"--insecure", "--pool", "0", "--grace", "1s")
	serverAddr, server := startDaemon(t, "serve", "--model", modelFile, "--listen", "127.0.0.1:0", "--dealer", dealerAddr,
		"--insecure", "--pool", "1", "--grace", "1s")
	hash := regexp.MustCompile(`plan hash ([0-9a-f]{64})`).FindStringSubmatch(server.stderr())
	if hash == nil {
		t.Fatalf("serve did not print its plan hash\n%s", server.stderr())
	}

	// A synthetic digit-like image (no dataset needed).
	img := image.NewGray(image.Rect(0, 0, 28, 28))
	for y := 4; y < 24; y++ {
		for x := 12; x < 16; x++ {
			img.Pix[y*28+x] = 255
		}
	}
	dir := t.TempDir()
	imgPath := filepath.Join(dir, "one.png")
	writePNG(t, imgPath, img)
	r := runCLI(t, 2*time.Minute, "infer", "--server", serverAddr, "--dealer", dealerAddr, "--insecure", "--image", imgPath, "--expect-hash", hash[1], "--json")
	wantOK(t, r)
	var res inferJSON
	decodeJSON(t, r, &res)
	plain := plainLogits(t, m, img)
	closeLogits(t, "synthetic image", res.Logits, plain)
	if res.Label != argmax(res.Logits) || res.PlanHash != hash[1] || res.Arch != "lenet" || res.ReLUs != relus || res.Rounds <= 0 {
		t.Errorf("infer --json: label %d (argmax %d), hash %s, arch %s, %d ReLUs (model %d), %d rounds",
			res.Label, argmax(res.Logits), res.PlanHash, res.Arch, res.ReLUs, relus, res.Rounds)
	}

	r = runCLI(t, 2*time.Minute, "infer", "--server", snlAddr, "--dealer", dealerAddr, "--insecure", "--image", imgPath, "--json")
	wantOK(t, r)
	var snlRes inferJSON
	decodeJSON(t, r, &snlRes)
	closeLogits(t, "SNL model, synthetic image", snlRes.Logits, plainLogits(t, snl, img))

	// A larger colour image is converted to gray and resized; --no-resize
	// refuses it; a file that is not an image is an error.
	rgb := image.NewRGBA(image.Rect(0, 0, 56, 56))
	for y := 8; y < 48; y++ {
		for x := 24; x < 32; x++ {
			rgb.Set(x, y, color.RGBA{R: 255, G: 255, B: 255, A: 255})
		}
	}
	rgbPath := filepath.Join(dir, "big.png")
	writePNG(t, rgbPath, rgb)
	r = runCLI(t, 2*time.Minute, "infer", "--server", serverAddr, "--dealer", dealerAddr, "--insecure", "--image", rgbPath, "--json")
	wantOK(t, r)
	var big inferJSON
	decodeJSON(t, r, &big)
	if len(big.Logits) != 10 || big.Label != argmax(big.Logits) {
		t.Errorf("resized image: %+v", big)
	}
	wantFail(t, runCLI(t, time.Minute, "infer", "--server", serverAddr, "--dealer", dealerAddr, "--insecure", "--image", rgbPath, "--no-resize"), 1, "56")
	notImage := filepath.Join(dir, "not.png")
	if err := os.WriteFile(notImage, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantFail(t, runCLI(t, time.Minute, "infer", "--server", serverAddr, "--dealer", dealerAddr, "--insecure", "--image", notImage), 1, "not.png")

	// The client refuses a server whose plan is not the expected one.
	wrong := strings.Repeat("0", 64)
	wantFail(t, runCLI(t, time.Minute, "infer", "--server", serverAddr, "--dealer", dealerAddr, "--insecure", "--image", imgPath, "--expect-hash", wrong), 1, "expected "+wrong[:16])
	// Nothing listening: a quick, clear error.
	wantFail(t, runCLI(t, short, "infer", "--server", "127.0.0.1:1", "--insecure", "--image", imgPath), 1, "127.0.0.1:1")

	// MNIST test images, when the data is there: --dataset/--index/--count.
	dataDir := os.Getenv("AUTOREP_DATA")
	if dataDir == "" {
		t.Log("AUTOREP_DATA not set: skipping private inference of MNIST test images")
		return
	}
	if _, err := os.Stat(filepath.Join(dataDir, "mnist")); err != nil {
		t.Logf("no mnist under %s: skipping private inference of MNIST test images", dataDir)
		return
	}
	set, err := data.Load(dataDir, "mnist", false)
	if err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, 2*time.Minute, "infer", "--server", serverAddr, "--dealer", dealerAddr, "--insecure", "--dataset", "mnist", "--index", "3", "--count", "2", "--json")
	wantOK(t, r)
	decodeJSON(t, r, &res)
	if len(res.Images) != 2 || res.Accuracy == nil {
		t.Fatalf("infer --count 2: %s", r.stdout)
	}
	for k, got := range res.Images {
		i := 3 + k
		digit := image.NewGray(image.Rect(0, 0, 28, 28))
		copy(digit.Pix, set.Pixels[i*28*28:(i+1)*28*28])
		closeLogits(t, "MNIST test image", got.Logits, plainLogits(t, m, digit))
		if got.Index != i || got.TrueLabel == nil || *got.TrueLabel != int(set.Labels[i]) || got.Label != argmax(got.Logits) {
			t.Errorf("image %d: index %d, label %d, true label %v (dataset %d)", i, got.Index, got.Label, got.TrueLabel, set.Labels[i])
		}
	}
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
