package serve

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/autorep/autorep/tensor"

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

// TestClassify: three images through a dealer-suite session; the tally
// counts against labels chosen so that each counter has a known value.
// The session's report (NewSessionReport) is checked on the way.
func TestClassify(t *testing.T) {
	plan := loadPlan(t)
	d, _ := startDealer(t, "127.0.0.1:0", insecure)
	defer d.stop(t)
	srv, _ := startServer(t, plan, d.addr, 1, insecure, insecure)
	defer srv.stop(t)
	ctx, cancel := testCtx(t)
	defer cancel()
	sess, err := Dial(ctx, ClientConfig{Server: srv.addr, TrustServerDealer: true, Dial: dialer(insecure)})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	// The session's report: the plan's and the dealer's fields.
	rep, h := NewSessionReport(sess), plan.PublicHash()
	relus, _ := plan.Public.ReLUs()
	if rep.Session != sess.ID.String() || rep.Suite != pi.SuiteDealer || rep.Dealer != d.addr || rep.PlanHash != hex.EncodeToString(h[:]) ||
		rep.Arch != plan.Public.Arch || rep.ReLUs != relus || rep.Output != "logits" || rep.Connect.Bytes <= 0 || rep.Connect.MS <= 0 {
		t.Errorf("session report %+v (dealer %s, %d ReLUs)", rep, d.addr, relus)
	}
	imgs := make([]*tensor.Tensor, 3)
	fixed := make([]int, 3)
	for i := range imgs {
		imgs[i] = randImage(int64(60+i), plan.Public.Input)
		fixed[i] = fixedLabel(t, plan, imgs[i])
	}
	other := func(l int) int { return (l + 1) % plan.Public.Classes }
	// truth: right for images 0 and 1; reference: right for image 0 only,
	// and equal to the private label (= the fixed-point one) for 0 and 2.
	truth := []int{fixed[0], fixed[1], other(fixed[2])}
	ref := []int{fixed[0], other(fixed[1]), fixed[2]}
	calls := 0
	tot, err := Classify(ctx, sess, 3, func(i int) *tensor.Tensor { return imgs[i] },
		func(i int) int { return truth[i] }, func(i int) int { return ref[i] },
		func(done int, _ *Tally) {
			calls++
			if done != calls {
				t.Errorf("done %d at call %d", done, calls)
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if tot.Correct != 2 || tot.RefCorrect != 1 || tot.Agree != 2 || tot.Count() != 3 || calls != 3 {
		t.Errorf("tally %+v after %d calls", *tot, calls)
	}
	if tot.OnlineBytes <= 0 || tot.Material <= 0 || tot.Rounds <= 0 {
		t.Errorf("totals %+v", tot.Totals)
	}
	testImageRunStops(t, ctx, sess, imgs[0])
}

// testImageRunStops: ImageRun ends at an image's error (returned as it
// is), at a Done error, and at an inference's error, naming the image by
// Index; an image is counted only once inferred.
func testImageRunStops(t *testing.T, ctx context.Context, sess *Session, img *tensor.Tensor) {
	errImage, errDone := errors.New("no such image"), errors.New("stop")
	for _, c := range []struct {
		name  string
		run   ImageRun
		want  error
		text  string
		count int
	}{
		{"image error", ImageRun{N: 3, Image: func(k int) (*tensor.Tensor, error) {
			if k == 1 {
				return nil, errImage
			}
			return img, nil
		}}, errImage, "", 1},
		{"done error", ImageRun{N: 3, Image: func(int) (*tensor.Tensor, error) { return img, nil },
			Done: func(k int, r *Result) error { return errDone }}, errDone, "", 1},
		{"infer error", ImageRun{N: 2, Index: func(k int) int { return 7 + 2*k }, Ahead: 2, Image: func(k int) (*tensor.Tensor, error) {
			if k == 1 {
				return tensor.New(1, 1, 2, 2), nil // not the model's input
			}
			return img, nil
		}}, nil, "image 9: serve: image of shape", 1},
	} {
		var tot Totals
		done := 0
		if c.run.Done == nil {
			c.run.Done = func(int, *Result) error { done++; return nil }
		} else {
			done = 1
		}
		err := c.run.Run(ctx, sess, &tot)
		switch {
		case err == nil:
			t.Errorf("%s: no error", c.name)
		case c.want != nil && err != c.want:
			t.Errorf("%s: error %v, want %v as it is", c.name, err, c.want)
		case c.text != "" && !strings.HasPrefix(err.Error(), c.text):
			t.Errorf("%s: error %q, want it to start %q", c.name, err, c.text)
		}
		if tot.Count() != c.count || done != c.count {
			t.Errorf("%s: %d results counted, Done called %d times, want %d", c.name, tot.Count(), done, c.count)
		}
	}
}
