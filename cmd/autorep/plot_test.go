package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autorep/autorep/pi"
)

// benchPIFixture is a small autorep bench pi --json output (the fields the
// cost plots read, plus a few they ignore).
func benchPIFixture(t *testing.T, model string, relus int, p50, lan, wan float64, offline int64, cpu float64) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"model": model, "arch": "resnet20", "dataset": "cifar10", "n": 10, "relus": relus,
		"latency_ms_p50": p50, "latency_ms_p90": p50 * 1.2, "offline_bytes": offline,
		"cpu_s_per_image": cpu, "online_bytes": 1000, "total_bytes": offline + 1000 + 5000,
		"online_rounds": 42, "offline_inline_rounds": 8,
		"estimates": []map[string]any{
			{"network": "lan", "gbit_s": 3, "rtt_ms": 0.3, "latency_ms": lan, "offline_ms": 100},
			{"network": "wan", "gbit_s": 0.4, "rtt_ms": 40, "latency_ms": wan, "offline_ms": 900},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeFiles writes name → content into dir and returns the paths in
// the order of names.
func writeFiles(t *testing.T, dir string, files map[string]string, names ...string) []string {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(dir, n)
	}
	return paths
}

func TestBenchPIValues(t *testing.T) {
	dir := t.TempDir()
	p := writeFiles(t, dir, map[string]string{
		"full.json": benchPIFixture(t, "full.safetensors", 188416, 330, 349, 1224, 970822038, 0.78),
	}, "full.json")[0]
	type pt struct {
		series string
		value  float64
	}
	for metric, want := range map[string][]pt{
		"latency":  {{"measured p50", 330}, {"LAN estimate (3 Gbit/s, 0.3 ms RTT)", 349}, {"WAN estimate (0.4 Gbit/s, 40 ms RTT)", 1224}},
		"material": {{"dealer material", 970.822038}},
		"cpu":      {{"measured", 0.78}},
		"bytes":    {{"total", 970.828038}},
		"online":   {{"online", 0.001}},
		"rounds":   {{"rounds", 50}},
	} {
		got, suite, err := benchPIValues(p, metric)
		if err != nil || suite != pi.SuiteDealer {
			t.Fatalf("%s: %v (suite %q)", metric, err, suite)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d points %+v, want %d", metric, len(got), got, len(want))
		}
		for i, w := range want {
			g := got[i]
			if g.Series != w.series || g.ReLUs != 188416 || g.Label != p || g.Value < w.value*(1-1e-12) || g.Value > w.value*(1+1e-12) {
				t.Errorf("%s point %d = %+v, want %s %v at 188416 ReLUs", metric, i, g, w.series, w.value)
			}
		}
	}
}

func TestBenchPIValuesErrors(t *testing.T) {
	dir := t.TempDir()
	good := benchPIFixture(t, "m", 1000, 10, 11, 50, 1e6, 0.1)
	var noEst map[string]any
	if err := json.Unmarshal([]byte(good), &noEst); err != nil {
		t.Fatal(err)
	}
	noEst["estimates"] = []map[string]any{{"network": "lan"}}
	bad, err := json.Marshal(noEst)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, content, metric, msg string
	}{
		{"empty.json", " \n", "latency", "empty file"},
		{"text.json", "relus: 12", "material", "not an autorep bench pi --json output"},
		{"array.json", "[1, 2]", "cpu", "not an autorep bench pi --json output"},
		{"reduce.json", `{"method": "snl", "relus": 12900, "accuracy": 90.1}`, "latency", "missing latency_ms_p50, estimates"},
		{"norelus.json", `{"offline_bytes": 5}`, "material", "missing relus"},
		{"nullcpu.json", `{"relus": 5, "cpu_s_per_image": null}`, "cpu", "missing cpu_s_per_image"},
		{"noest.json", `{"relus": 5, "latency_ms_p50": 3, "estimates": []}`, "latency", "no cost-model estimates"},
		{"estfield.json", string(bad), "latency", "estimates[0] lacks latency_ms"},
		{"negative.json", `{"relus": 5, "cpu_s_per_image": -1}`, "cpu", "bad measured value"},
		{"negrelus.json", `{"relus": -5, "offline_bytes": 1}`, "material", "negative relus"},
		{"types.json", `{"relus": "many", "offline_bytes": 1}`, "material", "relus"},
		{"nototal.json", `{"relus": 5, "offline_bytes": 1}`, "bytes", "missing total_bytes"},
	} {
		p := writeFiles(t, dir, map[string]string{c.name: c.content}, c.name)[0]
		_, _, err := benchPIValues(p, c.metric)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s (--metric %s): error %v, want one naming the file and saying %q", c.name, c.metric, err, c.msg)
		}
	}
	if _, _, err := benchPIValues(filepath.Join(dir, "absent.json"), "cpu"); err == nil {
		t.Error("absent file accepted")
	}
}

