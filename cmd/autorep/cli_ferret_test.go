package main

import (
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/serve"
)

// TestServeFerret: serve --ferret small puts Ferret into the public plan,
// the serve log names it, and infer, with no flag, follows it: private
// labels equal the plaintext ones on two MNIST test images. --ferret
// with the dealer suite, or an unknown parameter set, is refused before
// any listening.
func TestServeFerret(t *testing.T) {
	file := modelPath(t, "lenet-mnist.safetensors")
	wantFail(t, runCLI(t, short, "serve", "--suite", "dealer", "--ferret", "small", "--model", file, "--listen", "127.0.0.1:0", "--insecure"), 1,
		"dealer suite runs no OTs")
	r := runCLI(t, short, "serve", "--suite", "twoparty", "--ferret", "medium", "--model", file, "--listen", "127.0.0.1:0", "--insecure")
	if r.code == 0 || !strings.Contains(r.stderr, `Ferret parameter set "medium"`) {
		t.Errorf("serve --ferret medium: want a failure naming the set\n%s", r)
	}
	if testing.Short() {
		t.Skip("-short: skipping the twoparty serve/infer processes with Ferret")
	}
	needData(t, "mnist")
	addr, server := startDaemon(t, "serve", "--suite", "twoparty", "--ferret", "small", "--model", file, "--listen", "127.0.0.1:0", "--insecure", "--grace", "1s")
	if log := server.stderr(); !strings.Contains(log, "OTs ferret small from softspoken k=4") {
		t.Errorf("serve log does not name the OT configuration:\n%s", log)
	}
	r = runCLI(t, time.Minute, "eval", "--model", file, "--index", "0", "--count", "2", "--stride", "1000", "--predictions", "--json")
	wantOK(t, r)
	var ev evalPredJSON
	decodeJSON(t, r, &ev)
	r = runCLI(t, 3*time.Minute, "infer", "--server", addr, "--insecure", "--dataset", "mnist", "--index", "0", "--count", "2", "--stride", "1000", "--json")
	wantOK(t, r)
	var batch serve.BatchReport
	decodeJSON(t, r, &batch)
	if batch.Count != 2 || len(batch.Images) != 2 || len(ev.Predictions) != 2 {
		t.Fatalf("infer --count 2: %s", r.stdout)
	}
	for k, img := range batch.Images {
		if p := ev.Predictions[k]; img.Index == nil || *img.Index != p.Index || img.Label != p.Label {
			t.Errorf("image %d: private %+v, plaintext %+v", k, img, p)
		}
	}
}
