package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSoakScript: scripts/soak.sh at a tiny size (2 clients x 2
// inferences), as the dealer suite over insecure loopback (the default)
// and as the twoparty suite over TLS with client tokens: every inference
// done, latencies and RSS samples recorded, and serve's metrics counting
// the inferences.
func TestSoakScript(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the soak.sh run")
	}
	dataDir := needData(t, "mnist")
	for _, tool := range []string{"bash", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: %v", tool, err)
		}
	}
	bin := autorepBin(t)
	for _, tc := range []struct {
		name string
		args []string
	}{{"dealer", nil}, {"twoparty-tls-tokens", []string{"--suite", "twoparty", "--tls", "--tokens"}}} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			args := append([]string{filepath.Join("..", "..", "scripts", "soak.sh"), "--bin", bin,
				"--model", modelPath(t, "lenet-mnist.safetensors"), "--clients", "2", "--inferences", "2", "--interval", "1", "--out", out}, tc.args...)
			cmd := exec.CommandContext(ctx, "bash", args...)
			cmd.Env = append(os.Environ(), "AUTOREP_DATA="+dataDir)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("soak.sh: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			var sum struct {
				Suite      string             `json:"suite"`
				TLS        bool               `json:"tls"`
				Tokens     bool               `json:"client_tokens"`
				Done       int                `json:"inferences_done"`
				Failed     int                `json:"clients_failed"`
				Throughput float64            `json:"throughput_per_s"`
				Latency    map[string]float64 `json:"latency_ms"`
				RSS        map[string]float64 `json:"rss_mib"`
			}
			if err := json.Unmarshal([]byte(stdout.String()), &sum); err != nil {
				t.Fatalf("summary: %v\n%s", err, stdout.String())
			}
			dealer := tc.args == nil
			if sum.Done != 4 || sum.Failed != 0 || sum.Throughput <= 0 || sum.Latency["total_p99"] < sum.Latency["total_p50"] || sum.Latency["online_p50"] <= 0 || sum.RSS["serve_max"] <= 0 ||
				(sum.RSS["dealer_max"] > 0) != dealer || (sum.Suite == "dealer") != dealer || sum.TLS == dealer || sum.Tokens == dealer {
				t.Errorf("summary %s", stdout.String())
			}
			b, err := os.ReadFile(filepath.Join(out, "metrics-end-serve.txt"))
			if err != nil || !strings.Contains(string(b), "autorep_serve_inferences_total 4\n") {
				t.Errorf("serve's metrics after the soak (%v):\n%s", err, b)
			}
			csv, err := os.ReadFile(filepath.Join(out, "rss.csv"))
			if err != nil || strings.Count(string(csv), "\n") < 3 {
				t.Errorf("rss.csv (%v):\n%s", err, csv)
			}
		})
	}
}
