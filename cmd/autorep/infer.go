package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // decoders for --image
	_ "image/png"
	"os"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/serve"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

func init() {
	register("infer", "private inference of an image against an 'autorep serve' server", runInfer)
}

const inferSummary = `Classify an image privately: the server holding the model learns nothing
about the image, this client learns the logits. --image takes a PNG or JPEG
file (converted to the model's channels, resized to its input size unless
--no-resize, normalised with the model's mean/std); --dataset/--index take a
test image of a dataset (--count N: N consecutive images over one session).
Latency is split into the offline phase (session opening, dealer material)
and the online phase (input to logits), which is what a user waits for once
the session is ready.`

// inferImage is the JSON report of one private inference.
type inferImage struct {
	Index     int       `json:"index,omitempty"`
	Label     int       `json:"label"`
	TrueLabel *int      `json:"true_label,omitempty"`
	Logits    []float32 `json:"logits"`
	LatencyMS struct {
		Online  float64 `json:"online"`
		Offline float64 `json:"offline"`
	} `json:"latency_ms"`
	Bytes struct {
		Online   int64 `json:"online"`
		Offline  int64 `json:"offline"`
		Material int64 `json:"material"`
	} `json:"bytes"`
	Rounds int64 `json:"rounds"`
}

// inferReport is infer's JSON output.
type inferReport struct {
	inferImage
	Session  string `json:"session"`
	PlanHash string `json:"plan_hash"`
	Arch     string `json:"arch"`
	ReLUs    int    `json:"relus"`
	Connect  struct {
		MS       float64 `json:"ms"`
		Bytes    int64   `json:"bytes"`
		Material int64   `json:"material_bytes"`
	} `json:"connect"`
	Images   []inferImage `json:"images,omitempty"`
	Accuracy *float64     `json:"accuracy,omitempty"`
}

