package bench

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/autorep/autorep/pi"
)

// TestDecodeMetric decodes a report as Measure fills it and checks every
// cost metric's values, the suite and method it records, and that an
// unknown metric or a non-finite value is refused.
func TestDecodeMetric(t *testing.T) {
	r := &Report{Suite: pi.SuiteTwoParty, Method: "autorep", Degree: 2, ReLUs: 4096, P50: 12.5, OfflineBytes: 3_500_000,
		CPUPerImage: 0.25, TotalBytes: 9_000_000, OnlineBytes: 1_250_000, OnlineRounds: 40, OfflineInlineRounds: 6}
	r.estimate()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for metric, want := range map[string][]MetricValue{
		"latency": {{"measured p50", 12.5}, {"LAN estimate (3 Gbit/s, 0.3 ms RTT)", r.Estimates[0].Ms},
			{"WAN estimate (0.4 Gbit/s, 40 ms RTT)", r.Estimates[1].Ms}},
		"material": {{"dealer material", 3.5}},
		"cpu":      {{"measured", 0.25}},
		"bytes":    {{"total", 9}},
		"online":   {{"online", 1.25}},
		"rounds":   {{"rounds", 46}},
	} {
		rep, got, err := DecodeMetric(b, metric)
		if err != nil || rep.Suite != pi.SuiteTwoParty || rep.Method != "autorep" || rep.Degree != 2 || rep.ReLUs != 4096 {
			t.Fatalf("%s: %v, %+v", metric, err, rep)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %+v, want %+v", metric, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s %d: %+v, want %+v", metric, i, got[i], want[i])
			}
		}
	}
	if _, _, err := DecodeMetric(b, "accuracy"); err == nil || !strings.Contains(err.Error(), "unknown cost metric") {
		t.Errorf("unknown metric: %v", err)
	}
	// A report from before the twoparty suite names none: the dealer's.
	rep, _, err := DecodeMetric([]byte(`{"relus": 3, "cpu_s_per_image": 0.5}`), "cpu")
	if err != nil || rep.Suite != pi.SuiteDealer {
		t.Errorf("no suite: %v, %+v", err, rep)
	}
	for _, in := range []string{`{"relus": 3, "cpu_s_per_image": 1e999}`, `{"relus": 3, "cpu_s_per_image": -0.5}`} {
		if _, _, err := DecodeMetric([]byte(in), "cpu"); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
}