func TestPlotCostMetrics(t *testing.T) {
	dir := t.TempDir()
	files := writeFiles(t, dir, map[string]string{
		"a.json": benchPIFixture(t, "a", 188416, 330, 349, 1224, 970822038, 0.78),
		"b.json": benchPIFixture(t, "b", 12894, 171, 190, 1065, 96024828, 0.30),
		"c.json": benchPIFixture(t, "c", 50000, 232, 250, 1126, 280961206, 0.46),
	}, "a.json", "b.json", "c.json")
	out := filepath.Join(t.TempDir(), "lat.png")
	r := runCLI(t, short, append([]string{"plot", "--metric", "latency", "--json", "--out", out}, files...)...)
	wantOK(t, r)
	var got struct {
		Out    string `json:"out"`
		Metric string `json:"metric"`
		Unit   string `json:"unit"`
		Points []struct {
			Series string  `json:"series"`
			ReLUs  int     `json:"relus"`
			Value  float64 `json:"value"`
			Label  string  `json:"label"`
		} `json:"points"`
	}
	decodeJSON(t, r, &got)
	if got.Out != out || got.Metric != "latency" || !strings.Contains(got.Unit, "ms") || len(got.Points) != 9 {
		t.Fatalf("plot --metric latency --json:\n%s", r)
	}
	series := map[string]int{}
	for _, p := range got.Points {
		series[p.Series]++
	}
	if series["measured p50"] != 3 || len(series) != 3 {
		t.Errorf("series %v, want measured p50, LAN and WAN estimates with 3 points each", series)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width < 300 || cfg.Height < 200 {
		t.Fatalf("%s: %+v, %v", out, cfg, err)
	}
	// A directory argument reads its *.json files; material in MB.
	r = runCLI(t, short, "plot", "--metric", "material", "--json", "--out", out, dir)
	wantOK(t, r)
	decodeJSON(t, r, &got)
	if len(got.Points) != 3 || got.Points[0].Series != "dealer material" || got.Points[0].Value != 970.822038 {
		t.Errorf("plot --metric material of a directory:\n%s", r)
	}
	// Bad input is an error naming the file; nothing is skipped.
	bad := writeFiles(t, dir, map[string]string{"bad.json": `{"relus": 10}`}, "bad.json")[0]
	wantFail(t, runCLI(t, short, "plot", "--metric", "cpu", "--out", out, files[0], bad), 1, bad, "missing cpu_s_per_image")
	wantFail(t, runCLI(t, short, "plot", "--metric", "speed", "--out", out, files[0]), 1, "unknown --metric")
	wantFail(t, runCLI(t, short, "plot", "--metric", "cpu", "--out", out, t.TempDir()), 1, "no bench pi JSON files")
	// Files of two suites: each series split by suite, in one figure.
	two := filepath.Join(t.TempDir(), "two")
	if err := os.Mkdir(two, 0o755); err != nil {
		t.Fatal(err)
	}
	var tp map[string]any
	if err := json.Unmarshal([]byte(benchPIFixture(t, "d", 12894, 900, 950, 2000, 0, 1.2)), &tp); err != nil {
		t.Fatal(err)
	}
	tp["suite"], tp["total_bytes"] = pi.SuiteTwoParty, 30e6
	tpb, _ := json.Marshal(tp)
	writeFiles(t, two, map[string]string{"a.json": benchPIFixture(t, "a", 188416, 330, 349, 1224, 970822038, 0.78), "d.json": string(tpb)})
	r = runCLI(t, short, "plot", "--metric", "bytes", "--json", "--out", out, two)
	wantOK(t, r)
	decodeJSON(t, r, &got)
	if len(got.Points) != 2 || got.Points[0].Series != "dealer: total" || got.Points[1].Series != "twoparty: total" || got.Points[1].Value != 30 {
		t.Errorf("plot --metric bytes of two suites:\n%s", r)
	}
	// --logy: the same figure with a logarithmic value axis (the SVG's
	// tick labels are values, 50, 100, …, not a linear axis's 250.00);
	// a zero cost cannot be drawn on it.
	svg := filepath.Join(t.TempDir(), "bytes.svg")
	wantOK(t, runCLI(t, short, "plot", "--metric", "bytes", "--logy", "--out", svg, two))
	if b, err := os.ReadFile(svg); err != nil || !strings.Contains(string(b), ">100<") || strings.Contains(string(b), ".00<") {
		t.Errorf("plot --logy: no value tick label 100 in %s, or a linear axis's labels (%v)", svg, err)
	}
	zero := filepath.Join(two, "z.json")
	if err := os.WriteFile(zero, []byte(benchPIFixture(t, "z", 5000, 100, 110, 900, 0, 0)), 0o644); err != nil {
		t.Fatal(err)
	}
	wantOK(t, runCLI(t, short, "plot", "--metric", "cpu", "--out", out, two))
	wantFail(t, runCLI(t, short, "plot", "--metric", "cpu", "--logy", "--out", out, two), 1, "positive values")
	// A model file is not a bench pi output.
	wantFail(t, runCLI(t, short, "plot", "--metric", "latency", "--out", out, modelPath(t, "lenet-mnist-snl10.safetensors")), 1, "not an autorep bench pi --json output")
}
