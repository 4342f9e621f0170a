package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/models"
	mpcdealer "github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/serve"
	"github.com/autorep/autorep/serve/dealer"
	"github.com/autorep/autorep/serve/secnet"
	"github.com/autorep/autorep/transport"
)

// dataDir returns $AUTOREP_DATA, or skips the test when it has no MNIST.
func dataDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("AUTOREP_DATA")
	if dir == "" {
		t.Skip("AUTOREP_DATA not set: skipping (needs mnist)")
	}
	if _, err := os.Stat(filepath.Join(dir, "mnist")); err != nil {
		t.Skipf("AUTOREP_DATA=%s has no mnist: skipping", dir)
	}
	return dir
}

// TestTrainReduce runs the demo's two library steps on MNIST subsets
// (the demo itself trains on everything): a trained all-ReLU LeNet, then an
// AutoReP model within the budget, both loadable.
func TestTrainReduce(t *testing.T) {
	dir := dataDir(t)
	work := t.TempDir()
	base, reduced := filepath.Join(work, "lenet.safetensors"), filepath.Join(work, "lenet-autorep.safetensors")
	tr := Train(dir, 1, base)
	tr.Limit, tr.TestLimit, tr.Progress = 2048, 200, nil
	res, err := tr.Run()
	if err != nil {
		t.Fatal(err)
	}
	if res.Last.TestAcc < 0.5 { // chance is 0.1
		t.Errorf("LeNet after one epoch on 2048 images: test accuracy %.2f", res.Last.TestAcc)
	}
	red := Reduce(dir, base, "15%", 2, 1, 0.004, reduced)
	red.TrainLimit, red.Config.Progress = 512, nil
	rec, err := red.Run()
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.Load(reduced)
	if err != nil {
		t.Fatal(err)
	}
	_, relus := m.ReLUCount()
	if relus != rec.ReLUs || relus > rec.Budget || rec.Budget != 976 || rec.Method != "autorep" {
		t.Errorf("reduced model: %d ReLUs, record %d of budget %d (%s)", relus, rec.ReLUs, rec.Budget, rec.Method)
	}
}

