package main

import (
	"context"
	"encoding/json"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/serve"
	"github.com/autorep/autorep/tensor"
)

// evalPredJSON is the part of `autorep eval --predictions --json` the tests
// check.
type evalPredJSON struct {
	N           int     `json:"n"`
	Correct     int     `json:"correct"`
	Accuracy    float64 `json:"accuracy"`
	Predictions []struct {
		Index      int  `json:"index"`
		Label      int  `json:"label"`
		TrueLabel  int  `json:"true_label"`
		FixedLabel *int `json:"fixed_label"`
	} `json:"predictions"`
	FixedAgreement *float64 `json:"fixed_agreement"`
}

// mnistDigit returns test image i of set as a gray image.
func mnistDigit(set *data.Set, i int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, 28, 28))
	copy(img.Pix, set.Pixels[i*28*28:(i+1)*28*28])
	return img
}

func TestEvalPredictions(t *testing.T) {
	dir := needData(t, "mnist")
	autorepBin(t) // build outside the commands' time limits
	set, err := data.Load(dir, "mnist", false)
	if err != nil {
		t.Fatal(err)
	}
	file := modelPath(t, "lenet-mnist-autorep10.safetensors")
	m, err := models.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, 2*time.Minute, "eval", "--model", file, "--index", "5", "--count", "4", "--stride", "3",
		"--predictions", "--fixed-point", "--json")
	wantOK(t, r)
	var res evalPredJSON
	decodeJSON(t, r, &res)
	if res.N != 4 || len(res.Predictions) != 4 || res.FixedAgreement == nil {
		t.Fatalf("eval --predictions: %s", r.stdout)
	}
	correct := 0
	for k, p := range res.Predictions {
		i := 5 + 3*k
		want := argmax(plainLogits(t, m, mnistDigit(set, i)))
		if p.Index != i || p.TrueLabel != int(set.Labels[i]) || p.Label != want || p.FixedLabel == nil {
			t.Errorf("prediction %d: %+v, want index %d, label %d, true label %d, a fixed-point label", k, p, i, want, set.Labels[i])
		}
		if p.Label == p.TrueLabel {
			correct++
		}
	}
	if res.Correct != correct || math.Abs(res.Accuracy-float64(correct)/4) > 1e-9 {
		t.Errorf("correct %d, accuracy %v; predictions give %d", res.Correct, res.Accuracy, correct)
	}
	// Human output: one line per image on stderr, nothing on stdout.
	r = runCLI(t, 2*time.Minute, "eval", "--model", file, "--index", "0", "--count", "2", "--predictions")
	wantOK(t, r)
	if r.stdout != "" || !strings.Contains(r.stderr, "image 1: label") || !strings.Contains(r.stderr, "accuracy") {
		t.Errorf("eval --predictions without --json\n%s", r)
	}
	wantFail(t, runCLI(t, short, "eval", "--model", file, "--index", "9999", "--count", "2"), 1, "10000")
	wantFail(t, runCLI(t, short, "eval", "--model", file, "--n", "5", "--predictions"), 1, "--predictions")
	wantFail(t, runCLI(t, short, "eval", "--model", file, "--fixed-point"), 1, "--predictions")
	wantFail(t, runCLI(t, short, "eval", "--model", file, "--index", "0", "--count", "0"), 1, "--count")
	wantFail(t, runCLI(t, short, "eval", "--model", file, "--index", "0", "--count", "3", "--n", "5"), 1, "--n")
}

