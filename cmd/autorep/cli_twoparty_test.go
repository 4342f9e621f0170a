package main

import (
	"image"
	"path/filepath"
	"testing"
	"time"

	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/serve"
)

// TestTwoPartyServe runs `serve --suite twoparty` and `infer` as two OS
// processes over TLS, no dealer anywhere: the private logits of a
// synthetic image match the plaintext model's, and with MNIST the private
// labels of three test images equal the model owner's (eval
// --predictions). Flags that need a dealer are refused with twoparty, and
// a client insisting on the other suite is refused naming both.
func TestTwoPartyServe(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the multi-process twoparty inference test")
	}
	file := modelPath(t, "lenet-mnist-autorep10.safetensors")
	m, err := models.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wantOK(t, runCLI(t, short, "dealer", "--gen-cert", filepath.Join(dir, "tls"), "--hosts", "127.0.0.1"))
	cert, key := filepath.Join(dir, "tls", "cert.pem"), filepath.Join(dir, "tls", "key.pem")
	for _, flag := range [][]string{{"--dealer", "127.0.0.1:7001"}, {"--pool", "1"}, {"--advertise-dealer", "x:1"}} {
		args := append([]string{"serve", "--suite", "twoparty", "--model", file, "--listen", "127.0.0.1:0", "--insecure"}, flag...)
		wantFail(t, runCLI(t, short, args...), 1, flag[0]+": suite twoparty uses no dealer")
	}
	wantFail(t, runCLI(t, short, "serve", "--suite", "3pc", "--model", file, "--insecure"), 1, `--suite "3pc"`)
	addr, server := startDaemon(t, "serve", "--suite", "twoparty", "--model", file, "--listen", "127.0.0.1:0",
		"--tls-cert", cert, "--tls-key", key, "--grace", "1s")

	img := image.NewGray(image.Rect(0, 0, 28, 28))
	for y := 6; y < 22; y++ {
		img.Pix[y*28+8], img.Pix[y*28+19] = 255, 255
		img.Pix[6*28+y-6+8], img.Pix[21*28+y-6+8] = 255, 255
	}
	imgPath := filepath.Join(dir, "zero.png")
	writePNG(t, imgPath, img)
	r := runCLI(t, 2*time.Minute, "infer", "--server", addr, "--tls-ca", cert, "--image", imgPath, "--json")
	wantOK(t, r)
	var res struct {
		inferJSON
		Suite   string `json:"suite"`
		Dealer  string `json:"dealer"`
		Connect struct {
			Material int64 `json:"material_bytes"`
			Bytes    int64 `json:"bytes"`
		} `json:"connect"`
	}
	decodeJSON(t, r, &res)
	closeLogits(t, "twoparty, synthetic image", res.Logits, plainLogits(t, m, img))
	if res.Suite != "twoparty" || res.Dealer != "" || res.Connect.Material != 0 || res.Connect.Bytes <= 0 || res.Rounds <= 0 || res.Label != argmax(res.Logits) {
		t.Errorf("infer --json: suite %q, dealer %q, connect %+v, %d rounds, label %d", res.Suite, res.Dealer, res.Connect, res.Rounds, res.Label)
	}
	wantFail(t, runCLI(t, time.Minute, "infer", "--server", addr, "--tls-ca", cert, "--suite", "dealer", "--image", imgPath), 1,
		"client wants suite dealer, server runs twoparty")

	needData(t, "mnist")
	r = runCLI(t, 2*time.Minute, "eval", "--model", file, "--index", "0", "--count", "3", "--stride", "1000", "--predictions", "--json")
	wantOK(t, r)
	var ev evalPredJSON
	decodeJSON(t, r, &ev)
	r = runCLI(t, 3*time.Minute, "infer", "--server", addr, "--tls-ca", cert, "--suite", "twoparty", "--dataset", "mnist",
		"--index", "0", "--count", "3", "--stride", "1000", "--json")
	wantOK(t, r)
	var batch serve.BatchReport
	decodeJSON(t, r, &batch)
	if batch.Count != 3 || len(batch.Images) != 3 || len(ev.Predictions) != 3 || batch.Suite != "twoparty" {
		t.Fatalf("infer --count 3: %s", r.stdout)
	}
	for k, img := range batch.Images {
		if p := ev.Predictions[k]; img.Index == nil || *img.Index != p.Index || img.Label != p.Label {
			t.Errorf("image %d: private %+v, plaintext %+v", k, img, p)
		}
	}
	t.Logf("twoparty, 3 MNIST images: online ms %+v, %.0f B and %.0f rounds per inference; server log:\n%s",
		batch.LatencyMS.Online, batch.PerInference.OnlineBytes, batch.PerInference.Rounds, server.stderr())
}
