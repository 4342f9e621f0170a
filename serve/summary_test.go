package serve

import (
	"testing"
	"time"

	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/transport"
)

func TestSummarizeLatency(t *testing.T) {
	if got := SummarizeLatency(nil); got != (LatencyStats{}) {
		t.Errorf("empty: %+v", got)
	}
	v := []float64{5, 1, 4, 2, 3, 10, 6, 7, 9, 8}
	want := LatencyStats{Mean: 5.5, Median: 5, P90: 9, Min: 1, Max: 10}
	if got := SummarizeLatency(v); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if v[0] != 5 || v[1] != 1 {
		t.Error("SummarizeLatency reordered its input")
	}
}

func TestTotals(t *testing.T) {
	var tot Totals
	for i := int64(1); i <= 3; i++ {
		tot.Add(&Result{Material: 100 * i, Stats: pi.Stats{
			Online:        transport.Counts{BytesSent: i, BytesRecv: 10 * i, Rounds: i},
			OfflineMsgs:   transport.Counts{BytesSent: 1000 * i},
			OfflineInline: transport.Counts{BytesRecv: 7},
			OnlineTime:    time.Duration(i) * 1500 * time.Microsecond,
			OfflineTime:   time.Duration(i) * time.Millisecond,
		}})
	}
	if tot.Count() != 3 || tot.OnlineBytes != 66 || tot.Rounds != 6 || tot.OfflineMsgBytes != 6000 || tot.OfflineInlineBytes != 21 || tot.Material != 600 {
		t.Errorf("totals %+v", tot)
	}
	if Sum(tot.OnlineMS) != 9 || Sum(tot.OfflineMS) != 6 || tot.OnlineMS[2] != 4.5 {
		t.Errorf("latencies %v / %v", tot.OnlineMS, tot.OfflineMS)
	}
}
