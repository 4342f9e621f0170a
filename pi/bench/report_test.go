package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/reduce/sitecost"
)

// TestReportJSONUnchanged encodes a report with every field set, and an
// empty one, as `autorep bench pi --json` does, and writes it and a
// variant as text (WriteText, the output without --json): the bytes must
// be those the command printed before the harness moved here
// (testdata/report.golden.json and .txt, written by the old piReport and
// printPIReport with the same values).
func TestReportJSONUnchanged(t *testing.T) {
	r := &Report{Model: "m.safetensors", Suite: "twoparty", Arch: "lenet", RandomWeights: true, Method: "autorep", Degree: 2,
		Dataset: "mnist", N: 3, Skip: 4, Transport: "tcp", Frac: 12, Ell: 40, Lazy: true, Trunc: "faithful", PBits: 46, Output: "topk:3",
		ReLUs: 1000, Comparisons: 20, Agree: 0.5, SecureAcc: 0.25, FloatAcc: 0.75, MaxLogitErr: 0.125, MaxFixedErr: 0.0625,
		OnlineBytes: 12345, OnlineRounds: 17, BytesPerReLU: 12.345, OfflineBytes: 5000, ServerMaterial: 1000, ClientMaterial: 2000,
		RequestMsgs: 300, SetupBytes: 700, SetupMaterial: 800, SetupMs: 1.5, OfflineInlineBytes: 1700, OfflineInlineRounds: 9,
		TotalBytes: 18845, TotalBytesAmortized: 17845, MinEll: 37, P50: 10.5, P90: 20.25, Mean: 12, OfflineP50: 3.5, OfflineMs: 4.5,
		CPUPerImage: 0.75, PeakRSSMiB: 123.5,
		Estimates: []Estimate{{Network: "lan", Gbps: 3, RTTms: 0.3, Ms: 15.5, OfflineMs: 0.008}},
		Layers:    []Layer{{Name: "relu1", Op: "act", ReLUs: 1000, Bytes: 9000, Rounds: 8, Ms: 2.5, OfflineBytes: 1700}, {Name: "fc", Op: "linear", Bytes: 3345, Rounds: 1, Ms: 1}},
		SiteCosts: []sitecost.Site{{Site: "relu1", ReLUs: 1000, ReLUMs: 2.5, ReLUBytes: 10700, Cost: 3.5,
			Degrees: []sitecost.Poly{{Degree: 2, PolyMs: 1, PolyBytes: 2000, OnlineUs: 1.5, CPUUs: 2, BytesSaved: 8.7, BytesUs: 0.5, Cost: 3.5}}}},
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	r2 := *r
	r2.RandomWeights, r2.Skip, r2.MinEll, r2.SiteCosts = false, 0, 65, nil
	r2.Estimates = append(r2.Estimates, Estimate{Network: "wan", Gbps: 0.4, RTTms: 40, Ms: 1234.5, OfflineMs: 2})
	r2.OnlineBytes, r2.OfflineBytes, r2.TotalBytes, r2.SetupBytes = 3<<30, 5<<20, 1536, 7
	if err := r2.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	wantText, err := os.ReadFile("testdata/report.golden.txt")
	if err != nil {
		t.Fatal(err)
	}
	if text.String() != string(wantText) {
		t.Errorf("text changed:\n%s\nwant\n%s", text.String(), wantText)
	}
	var got bytes.Buffer
	enc := json.NewEncoder(&got)
	enc.SetIndent("", "  ")
	for _, v := range []*Report{r, {}} {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/report.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("JSON changed:\n%s\nwant\n%s", got.Bytes(), want)
	}
	// plot decodes it back.
	var back Report
	if err := json.Unmarshal(want[:bytes.Index(want, []byte("\n}\n"))+3], &back); err != nil || back.Estimates[0] != r.Estimates[0] || back.SiteCosts[0].Degrees[0] != r.SiteCosts[0].Degrees[0] {
		t.Errorf("decoded %+v, %v", back, err)
	}
}

// TestTotalsAndEstimates checks the derived byte totals and the cost model
// against values worked out by hand.
func TestTotalsAndEstimates(t *testing.T) {
	r := &Report{ReLUs: 100, ServerMaterial: 1000, ClientMaterial: 2000, RequestMsgs: 30, OfflineInlineBytes: 400,
		SetupBytes: 5000, SetupMaterial: 1000, OnlineBytes: 3000, OnlineRounds: 10, OfflineInlineRounds: 2, P50: 7}
	r.totals(4)
	if r.OfflineBytes != 3430 || r.TotalBytes != 5000+1000+3430+3000 || r.TotalBytesAmortized != 1500+3430+3000 || r.BytesPerReLU != 30 {
		t.Errorf("totals: offline %d, total %d, amortized %d, B/ReLU %g", r.OfflineBytes, r.TotalBytes, r.TotalBytesAmortized, r.BytesPerReLU)
	}
	r.estimate()
	// LAN: 12 rounds × 0.3 ms + 3,400 B at 375 MB/s + 7 ms; material
	// 3,000 B at 375 MB/s. WAN: 12 × 40 ms + 3,400 B at 50 MB/s + 7 ms.
	want := []Estimate{
		{Network: "lan", Gbps: 3, RTTms: 0.3, Ms: 3.6 + 3400/375e6*1e3 + 7, OfflineMs: 3000 / 375e6 * 1e3},
		{Network: "wan", Gbps: 0.4, RTTms: 40, Ms: 480 + 3400/50e6*1e3 + 7, OfflineMs: 3000 / 50e6 * 1e3},
	}
	if len(r.Estimates) != len(want) {
		t.Fatalf("estimates %+v", r.Estimates)
	}
	for i, e := range r.Estimates {
		w := want[i]
		if e.Network != w.Network || e.Gbps != w.Gbps || e.RTTms != w.RTTms || math.Abs(e.Ms-w.Ms) > 1e-9 || math.Abs(e.OfflineMs-w.OfflineMs) > 1e-12 {
			t.Errorf("estimate %d: %+v, want %+v", i, e, w)
		}
	}
	// No ReLUs: no bytes per ReLU (not a division by zero).
	z := &Report{OnlineBytes: 8}
	z.totals(1)
	if z.BytesPerReLU != 0 {
		t.Errorf("bytes per ReLU without ReLUs: %g", z.BytesPerReLU)
	}
}

// TestConfigCheck: Run refuses bad settings before loading anything, with
// the first error the command reported for its flags, in the same order.
func TestConfigCheck(t *testing.T) {
	ok := Config{Model: "lenet", N: 1, Suite: pi.SuiteDealer, Output: "logits", Options: Options{Transport: "pipe"}}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Model = "" }, "--model is required"},
		{func(c *Config) { c.N = 0; c.Transport = "udp" }, "--n must be positive"},
		{func(c *Config) { c.Transport = "udp"; c.Suite = "x" }, `--transport "udp"`},
		{func(c *Config) { c.Suite = "x"; c.Trunc = "round" }, "--suite: "},
		{func(c *Config) { c.Trunc = "faithful"; c.Output = "bogus" }, "--trunc: "},
		{func(c *Config) { c.Output = "topk:0" }, "--output: "},
		{func(c *Config) { c.Output = "label"; c.SiteCosts = true }, "--cost-out measures the logits output only"},
		{func(c *Config) { c.Suite = pi.SuiteTwoParty; c.Lazy = true }, "--lazy applies to the dealer suite"},
	} {
		cfg := ok
		c.edit(&cfg)
		err := cfg.Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", cfg, err, c.want)
		}
		if _, _, err := Run(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Run(%+v): %v, want %q", cfg, err, c.want)
		}
	}
}

// TestMeasureBadInput: more images than the set holds, or an unknown
// transport, is an error before any party starts.
func TestMeasureBadInput(t *testing.T) {
	set := &data.Set{Name: "synthetic", C: 1, H: 1, W: 2, N: 2, Classes: 2, Pixels: make([]uint8, 4), Labels: make([]int32, 2)}
	for _, c := range []struct {
		n     int
		trans string
	}{{3, "pipe"}, {0, "pipe"}, {1, "udp"}, {1, ""}} {
		if err := Measure(nil, nil, set, c.n, Options{Transport: c.trans}, &Report{}); err == nil {
			t.Errorf("n %d, transport %q accepted", c.n, c.trans)
		}
	}
	if _, err := Subset(set, 0, 0); err == nil {
		t.Error("Subset of 0 images accepted")
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestWriteTextError: a failed write is reported, not lost.
func TestWriteTextError(t *testing.T) {
	if err := (&Report{}).WriteText(failWriter{}); err == nil || err.Error() != "disk full" {
		t.Errorf("error %v", err)
	}
}
