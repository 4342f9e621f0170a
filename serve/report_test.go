package serve

import (
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/transport"
)

// TestImageAndBatchReport: a result's report and a batch's aggregates
// take exact values from the results, and a one-image report lists the
// session's fields, then the image's, at the top level.
func TestImageAndBatchReport(t *testing.T) {
	var tot Totals
	var imgs []ImageReport
	for i := int64(1); i <= 4; i++ {
		r := &Result{Label: int(i), Logits: []float32{float32(i)}, Material: 100 * i, Stats: pi.Stats{
			Online:      transport.Counts{BytesSent: i, BytesRecv: 10 * i, Rounds: i},
			OfflineMsgs: transport.Counts{BytesSent: 1000 * i},
			OnlineTime:  time.Duration(i) * 1500 * time.Microsecond,
			OfflineTime: time.Duration(i) * time.Millisecond,
		}}
		tot.Add(r)
		imgs = append(imgs, NewImageReport(r))
	}
	im := imgs[1]
	if im.Label != 2 || !slices.Equal(im.Logits, []float32{2}) || im.Rounds != 2 || im.LatencyMS.Online != 3 || im.LatencyMS.Offline != 2 ||
		im.Bytes.Online != 22 || im.Bytes.Offline != 2000 || im.Bytes.Material != 200 || im.Index != nil || im.TrueLabel != nil {
		t.Errorf("image report %+v", im)
	}
	b := BatchReport{Count: 4, Images: imgs}
	b.Summarize(&tot)
	if b.Total.OnlineMS != 15 || b.Total.OfflineMS != 10 || b.Total.OnlineBytes != 110 || b.Total.OfflineBytes != 10000 ||
		b.Total.MaterialBytes != 1000 || b.Total.Rounds != 10 {
		t.Errorf("totals %+v", b.Total)
	}
	if p := b.PerInference; p.OnlineBytes != 27.5 || p.OfflineBytes != 2500 || p.MaterialBytes != 250 || p.Rounds != 2.5 {
		t.Errorf("per inference %+v", p)
	}
	if l := b.LatencyMS.Online; l.Mean != 3.75 || l.Median != 3 || l.P90 != 6 || l.Min != 1.5 || l.Max != 6 {
		t.Errorf("online latency %+v", l)
	}

	out, err := json.Marshal(Report{SessionReport: SessionReport{Session: "s", Suite: pi.SuiteDealer}, ImageReport: im})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	dec := json.NewDecoder(strings.NewReader(string(out)))
	dec.Token() // {
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"session", "suite", "plan_hash", "arch", "relus", "output", "connect", "label", "logits", "latency_ms", "bytes", "rounds"}
	if !slices.Equal(keys, want) {
		t.Errorf("one-image report keys %q, want %q", keys, want)
	}
}

// TestLoadImage reads a grey PNG as a plan's input: normalised with the
// plan's statistics, resized only when asked, and refused with a reason
// for a size mismatch, an unsupported channel count or a plan without
// normalisation.
func TestLoadImage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.png")
	img := image.NewGray(image.Rect(0, 0, 6, 5))
	for i := range img.Pix {
		img.Pix[i] = uint8(10 * i)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	pub := &pi.Public{Arch: "lenet", Input: [3]int{1, 5, 6}, Mean: []float32{0.5}, Std: []float32{0.25}}
	x, err := LoadImage(path, pub, false)
	if err != nil {
		t.Fatal(err)
	}
	want, err := data.NormalizePixels(img.Pix, pub.Input, pub.Mean, pub.Std)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x.Shape, []int{1, 1, 5, 6}) || !slices.Equal(x.Data, want.Data) || x.Data[0] != -2 {
		t.Errorf("shape %v, values %v, want %v", x.Shape, x.Data, want.Data)
	}
	small := &pi.Public{Arch: "lenet", Input: [3]int{1, 4, 4}, Mean: []float32{0.5}, Std: []float32{0.25}}
	if _, err := LoadImage(path, small, false); err == nil || !strings.Contains(err.Error(), "6x5 pixels, the model (lenet) takes 4x4") {
		t.Errorf("size mismatch without resizing: %v", err)
	}
	if x, err := LoadImage(path, small, true); err != nil || !slices.Equal(x.Shape, []int{1, 1, 4, 4}) {
		t.Errorf("resized: %v", err)
	}
	two := &pi.Public{Input: [3]int{2, 5, 6}, Mean: []float32{0, 0}, Std: []float32{1, 1}}
	if _, err := LoadImage(path, two, false); err == nil || !strings.Contains(err.Error(), "2-channel") {
		t.Errorf("2 channels: %v", err)
	}
	bare := &pi.Public{Input: [3]int{1, 5, 6}}
	if _, err := LoadImage(path, bare, false); err == nil || !strings.Contains(err.Error(), "no normalisation") {
		t.Errorf("no mean/std: %v", err)
	}
}
