package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/autorep/autorep/pi"
)

// CostMetrics maps the cost metrics `autorep plot --metric` draws from
// reports to their value axis labels.
var CostMetrics = map[string]string{
	"latency":  "online latency per image (ms)",
	"material": "dealer material per image (MB)",
	"cpu":      "CPU time per image (s)",
	"bytes":    "total bytes per image, setup + offline + online (MB)",
	"online":   "online bytes per image (MB)",
	"rounds":   "online rounds per image",
}

// metricKeys lists, per cost metric, the JSON fields of a report that the
// metric needs (besides relus).
var metricKeys = map[string][]string{
	"latency":  {"latency_ms_p50", "estimates"},
	"material": {"offline_bytes"},
	"cpu":      {"cpu_s_per_image"},
	"bytes":    {"total_bytes"},
	"online":   {"online_bytes"},
	"rounds":   {"online_rounds"},
}

// MetricValue is one series' value of a cost metric in a report.
type MetricValue struct {
	Series string
	Value  float64
}

// DecodeMetric decodes a report (`autorep bench pi --json` output) and
// returns it with its values for a cost metric (CostMetrics): latency gives
// the measured online p50 and each cost-model estimate, rounds the rounds on
// the online critical path (online plus the twoparty suite's inline offline
// ones), the byte metrics megabytes. A report without a suite (written
// before the twoparty suite) is the dealer suite's. Input that is not such
// a report, lacks the metric's fields, or holds a negative or non-finite
// value is an error.
func DecodeMetric(b []byte, metric string) (*Report, []MetricValue, error) {
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, nil, errors.New("empty file (want autorep bench pi --json output)")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, nil, fmt.Errorf("not an autorep bench pi --json output: %w", err)
	}
	var missing []string
	for _, k := range append([]string{"relus"}, metricKeys[metric]...) {
		if v, ok := raw[k]; !ok || string(v) == "null" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("not an autorep bench pi --json output for --metric %s (missing %s)", metric, strings.Join(missing, ", "))
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, nil, err
	}
	if rep.ReLUs < 0 {
		return nil, nil, fmt.Errorf("negative relus %d", rep.ReLUs)
	}
	var vals []MetricValue
	switch metric {
	case "latency":
		vals = append(vals, MetricValue{"measured p50", rep.P50})
		var ests []map[string]json.RawMessage
		if err := json.Unmarshal(raw["estimates"], &ests); err != nil {
			return nil, nil, fmt.Errorf("estimates: %w", err)
		}
		if len(ests) == 0 {
			return nil, nil, errors.New("no cost-model estimates")
		}
		for i, e := range ests {
			for _, k := range []string{"network", "latency_ms"} {
				if _, ok := e[k]; !ok {
					return nil, nil, fmt.Errorf("estimates[%d] lacks %s", i, k)
				}
			}
			est := rep.Estimates[i]
			name := strings.ToUpper(est.Network) + " estimate"
			if est.Gbps > 0 {
				name += fmt.Sprintf(" (%g Gbit/s, %g ms RTT)", est.Gbps, est.RTTms)
			}
			vals = append(vals, MetricValue{name, est.Ms})
		}
	case "material":
		vals = append(vals, MetricValue{"dealer material", float64(rep.OfflineBytes) / 1e6})
	case "cpu":
		vals = append(vals, MetricValue{"measured", rep.CPUPerImage})
	case "bytes":
		vals = append(vals, MetricValue{"total", float64(rep.TotalBytes) / 1e6})
	case "online":
		vals = append(vals, MetricValue{"online", float64(rep.OnlineBytes) / 1e6})
	case "rounds":
		vals = append(vals, MetricValue{"rounds", float64(rep.OnlineRounds + rep.OfflineInlineRounds)})
	default:
		return nil, nil, fmt.Errorf("unknown cost metric %q", metric)
	}
	for _, v := range vals {
		if v.Value < 0 || math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
			return nil, nil, fmt.Errorf("bad %s value %v", v.Series, v.Value)
		}
	}
	if rep.Suite == "" { // outputs from before the twoparty suite
		rep.Suite = pi.SuiteDealer
	}
	return &rep, vals, nil
}