// TestRowsBothSuites runs the demo's per-suite measurement on 2 MNIST
// test images against in-process servers on loopback: a dealer and a
// dealer-suite server, and a twoparty server at the width Ell fits on
// those images plus one bit (as the demo does). Both rows' private labels
// equal the plaintext ones; the byte columns add up; the dealer suite's
// generated client material equals what the client received (Run
// fails otherwise); the twoparty row has no dealer material but
// input-independent traffic; the JSON carries both suites.
func TestRowsBothSuites(t *testing.T) {
	dir := dataDir(t)
	test, err := data.Load(dir, "mnist", false)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2
	file := filepath.Join("..", "models", "lenet-mnist.safetensors")
	need, err := Ell(file, test, n)
	if err != nil {
		t.Fatal(err)
	}
	if need < 2*pi.DefaultHEFrac+2 || need > 64 { // 2f+2 at the twoparty form's f is the floor
		t.Fatalf("MinEll %d on %d images", need, n)
	}
	ell := need + 1
	m, err := models.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sec := secnet.Config{Insecure: true}
	listen := func() *secnet.Listener {
		ln, err := secnet.Listen("127.0.0.1:0", sec, transport.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	var wait []chan error
	run := func(serveFn func(context.Context, *secnet.Listener) error, ln *secnet.Listener) {
		done := make(chan error, 1)
		go func() { done <- serveFn(ctx, ln) }()
		wait = append(wait, done)
	}
	defer func() {
		cancel()
		for _, d := range wait {
			<-d
		}
	}()
	dialer := func(ctx context.Context, a string) (transport.Conn, error) {
		return secnet.Dial(ctx, a, sec, transport.DefaultOptions())
	}

	dln, sln, tln := listen(), listen(), listen()
	run((&dealer.Server{Generator: mpcdealer.NewGenerator(ring.Seed{7}), Grace: -1}).Serve, dln)
	dplan, err := pi.Compile(m, pi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	run((&serve.Server{Plan: dplan, Dealer: &serve.DealerConfig{Addr: dln.Addr().String(), Dial: dialer, Pool: 1}, Grace: time.Second}).Serve, sln)
	tplan, err := pi.Compile(m, pi.Config{Ell: ell, Poly: pi.PolyFormFor(pi.SuiteTwoParty), Trunc: pi.TruncFor(pi.SuiteTwoParty)})
	if err != nil {
		t.Fatal(err)
	}
	run((&serve.Server{Plan: tplan, Suite: pi.SuiteTwoParty, Grace: time.Second}).Serve, tln)

	var rows []Row
	for _, tg := range []Target{
		{Name: "LeNet", Suite: pi.SuiteDealer, File: file, Addr: sln.Addr().String(), N: n},
		{Name: "LeNet", Suite: pi.SuiteTwoParty, File: file, Addr: tln.Addr().String(), N: n},
	} {
		r, err := Run(ctx, tg, sec, test)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", *r)
		if r.Suite != tg.Suite || r.Images != n || r.Agree != 1 || r.ReLUs != 6508 {
			t.Errorf("%s row: suite %q, %d images, agreement %.2f, %d ReLUs", tg.Suite, r.Suite, r.Images, r.Agree, r.ReLUs)
		}
		if r.TotalBytes != r.SetupBytes+r.OfflineBytes+r.OnlineBytes || r.OnlineBytes <= 0 || r.OfflineBytes <= 0 || r.SetupBytes < r.ConnectBytes || r.Rounds <= 0 {
			t.Errorf("%s row: total %d = setup %d + offline %d + online %d? rounds %d", tg.Suite, r.TotalBytes, r.SetupBytes, r.OfflineBytes, r.OnlineBytes, r.Rounds)
		}
		rows = append(rows, *r)
	}
	if d := rows[0]; d.Ell != 64 || d.Material <= 0 || d.ServerMaterial <= 0 || d.OfflineBytes < d.Material+d.ServerMaterial {
		t.Errorf("dealer row: ell %d, material client %d server %d, offline %d", d.Ell, d.Material, d.ServerMaterial, d.OfflineBytes)
	}
	if tp := rows[1]; tp.Ell != ell || tp.Material != 0 || tp.ServerMaterial != 0 {
		t.Errorf("twoparty row: ell %d (want %d), material client %d server %d", tp.Ell, ell, tp.Material, tp.ServerMaterial)
	}

	var buf bytes.Buffer
	if err := WriteJSON(&buf, n, n, rows, 1); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Models []struct {
			Suite string  `json:"suite"`
			Agree float64 `json:"label_agreement"`
			Total int64   `json:"total_bytes_per_inference"`
		} `json:"models"`
		TwoPartyImages int `json:"twoparty_images"`
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Models) != 2 || out.Models[0].Suite != pi.SuiteDealer || out.Models[1].Suite != pi.SuiteTwoParty ||
		out.Models[1].Total != rows[1].TotalBytes || out.TwoPartyImages != n {
		t.Errorf("JSON %s", buf.Bytes())
	}
}

// TestHeadline: the headline compares every reduced row with the
// all-ReLU row of the same suite (its first), in the direction the numbers
// go, never a reduced row with another.
func TestHeadline(t *testing.T) {
	rows := []Row{
		{Suite: "dealer", Name: "all", ReLUs: 100, TotalBytes: 400, OnlineMS: 10, OnlineBytes: 50, Rounds: 9},
		{Suite: "dealer", Name: "red", ReLUs: 10, TotalBytes: 100, OnlineMS: 5, OnlineBytes: 50, Rounds: 9},
		{Suite: "dealer", Name: "red1", ReLUs: 12, TotalBytes: 80, OnlineMS: 4, OnlineBytes: 40, Rounds: 8},
		{Suite: "twoparty", Name: "all", ReLUs: 100, TotalBytes: 400, OnlineMS: 10, OnlineBytes: 300, Rounds: 50},
		{Suite: "twoparty", Name: "red", ReLUs: 10, TotalBytes: 600, OnlineMS: 40, OnlineBytes: 500, Rounds: 80},
		{Suite: "twoparty", Name: "red1", ReLUs: 12, TotalBytes: 160, OnlineMS: 8, OnlineBytes: 200, Rounds: 40},
	}
	want := []string{
		"dealer suite: red (10 of 100 ReLUs) ×4.00 fewer total bytes and ×2.00 faster online per image than all, online 50 vs 50 B, 9 vs 9 rounds.",
		"dealer suite: red1 (12 of 100 ReLUs) ×5.00 fewer total bytes and ×2.50 faster online per image than all, online 40 vs 50 B, 8 vs 9 rounds.",
		"twoparty suite: red (10 of 100 ReLUs) ×1.50 more total bytes and ×4.00 slower online per image than all, online 500 vs 300 B, 80 vs 50 rounds.",
		"twoparty suite: red1 (12 of 100 ReLUs) ×2.50 fewer total bytes and ×1.25 faster online per image than all, online 200 vs 300 B, 40 vs 50 rounds.",
	}
	if got := Headline(rows); !reflect.DeepEqual(got, want) {
		t.Errorf("headline\n got %q\nwant %q", got, want)
	}
	if got := Headline(rows[2:4]); len(got) != 0 {
		t.Errorf("rows of different suites compared: %q", got)
	}
}
