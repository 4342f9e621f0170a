package main

import (
	"context"
	"errors"
	"fmt"
	_ "image/jpeg" // decoders for --image
	_ "image/png"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/autorep/autorep/data"
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
Latency is split into the offline phase (session opening, dealer material;
twoparty: the HE work on masks) and the online phase (input to logits),
which is what a user waits for once the session is ready. In the twoparty
suite the offline phase of an inference runs ahead of its image (--pool):
the first when the session opens, each next one after the previous result
is printed, so each inference's latency is its online phase.

The suite (dealer or twoparty) is the server's; --suite refuses any other.
Dealer suite: the dealer learns the masks that hide the image, so it must be
a party you trust not to collude with the server. Pin it with --dealer (the
server must advertise that same address) and verify it with its own
--dealer-ca/--dealer-name, never the server's: a server could otherwise run
the dealer, or have its certificate vouch for one, and read the image.
Without --dealer, infer refuses a dealer-suite server unless
--trust-server-dealer accepts the dealer it advertises (a warning is still
printed): a refusal, not a warning, by default, since a warning in a script's
log is easily missed and what leaks is the image itself.`

func runInfer(args []string) error {
	fs := newFlags("infer", "--server ADDR [--dealer ADDR --dealer-ca FILE | --trust-server-dealer] (--image FILE | --dataset D --index I) [--json]", inferSummary)
	server := fs.String("server", "127.0.0.1:7002", "model server address (verified with --tls-ca/--tls-server-name)")
	suite := fs.String("suite", "", "protocol suite to insist on: dealer or twoparty (default: the server's)")
	dealerAddr := fs.String("dealer", "", "dealer suite: the dealer you trust not to collude with the server; the server must advertise this address")
	dealerCA := fs.String("dealer-ca", "", "PEM CA bundle verifying the dealer (default: system roots; not --tls-ca, so the server's CA cannot vouch for a dealer)")
	dealerName := fs.String("dealer-name", "", "name expected in the dealer's certificate (default: the host of its address)")
	trustDealer := fs.Bool("trust-server-dealer", false, "dealer suite without --dealer: use the dealer the server advertises (a server running or choosing it can read the image)")
	imagePath := fs.String("image", "", "PNG or JPEG image to classify")
	dataset := fs.String("dataset", "", "dataset to take a test image from")
	dataDir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	index := fs.Int("index", 0, "test image index with --dataset")
	count := fs.Int("count", 1, "with --dataset: classify COUNT images from --index over one session")
	stride := fs.Int("stride", 1, "with --count: step between the images (--index, --index+STRIDE, ...)")
	noResize := fs.Bool("no-resize", false, "refuse images whose size differs from the model's input")
	pool := fs.Int("pool", 0, "dealer suite: inferences whose dealer material is fetched when the session opens (default: --count, at most 8); twoparty suite: inferences whose offline phase runs ahead of their image, the first when the session opens, each next after the previous inference (default: --count)")
	expect := fs.String("expect-hash", "", "public-plan hash (hex, as printed by serve) the server must serve")
	tokenFile := fs.String("token-file", "", "file of this client's token (hex, mode 0600; serve --gen-client-token writes one) for a server with --token-file")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object on stdout")
	tf := addTLSFlags(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	sec, err := tf.config()
	if err != nil {
		return err // before any costly work
	}
	if (*imagePath == "") == (*dataset == "") {
		fs.Usage()
		return errors.New("give exactly one of --image and --dataset")
	}
	if *count < 1 || *imagePath != "" && *count != 1 {
		return errors.New("--count must be ≥ 1 and needs --dataset")
	}
	if *stride < 1 {
		return errors.New("--stride must be ≥ 1")
	}
	if *suite != "" && *suite != "dealer" && *suite != "twoparty" {
		return fmt.Errorf("--suite %q: want dealer or twoparty", *suite)
	}
	if *dealerAddr != "" && *trustDealer {
		return errors.New("give --dealer (your own dealer) or --trust-server-dealer (the server's), not both")
	}
	var set *data.Set
	if *dataset != "" {
		var err error
		if set, err = data.Load(data.Dir(*dataDir), *dataset, false); err != nil {
			return err
		}
		if last := *index + (*count-1)**stride; *index < 0 || last >= set.N {
			return fmt.Errorf("--index %d --count %d --stride %d outside the %d test images of %s", *index, *count, *stride, set.N, *dataset)
		}
	}
	if *imagePath != "" { // fail before opening a session
		if _, _, err := data.ImageConfig(*imagePath); err != nil {
			return err
		}
	}
	// The twoparty suite holds one prepared inference at a time, so its
	// default covers every image.
	ahead := *pool
	if *pool <= 0 {
		*pool, ahead = min(*count, 8), *count
	}
	cfg := serve.ClientConfig{Server: *server, Suite: *suite, Dealer: *dealerAddr, TrustServerDealer: *trustDealer, Pool: *pool}
	if *tokenFile != "" {
		tok, err := serve.ReadClientToken(*tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		cfg.Token = tok
	}
	if *expect != "" {
		h, err := serve.HashHex(*expect)
		if err != nil {
			return err
		}
		cfg.Hash = h
	}
	opts := tf.options()
	cfg.Dial = func(ctx context.Context, addr string) (transport.Conn, error) {
		return secnet.Dial(ctx, addr, sec, opts)
	}
	// The dealer is verified with its own roots and name, not the server's.
	dsec := secnet.Config{CAFile: *dealerCA, ServerName: *dealerName, Insecure: sec.Insecure, Link: sec.Link}
	cfg.DialDealer = func(ctx context.Context, addr string) (transport.Conn, error) {
		return secnet.Dial(ctx, addr, dsec, opts)
	}
	ctx, stop := signalContext()
	defer stop()
	sess, err := serve.Dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer sess.Close()
	if m := sess.MaxInferences; m > 0 && *count > m {
		return fmt.Errorf("--count %d: the server allows %d inferences per session", *count, m)
	}
	switch {
	case sess.Suite != "dealer" && *dealerAddr != "":
		fmt.Fprintf(os.Stderr, "infer: note: the server runs suite %s, which uses no dealer; --dealer is not used\n", sess.Suite)
	case sess.Suite == "dealer" && *dealerAddr == "":
		fmt.Fprintf(os.Stderr, "infer: WARNING: using the dealer the server advertises (%s) as --trust-server-dealer asked: if the server runs or chooses it, it can read your image; pin your own with --dealer\n", sess.DealerAddr)
	}
	pub := sess.Public
	info := serve.NewSessionReport(sess)
	if set != nil && (set.C != pub.Input[0] || set.H != pub.Input[1] || set.W != pub.Input[2]) {
		return fmt.Errorf("%s images are %dx%dx%d, the served model (%s) takes %v", *dataset, set.C, set.H, set.W, pub.Arch, pub.Input)
	}
	t0 := time.Now()
	images := make([]serve.ImageReport, 0, *count)
	correct := 0
	var tot serve.Totals
	at := func(k int) int { return *index + k**stride }
	run := serve.ImageRun{N: *count, Ahead: ahead, Index: at,
		Image: func(k int) (*tensor.Tensor, error) {
			if set != nil {
				return set.Normalized(at(k)), nil
			}
			return serve.LoadImage(*imagePath, pub, !*noResize)
		},
		Done: func(k int, r *serve.Result) error {
			img := serve.NewImageReport(r)
			name := *imagePath
			if set != nil {
				i, l := at(k), int(set.Labels[at(k)])
				img.Index, img.TrueLabel, name = &i, &l, fmt.Sprint(i)
				if l == r.Label {
					correct++
				}
			}
			images = append(images, img)
			if !*jsonOut {
				printImage(name, img, r.Prepare != nil)
			}
			return nil
		}}
	if err := run.Run(ctx, sess, &tot); err != nil {
		return err
	}
	wall := time.Since(t0).Seconds()
	if !*jsonOut {
		fmt.Fprintf(os.Stderr, "session %s: opened in %.1f ms (%d B to the server, %d B dealer material prefetched)\n",
			info.Session, info.Connect.MS, info.Connect.Bytes, info.Connect.Material)
	}
	if *count == 1 {
		if !*jsonOut {
			if len(images[0].Labels) > 1 {
				fmt.Println(labelList(images[0].Labels))
			} else {
				fmt.Println(images[0].Label)
			}
			return nil
		}
		return printJSONObject(serve.Report{SessionReport: info, ImageReport: images[0]})
	}
	rep := serve.BatchReport{SessionReport: info, Count: *count, Images: images, WallSeconds: wall}
	rep.Summarize(&tot)
	if set != nil {
		a := float64(correct) / float64(*count)
		rep.Correct, rep.Accuracy = &correct, &a
	}
	if !*jsonOut {
		l := rep.LatencyMS.Online
		fmt.Fprintf(os.Stderr, "%d images in %.1f s: online ms mean %.1f, median %.1f, p90 %.1f, min %.1f; per inference %.0f B online, %.1f rounds, %.0f B material; offline ms mean %.1f",
			*count, wall, l.Mean, l.Median, l.P90, l.Min, rep.PerInference.OnlineBytes, rep.PerInference.Rounds, rep.PerInference.MaterialBytes, rep.LatencyMS.Offline.Mean)
		if p := rep.LatencyMS.Prepare; p != nil {
			fmt.Fprintf(os.Stderr, "; offline ahead ms mean %.1f, %.0f B per inference", p.Mean, rep.PerInference.PrepareBytes)
		}
		fmt.Fprintln(os.Stderr)
		if rep.Accuracy != nil {
			fmt.Fprintf(os.Stderr, "accuracy %.2f%% (%d of %d images)\n", 100**rep.Accuracy, correct, *count)
		}
		return nil
	}
	return printJSONObject(rep)
}

// printImage prints an image's result line to stderr (prepared: its
// offline phase ran ahead).
func printImage(name string, img serve.ImageReport, prepared bool) {
	fmt.Fprintf(os.Stderr, "image %s: label %d", name, img.Label)
	if len(img.Labels) > 1 {
		fmt.Fprintf(os.Stderr, " (top %d: %s)", len(img.Labels), labelList(img.Labels))
	}
	if img.TrueLabel != nil {
		fmt.Fprintf(os.Stderr, " (true %d)", *img.TrueLabel)
	}
	fmt.Fprintf(os.Stderr, "  online %.1f ms, %d B, %d rounds; offline %.1f ms, material %d B",
		img.LatencyMS.Online, img.Bytes.Online, img.Rounds, img.LatencyMS.Offline, img.Bytes.Material)
	if prepared {
		fmt.Fprintf(os.Stderr, "; offline ahead %.1f ms, %d B", img.LatencyMS.Prepare, img.Bytes.Prepare)
	}
	fmt.Fprintln(os.Stderr)
}

// labelList prints labels space-separated, best first.
func labelList(labels []int) string {
	s := make([]string, len(labels))
	for i, l := range labels {
		s[i] = strconv.Itoa(l)
	}
	return strings.Join(s, " ")
}