// TestInferCountJSON: infer --count N --json reports per-image results and
// aggregates and no misleading top-level label; the private labels equal
// the model owner's plaintext labels from eval --predictions (what
// scripts/serve-bench.sh checks); one image keeps the single-image shape.
func TestInferCountJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the multi-process private inference test")
	}
	needData(t, "mnist")
	file := modelPath(t, "lenet-mnist-autorep10.safetensors")
	dealerAddr, _ := startDaemon(t, "dealer", "--listen", "127.0.0.1:0", "--insecure", "--grace", "1s", "--quiet")
	serverAddr, _ := startDaemon(t, "serve", "--model", file, "--listen", "127.0.0.1:0", "--dealer", dealerAddr,
		"--insecure", "--pool", "1", "--grace", "1s", "--quiet")
	r := runCLI(t, 2*time.Minute, "infer", "--server", serverAddr, "--dealer", dealerAddr, "--insecure", "--dataset", "mnist",
		"--index", "2", "--count", "3", "--stride", "4", "--json")
	wantOK(t, r)
	var top map[string]json.RawMessage
	decodeJSON(t, r, &top)
	for _, k := range []string{"label", "logits", "rounds", "bytes", "true_label"} {
		if _, ok := top[k]; ok {
			t.Errorf("infer --count 3 --json has a top-level %q\n%s", k, r.stdout)
		}
	}
	var res serve.BatchReport // infer's own report type: the test checks the values
	decodeJSON(t, r, &res)
	if res.Count != 3 || len(res.Images) != 3 || res.Correct == nil || res.Accuracy == nil || res.Session == "" {
		t.Fatalf("infer --count 3: %s", r.stdout)
	}
	var on []float64
	var sumOn float64
	var bytes, material, rounds int64
	correct := 0
	for k, img := range res.Images {
		if img.Index == nil || *img.Index != 2+4*k || img.TrueLabel == nil || len(img.Logits) != 10 || img.Label != argmax(img.Logits) {
			t.Errorf("image %d: %+v", k, img)
			continue
		}
		if img.Label == *img.TrueLabel {
			correct++
		}
		on = append(on, img.LatencyMS.Online)
		sumOn += img.LatencyMS.Online
		bytes += img.Bytes.Online
		material += img.Bytes.Material
		rounds += img.Rounds
	}
	sort.Float64s(on)
	l := res.LatencyMS.Online
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-6*max(1, math.Abs(b)) }
	if !near(l.Mean, sumOn/3) || l.Min != on[0] || l.Median != on[1] || l.P90 != on[2] || l.Max != on[2] {
		t.Errorf("online latency summary %+v, images %v", l, on)
	}
	if res.Total.OnlineBytes != bytes || res.Total.MaterialBytes != material || res.Total.Rounds != rounds ||
		!near(res.Total.OnlineMS, sumOn) || !near(res.PerInference.OnlineBytes, float64(bytes)/3) ||
		!near(res.PerInference.Rounds, float64(rounds)/3) || !near(res.PerInference.MaterialBytes, float64(material)/3) {
		t.Errorf("totals %+v, per inference %+v; images sum to %d B, %d rounds, %d B material", res.Total, res.PerInference, bytes, rounds, material)
	}
	if *res.Correct != correct || !near(*res.Accuracy, float64(correct)/3) || res.WallSeconds <= 0 || bytes <= 0 || rounds <= 0 {
		t.Errorf("correct %d, accuracy %v, wall %v s", *res.Correct, *res.Accuracy, res.WallSeconds)
	}

	// The model owner's plaintext labels of the same images.
	r = runCLI(t, 2*time.Minute, "eval", "--model", file, "--dataset", "mnist", "--index", "2", "--count", "3", "--stride", "4",
		"--predictions", "--json")
	wantOK(t, r)
	var ev evalPredJSON
	decodeJSON(t, r, &ev)
	for k, p := range ev.Predictions {
		if p.Index != *res.Images[k].Index || p.Label != res.Images[k].Label {
			t.Errorf("image %d: plaintext label %d, private %d", p.Index, p.Label, res.Images[k].Label)
		}
	}

	// One image: the single-image shape (top-level label and logits, no images).
	r = runCLI(t, 2*time.Minute, "infer", "--server", serverAddr, "--dealer", dealerAddr, "--insecure", "--dataset", "mnist", "--index", "7", "--json")
	wantOK(t, r)
	top = nil
	decodeJSON(t, r, &top)
	if _, ok := top["images"]; ok {
		t.Errorf("one image: has images\n%s", r.stdout)
	}
	var one inferJSON
	decodeJSON(t, r, &one)
	if len(one.Logits) != 10 || one.Label != argmax(one.Logits) || one.TrueLabel == nil || string(top["index"]) != "7" {
		t.Errorf("one image: %s", r.stdout)
	}
	wantFail(t, runCLI(t, short, "infer", "--server", serverAddr, "--dealer", dealerAddr, "--insecure", "--dataset", "mnist", "--index", "9990",
		"--count", "3", "--stride", "5"), 1, "--stride 5")
}

// TestReduceCheckpointCLI: relus and eval open a reduce checkpoint (a
// masked model file with the search's scores and DaPa statistics) as the
// masked model it holds.
func TestReduceCheckpointCLI(t *testing.T) {
	autorepBin(t) // build outside the commands' time limits
	file := modelPath(t, "lenet-mnist-autorep10.safetensors")
	f, err := modelfile.Read(file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	_, want := m.ReLUCount()
	for _, s := range m.Sites {
		if _, ok := f.Tensors[s.Name+".mask"]; !ok {
			continue
		}
		f.Tensors[s.Name+".score"] = tensor.Full(0.5, s.Shape...)
		f.Tensors[s.Name+".dapa_mean"] = tensor.New(s.Shape[0])
		f.Tensors[s.Name+".dapa_var"] = tensor.Full(1, s.Shape[0])
		f.Tensors[s.Name+".dapa_steps"] = tensor.New(2)
	}
	ckpt := filepath.Join(t.TempDir(), "out.safetensors.ckpt.best")
	if err := modelfile.Write(ckpt, f.Tensors, f.Metadata); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, short, "relus", "--model", ckpt, "--json")
	wantOK(t, r)
	var rel struct {
		Total int `json:"total"`
	}
	decodeJSON(t, r, &rel)
	if rel.Total != want {
		t.Errorf("relus of the checkpoint: %d, want %d", rel.Total, want)
	}
	if os.Getenv("AUTOREP_DATA") != "" {
		needData(t, "mnist")
		r = runCLI(t, time.Minute, "eval", "--model", ckpt, "--n", "50", "--json")
		wantOK(t, r)
		var ev struct {
			N     int `json:"n"`
			ReLUs int `json:"relus"`
		}
		decodeJSON(t, r, &ev)
		if ev.N != 50 || ev.ReLUs != want {
			t.Errorf("eval of the checkpoint: %s", r.stdout)
		}
	}
}

