package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autorep/autorep/models"
)

// corruptModels writes damaged copies of a committed model file into dir
// and returns their paths by the damage done.
func corruptModels(t *testing.T, dir string) map[string]string {
	t.Helper()
	good, err := os.ReadFile(modelPath(t, "lenet-mnist.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	hlen := binary.LittleEndian.Uint64(good)
	if hlen == 0 || 8+hlen > uint64(len(good)) {
		t.Fatalf("committed model has header length %d", hlen)
	}
	header := good[8 : 8+hlen]
	body := good[8+hlen:]
	withHeader := func(h []byte) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
		return append(append(b, h...), body...)
	}
	withLength := func(n uint64) []byte {
		b := binary.LittleEndian.AppendUint64(nil, n)
		return append(b, good[8:]...)
	}
	// metaEdit rewrites one metadata value of the JSON header.
	metaEdit := func(key, value string) []byte {
		var h map[string]json.RawMessage
		if err := json.Unmarshal(header, &h); err != nil {
			t.Fatal(err)
		}
		var meta map[string]string
		if err := json.Unmarshal(h["__metadata__"], &meta); err != nil {
			t.Fatal(err)
		}
		meta[key] = value
		raw, err := json.Marshal(meta)
		if err != nil {
			t.Fatal(err)
		}
		h["__metadata__"] = raw
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		return withHeader(b)
	}
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	cases := map[string][]byte{
		"empty":            nil,
		"five-bytes":       good[:5],
		"header-cut":       good[:8+hlen/2],
		"truncated":        good[:len(good)/2],
		"one-byte-short":   good[:len(good)-1],
		"random-bytes":     random,
		"length-too-big":   withLength(hlen + 1<<30),
		"length-huge":      withLength(1<<63 + 5),
		"length-too-small": withLength(hlen - 10),
		"length-zero":      withLength(0),
		"header-not-json":  withHeader(bytes.Repeat([]byte("x"), int(hlen))),
		"header-array":     withHeader([]byte(`[1,2,3]`)),
		"unknown-arch":     metaEdit("autorep.arch", "nonet"),
		"huge-classes":     metaEdit("autorep.classes", "100000000000"),
		"huge-input":       metaEdit("autorep.input", "1,100000,100000"),
		"negative-input":   metaEdit("autorep.input", "1,-28,28"),
		"wrong-classes":    metaEdit("autorep.classes", "7"),
		"wrong-input":      metaEdit("autorep.input", "3,32,32"),
	}
	paths := map[string]string{}
	for name, b := range cases {
		p := filepath.Join(dir, name+".safetensors")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

func TestCorruptModelFiles(t *testing.T) {
	dir := t.TempDir()
	empty := t.TempDir() // a data directory without datasets
	for name, p := range corruptModels(t, dir) {
		base := filepath.Base(p)
		for _, args := range [][]string{
			{"relus", "--model", p, "--json"},
			{"eval", "--model", p, "--data", empty, "--json"},
			{"reduce", "--model", p, "--budget", "10", "--data", empty, "--out", filepath.Join(dir, "r.safetensors")},
			{"bench", "pi", "--model", p, "--data", empty, "--n", "1"},
			{"serve", "--model", p, "--listen", "127.0.0.1:0", "--dealer", "127.0.0.1:1", "--insecure"},
		} {
			r := runCLI(t, short, args...)
			if r.code != 1 || !strings.Contains(r.stderr, base) {
				t.Errorf("%s: want exit 1 and a message naming %s\n%s", name, base, r)
			}
			if r.stdout != "" {
				t.Errorf("%s: output on stdout despite the error\n%s", name, r)
			}
		}
		// plot skips unreadable files, naming them, and fails if none is left.
		r := runCLI(t, short, "plot", "--out", filepath.Join(dir, "x.png"), p)
		wantFail(t, r, 1, "skipping "+p, "no plottable model files")
	}
	wantFail(t, runCLI(t, short, "relus", "--model", filepath.Join(dir, "absent.safetensors")), 1, "absent.safetensors", "no such file")
	wantFail(t, runCLI(t, short, "relus", "--model", dir), 1, "is a directory")
}

func TestPlotCommittedModels(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "models", "*.safetensors"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no committed model files: %v", err)
	}
	pts := plotPoints(t, files...)
	if len(pts) != len(files) {
		t.Fatalf("%d points from %d files", len(pts), len(files))
	}
	methods := map[string]bool{}
	for _, p := range pts {
		method, _, _ := strings.Cut(p.Method, " (degree ") // AutoReP lines split by degree
		methods[method] = true
		full := 6508 // LeNet-5
		switch base := filepath.Base(p.Label); {
		case strings.HasPrefix(base, "resnet20"):
			full = 188416
		case strings.HasPrefix(base, "resnet18"):
			full = 491520
		}
		// Better than chance on the 10 classes of every committed model
		// (SNL at 12.9K on ResNet-18 keeps 39.97%).
		if p.Accuracy <= 10 || p.Accuracy > 100 || p.ReLUs <= 0 || p.ReLUs > full {
			t.Errorf("implausible point %+v", p)
		}
	}
	for _, m := range []string{"baseline", "autorep", "snl"} {
		if !methods[m] {
			t.Errorf("no %s point among %+v", m, pts)
		}
	}
	// A directory argument plots the same files; the PNG decodes.
	out := filepath.Join(t.TempDir(), "acc.png")
	r := runCLI(t, short, "plot", "--out", out, "--title", "committed models", filepath.Join("..", "..", "models"))
	wantOK(t, r)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s lacks the PNG signature: % x", out, b[:min(8, len(b))])
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding %s: %v", out, err)
	}
	if sz := img.Bounds().Size(); sz.X < 200 || sz.Y < 150 {
		t.Errorf("plot is only %v pixels", sz)
	}
	// The picture is not blank: count distinct colours.
	colours := map[[4]uint32]bool{}
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y += 3 {
		for x := bd.Min.X; x < bd.Max.X; x += 3 {
			r, g, b, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, b, a}] = true
		}
	}
	if len(colours) < 3 {
		t.Errorf("plot has %d colours: blank?", len(colours))
	}
	// A directory with one good and one corrupt file: the corrupt one is
	// skipped with a message.
	mixed := t.TempDir()
	good, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"good.safetensors": good, "bad.safetensors": good[:100]} {
		if err := os.WriteFile(filepath.Join(mixed, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r = runCLI(t, short, "plot", "--out", out, "--json", mixed)
	wantOK(t, r)
	var res struct {
		Points []struct {
			Label string `json:"label"`
		} `json:"points"`
	}
	decodeJSON(t, r, &res)
	if len(res.Points) != 1 || !strings.HasSuffix(res.Points[0].Label, "good.safetensors") || !strings.Contains(r.stderr, "skipping "+filepath.Join(mixed, "bad.safetensors")) {
		t.Errorf("plot of a mixed directory\n%s", r)
	}
	wantFail(t, runCLI(t, short, "plot", "--out", out), 1, "at least one FILE")
	wantFail(t, runCLI(t, short, "plot", files[0]), 1, "--out")
}

func TestReduceArgumentErrors(t *testing.T) {
	base := modelPath(t, "lenet-mnist.safetensors")
	dir := t.TempDir()
	out := filepath.Join(dir, "r.safetensors")
	// Budgets are checked before any data is read: an empty data dir
	// makes a wrongly accepted budget fail with a different message.
	for _, b := range []string{"7000", "6509", "-1", "-5%", "garbage", "12.9q", "101%", "1e3k", "NaN", "Inf"} {
		r := runCLI(t, short, "reduce", "--model", base, "--budget", b, "--data", dir, "--epochs", "1", "--out", out)
		wantFail(t, r, 1, "budget: ")
	}
	wantFail(t, runCLI(t, short, "reduce", "--model", base, "--budget", "100", "--method", "magic", "--out", out), 1, `method "magic"`)
	for _, bad := range [][]string{{"--epochs", "0", "epochs must be at least 1"}, {"--finetune-epochs", "-1", "finetune epochs"},
		{"--train-limit", "-5", "training limit"}, {"--augment", "maybe", "--augment"},
		{"--scale-x2", "0", "--scale-x2"}, {"--scale-x2", "NaN", "--scale-x2"}} {
		wantFail(t, runCLI(t, short, append([]string{"reduce", "--model", base, "--budget", "100", "--data", dir, "--out", out}, bad[:2]...)...), 1, bad[2])
	}
	wantFail(t, runCLI(t, short, "reduce", "--model", base, "--budget", "100", "--data", dir, "--out", out,
		"--scale-x2", "0.1", "--degree", "1"), 1, "--scale-x2 0.1 needs degree")
	wantFail(t, runCLI(t, short, "reduce", "--model", base, "--out", out), 1, "--budget")
	wantFail(t, runCLI(t, short, "reduce", "--budget", "100", "--out", out), 1, "--model")
	wantFail(t, runCLI(t, short, "reduce", "--model", modelPath(t, "lenet-mnist-autorep10.safetensors"), "--budget", "100", "--out", out),
		1, "already reduced")
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s written by a failed reduce", out)
	}
}

// TestTrainAugmentFlag: a wrong --augment value is refused before any data
// is read (the data dir is empty), and names the flag.
func TestTrainAugmentFlag(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, short, "train", "--model", "lenet", "--dataset", "mnist", "--epochs", "1", "--data", dir,
		"--out", filepath.Join(dir, "m.safetensors"), "--augment", "maybe")
	wantFail(t, r, 1, `--augment "maybe"`)
}

// TestModelWithoutDataset: eval, reduce and bench pi on a model file that
// records no dataset ask for --dataset instead of guessing.
func TestModelWithoutDataset(t *testing.T) {
	m, err := models.New("lenet", 10, [3]int{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "nodata.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"eval", "--model", path, "--data", dir},
		{"reduce", "--model", path, "--budget", "100", "--data", dir, "--out", filepath.Join(dir, "r.safetensors")},
		{"bench", "pi", "--model", path, "--data", dir, "--n", "1"},
	} {
		wantFail(t, runCLI(t, short, args...), 1, "records no dataset; pass --dataset")
	}
}