func runInfer(args []string) error {
	fs := newFlags("infer", "--server ADDR [--dealer ADDR] (--image FILE | --dataset D --index I) [--json]", inferSummary)
	server := fs.String("server", "127.0.0.1:7002", "model server address")
	dealerAddr := fs.String("dealer", "", "dealer address (default: the one the server advertises)")
	imagePath := fs.String("image", "", "PNG or JPEG image to classify")
	dataset := fs.String("dataset", "", "dataset to take a test image from")
	dataDir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	index := fs.Int("index", 0, "test image index with --dataset")
	count := fs.Int("count", 1, "with --dataset: classify COUNT images from --index over one session")
	noResize := fs.Bool("no-resize", false, "refuse images whose size differs from the model's input")
	pool := fs.Int("pool", 0, "inferences whose dealer material is fetched when the session opens (default: --count, at most 8)")
	expect := fs.String("expect-hash", "", "public-plan hash (hex, as printed by serve) the server must serve")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object on stdout")
	tf := addTLSFlags(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if (*imagePath == "") == (*dataset == "") {
		fs.Usage()
		return errors.New("give exactly one of --image and --dataset")
	}
	if *count < 1 || *imagePath != "" && *count != 1 {
		return errors.New("--count must be ≥ 1 and needs --dataset")
	}
	var set *data.Set
	if *dataset != "" {
		var err error
		if set, err = data.Load(data.Dir(*dataDir), *dataset, false); err != nil {
			return err
		}
		if *index < 0 || *index+*count > set.N {
			return fmt.Errorf("--index %d --count %d outside the %d test images of %s", *index, *count, set.N, *dataset)
		}
	}
	if *imagePath != "" { // fail before opening a session
		f, err := os.Open(*imagePath)
		if err != nil {
			return err
		}
		_, _, err = image.DecodeConfig(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: not a PNG or JPEG image: %w", *imagePath, err)
		}
	}
	if *pool <= 0 {
		*pool = min(*count, 8)
	}
	cfg := serve.ClientConfig{Server: *server, Dealer: *dealerAddr, Pool: *pool}
	if *expect != "" {
		h, err := serve.HashHex(*expect)
		if err != nil {
			return err
		}
		cfg.Hash = h
	}
	sec, err := tf.config()
	if err != nil {
		return err
	}
	opts := tf.options()
	cfg.Dial = func(ctx context.Context, addr string) (transport.Conn, error) {
		return secnet.Dial(ctx, addr, sec, opts)
	}
	ctx, stop := signalContext()
	defer stop()
	sess, err := serve.Dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer sess.Close()
	pub := sess.Public
	var rep inferReport
	h := pub.Hash()
	rep.Session, rep.PlanHash, rep.Arch = sess.ID.String(), hex.EncodeToString(h[:]), pub.Arch
	rep.ReLUs, _ = pub.ReLUs()
	rep.Connect.MS = ms(sess.Connect.Time)
	rep.Connect.Bytes, rep.Connect.Material = sess.Connect.Bytes, sess.Connect.Material
	correct := 0
	for k := 0; k < *count; k++ {
		var x *tensor.Tensor
		var truth *int
		if set != nil {
			i := *index + k
			if set.C != pub.Input[0] || set.H != pub.Input[1] || set.W != pub.Input[2] {
				return fmt.Errorf("%s images are %dx%dx%d, the served model (%s) takes %v", *dataset, set.C, set.H, set.W, pub.Arch, pub.Input)
			}
			x = set.Normalized(i)
			l := int(set.Labels[i])
			truth = &l
		} else if x, err = loadImage(*imagePath, pub, !*noResize); err != nil {
			return err
		}
		r, err := sess.Infer(ctx, x)
		if err != nil {
			return err
		}
		img := inferImage{Index: *index + k, Label: r.Label, TrueLabel: truth, Logits: r.Logits, Rounds: r.Stats.Online.Rounds}
		if set == nil {
			img.Index = 0
		}
		img.LatencyMS.Online, img.LatencyMS.Offline = ms(r.Stats.OnlineTime), ms(r.Stats.OfflineTime)
		img.Bytes.Online, img.Bytes.Offline, img.Bytes.Material = r.Stats.Online.Bytes(), r.Stats.OfflineMsgs.Bytes(), r.Material
		if truth != nil && *truth == r.Label {
			correct++
		}
		if !*jsonOut {
			fmt.Fprintf(os.Stderr, "image %d: label %d", img.Index, img.Label)
			if truth != nil {
				fmt.Fprintf(os.Stderr, " (true %d)", *truth)
			}
			fmt.Fprintf(os.Stderr, "  online %.1f ms, %d B, %d rounds; offline %.1f ms, material %d B\n",
				img.LatencyMS.Online, img.Bytes.Online, img.Rounds, img.LatencyMS.Offline, img.Bytes.Material)
		}
		if *count == 1 {
			rep.inferImage = img
		} else {
			rep.Images = append(rep.Images, img)
		}
	}
	if set != nil && *count > 1 {
		a := float64(correct) / float64(*count)
		rep.Accuracy = &a
	}
	if !*jsonOut {
		fmt.Fprintf(os.Stderr, "session %s: opened in %.1f ms (%d B to the server, %d B dealer material prefetched)\n",
			rep.Session, rep.Connect.MS, rep.Connect.Bytes, rep.Connect.Material)
		if rep.Accuracy != nil {
			fmt.Fprintf(os.Stderr, "accuracy %.2f%% over %d images\n", 100**rep.Accuracy, *count)
		}
		if *count == 1 {
			fmt.Println(rep.Label)
		}
		return nil
	}
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(rep)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// loadImage reads a PNG/JPEG file as a normalised [1, C, H, W] input of
// the plan.
func loadImage(path string, pub *pi.Public, resize bool) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	cfg, format, err := image.DecodeConfig(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: not a PNG or JPEG image: %w", path, err)
	}
	in := pub.Input
	if !resize && (cfg.Width != in[2] || cfg.Height != in[1]) {
		return nil, fmt.Errorf("%s: %s image of %dx%d pixels, the model (%s) takes %dx%d (drop --no-resize to resize)", path, format, cfg.Width, cfg.Height, pub.Arch, in[2], in[1])
	}
	if in[0] != 1 && in[0] != 3 {
		return nil, fmt.Errorf("the model takes %d-channel images; only 1 (grey) and 3 (RGB) are supported from files", in[0])
	}
	pix, err := data.ReadImage(path, in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	mean, std := pub.Mean, pub.Std
	if len(mean) != in[0] || len(std) != in[0] {
		return nil, fmt.Errorf("the served plan has no normalisation for %d channels (mean %v, std %v)", in[0], mean, std)
	}
	return data.NormalizePixels(pix, in, mean, std)
}
