package main

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/serve/secnet"
)

// TestServeOutputAndDealerCert runs dealer, serve and infer as OS
// processes over TLS: the dealer admits the model server's role only by
// the client certificate its --server-ca issued (serve --dealer-cert,
// --dealer-key; no join tickets), and serve --output topk:3 gives the
// client the three best labels of each MNIST image and no logits, the
// first equal to the model owner's label (eval --predictions). Bad
// --output and --dealer-cert combinations are refused before any work.
func TestServeOutputAndDealerCert(t *testing.T) {
	file := modelPath(t, "lenet-mnist.safetensors")
	base := []string{"serve", "--model", file, "--listen", "127.0.0.1:0"}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--insecure", "--output", "top3"}, `--output: pi: output mode "top3"`},
		{[]string{"--insecure", "--output", "topk:0"}, "--output"},
		{[]string{"--insecure", "--dealer-cert", "c.pem"}, "--dealer-cert and --dealer-key go together"},
		{[]string{"--insecure", "--dealer-cert", "c.pem", "--dealer-key", "k.pem"}, "--dealer-cert needs TLS"},
		{[]string{"--insecure", "--suite", "twoparty", "--dealer-key", "k.pem", "--dealer-cert", "c.pem"}, "needs TLS"},
	} {
		wantFail(t, runCLI(t, short, append(append([]string{}, base...), c.args...)...), 1, c.msg)
	}
	// 10 classes: topk:11 is refused once the plan is known.
	wantFail(t, runCLI(t, short, append(append([]string{}, base...), "--insecure", "--output", "topk:11")...), 1, "--output: pi: output of the 11 best labels for 10 classes")

	needData(t, "mnist")
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--gen-cert", filepath.Join(dir, "tls"), "--hosts", "127.0.0.1"},
		{"--gen-server-ca", filepath.Join(dir, "ca")},
		{"--gen-server-cert", filepath.Join(dir, "server"), "--server-ca", filepath.Join(dir, "ca", "ca.pem"), "--server-ca-key", filepath.Join(dir, "ca", "ca-key.pem")},
	} {
		wantOK(t, runCLI(t, time.Minute, append([]string{"dealer"}, args...)...))
	}
	cert, key := filepath.Join(dir, "tls", secnet.CertName), filepath.Join(dir, "tls", secnet.KeyName)
	dealerAddr, _ := startDaemon(t, "dealer", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key,
		"--server-ca", filepath.Join(dir, "ca", "ca.pem"), "--grace", "1s")
	serverAddr, _ := startDaemon(t, "serve", "--model", file, "--listen", "127.0.0.1:0", "--dealer", dealerAddr, "--pool", "1",
		"--tls-cert", cert, "--tls-key", key, "--tls-ca", cert, "--grace", "1s", "--output", "topk:3",
		"--dealer-cert", filepath.Join(dir, "server", secnet.ClientCertName), "--dealer-key", filepath.Join(dir, "server", secnet.ClientKeyName))

	r := runCLI(t, time.Minute, "eval", "--model", file, "--index", "0", "--count", "2", "--stride", "1000", "--predictions", "--json")
	wantOK(t, r)
	var ev evalPredJSON
	decodeJSON(t, r, &ev)
	client := []string{"infer", "--server", serverAddr, "--tls-ca", cert, "--dealer", dealerAddr, "--dealer-ca", cert, "--dataset", "mnist"}
	r = runCLI(t, 2*time.Minute, append(client, "--index", "0", "--count", "2", "--stride", "1000", "--json")...)
	wantOK(t, r)
	var batch struct {
		Output string `json:"output"`
		Images []struct {
			Label  int       `json:"label"`
			Labels []int     `json:"labels"`
			Logits []float32 `json:"logits"`
		} `json:"images"`
	}
	decodeJSON(t, r, &batch)
	if batch.Output != "topk:3" || len(batch.Images) != 2 || len(ev.Predictions) != 2 {
		t.Fatalf("infer --json: %s", r.stdout)
	}
	for k, img := range batch.Images {
		l := img.Labels
		if len(l) != 3 || img.Logits != nil || l[0] != img.Label || img.Label != ev.Predictions[k].Label ||
			slices.Contains(l[1:], l[0]) || l[1] == l[2] {
			t.Errorf("image %d: %+v, plaintext label %d", k, img, ev.Predictions[k].Label)
		}
	}
	// Text mode, one image: the three labels on stdout, best first.
	r = runCLI(t, 2*time.Minute, append(client, "--index", "0")...)
	wantOK(t, r)
	f := strings.Fields(r.stdout)
	if len(f) != 3 || f[0] != strconv.Itoa(ev.Predictions[0].Label) {
		t.Errorf("infer (text) printed %q, want 3 labels starting with %d", r.stdout, ev.Predictions[0].Label)
	}
}