// TestDemoBadFlags: the demo refuses 0 search epochs and a negative
// learning rate before doing anything. (Its scores' learning rate is
// reduce's rule, reduce.SearchScoreLR, tested there.)
func TestDemoBadFlags(t *testing.T) {
	wantFail(t, runCLI(t, 2*time.Minute, "demo", "--reduce-epochs", "0"), 1, "--reduce-epochs")
	wantFail(t, runCLI(t, short, "demo", "--reduce-lr", "-1"), 1, "--reduce-lr")
}

// TestServeBenchScript runs scripts/serve-bench.sh on LeNet with a few
// MNIST images: three processes, labels checked against eval's, summary
// JSON on stdout, processes stopped at the end.
func TestServeBenchScript(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the serve-bench.sh run")
	}
	dataDir := needData(t, "mnist")
	for _, tool := range []string{"bash", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: %v", tool, err)
		}
	}
	bin := autorepBin(t)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "..", "scripts", "serve-bench.sh"),
		"--bin", bin, "--model", modelPath(t, "lenet-mnist-autorep10.safetensors"), "--dataset", "mnist",
		"--n", "3", "--out", out, "--label", "lenet")
	cmd.Env = append(os.Environ(), "AUTOREP_DATA="+dataDir)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("serve-bench.sh: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var sum struct {
		N       int                      `json:"n"`
		Equal   int                      `json:"labels_equal_plaintext"`
		Stride  int                      `json:"stride"`
		Rounds  float64                  `json:"rounds_per_inference"`
		Online  struct{ Median float64 } `json:"online_ms"`
		PeakRSS map[string]*float64      `json:"peak_rss_mb"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &sum); err != nil {
		t.Fatalf("summary: %v\n%s", err, stdout.String())
	}
	if sum.N != 3 || sum.Equal != 3 || sum.Stride != 3333 || sum.Rounds <= 0 || sum.Online.Median <= 0 ||
		sum.PeakRSS["dealer"] == nil || sum.PeakRSS["server"] == nil {
		t.Errorf("summary %s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "| lenet | dealer | loopback | 3 | 3/3 (100.0%) |") {
		t.Errorf("no markdown row on stderr:\n%s", stderr.String())
	}
	for _, f := range []string{"lenet-loopback-3.json", "lenet-loopback-3.infer.json", "lenet-loopback-3.eval.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	for _, f := range []string{"lenet-loopback-3.dealer.log", "lenet-loopback-3.serve.log"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil || !strings.Contains(string(b), "stopped after") {
			t.Errorf("%s: not stopped cleanly (%v):\n%s", f, err, b)
		}
	}

	// The twoparty suite: server and client only.
	cmd = exec.CommandContext(ctx, "bash", filepath.Join("..", "..", "scripts", "serve-bench.sh"),
		"--bin", bin, "--model", modelPath(t, "lenet-mnist-autorep10.safetensors"), "--dataset", "mnist",
		"--n", "1", "--suite", "twoparty", "--out", out, "--label", "lenet")
	cmd.Env = append(os.Environ(), "AUTOREP_DATA="+dataDir)
	stdout.Reset()
	stderr.Reset()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("serve-bench.sh --suite twoparty: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var two struct {
		Suite   string              `json:"suite"`
		N       int                 `json:"n"`
		Equal   int                 `json:"labels_equal_plaintext"`
		PeakRSS map[string]*float64 `json:"peak_rss_mb"`
		CPU     map[string]*float64 `json:"cpu_seconds"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &two); err != nil {
		t.Fatalf("summary: %v\n%s", err, stdout.String())
	}
	if _, dealer := two.CPU["dealer"]; two.Suite != "twoparty" || two.N != 1 || two.Equal != 1 || two.PeakRSS["dealer"] != nil || two.PeakRSS["server"] == nil || dealer {
		t.Errorf("twoparty summary %s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "| lenet | twoparty | loopback | 1 | 1/1 (100.0%) |") {
		t.Errorf("no twoparty markdown row on stderr:\n%s", stderr.String())
	}
	for _, f := range []string{"lenet-twoparty-loopback-1.json", "lenet-twoparty-loopback-1.serve.log"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "lenet-twoparty-loopback-1.dealer.log")); err == nil {
		t.Error("the twoparty run started a dealer")
	}
}
