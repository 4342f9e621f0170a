package bench

import (
	"context"
	"fmt"
	"github.com/autorep/autorep/mpc/dealer"
	"io"
	"math"
	"sync"
	"time"

	"github.com/autorep/autorep/data"
	"github.com/autorep/autorep/internal/cputime"
	"github.com/autorep/autorep/internal/progress"
	"github.com/autorep/autorep/internal/stat"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/pi"
	"github.com/autorep/autorep/tensor"
	"github.com/autorep/autorep/transport"
)

// Measure serves plan to a client over o.Transport and runs the first n
// images of set one by one, in the suite rep.Suite ("": the dealer suite,
// with an in-process dealer), checking each against the fixed-point
// executor and the float model m. It fills rep's measured fields; the
// description fields (model, dataset, ReLUs, ...) are the caller's.
func Measure(plan *pi.Plan, m *models.Model, set *data.Set, n int, o Options, rep *Report) error {
	if n <= 0 || n > set.N {
		return fmt.Errorf("bench: %d images asked of a set of %d", n, set.N)
	}
	if err := validTransport(o.Transport); err != nil {
		return err
	}
	if rep.Suite == "" {
		rep.Suite = pi.SuiteDealer
	}
	var p0, p1 corr.Provider
	if rep.Suite == pi.SuiteDealer {
		gen, err := dealer.NewRandomGenerator()
		if err != nil {
			return err
		}
		p0, p1 = dealer.LocalProviders(gen)
	}
	c0, c1, err := conns(o.Transport)
	if err != nil {
		return err
	}
	defer c0.Close()
	defer c1.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var serverStats []pi.Stats
	srv := &pi.Server{Plan: plan, Provider: p0, Suite: rep.Suite, Lazy: o.Lazy, OnInference: func(s pi.Stats) {
		mu.Lock()
		serverStats = append(serverStats, s)
		mu.Unlock()
	}}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, c0) }()
	cl := &pi.Client{Public: plan.Public, Provider: p1, Suite: rep.Suite, Lazy: o.Lazy}
	if err := cl.Connect(ctx, c1); err != nil {
		return serverErr(err, done)
	}
	rep.SetupBytes, rep.SetupMaterial, rep.SetupMs = cl.Setup.Offline.Bytes(), cl.Setup.Material, ms(cl.Setup.Time)
	w := o.Progress
	if w == nil {
		w = io.Discard
	}
	bar := progress.New(w, "bench pi", n, "img")
	var lat, off []float64
	var layers []Layer
	agree, secOK, fltOK := 0, 0, 0
	for i := 0; i < n; i++ {
		x := set.Normalized(i)
		cpu0 := cputime.Seconds()
		y, st, err := cl.Infer(ctx, c1, x)
		if err != nil {
			return serverErr(err, done)
		}
		rep.CPUPerImage += (cputime.Seconds() - cpu0) / float64(n)
		fx, err := plan.EvalFixed(x)
		if err != nil {
			return err
		}
		if rep.Suite == pi.SuiteTwoParty {
			e, err := plan.MinEll(x)
			if err != nil {
				return fmt.Errorf("image %d: %w", i, err)
			}
			rep.MinEll = max(rep.MinEll, e)
		}
		fl, err := pi.ReferenceLogits(m, x)
		if err != nil {
			return err
		}
		ls, lf, lfl := stat.Argmax(y.Data), stat.Argmax(fx.Data), stat.Argmax(fl.Data)
		if plan.Public.TopK > 0 { // the client got labels, best first, no logits
			ls = int(y.Data[0])
		}
		if int32(ls) == set.Labels[i] {
			secOK++
		}
		if int32(lfl) == set.Labels[i] {
			fltOK++
		}
		dl, dx := tensor.MaxAbsDiff(y, fl), tensor.MaxAbsDiff(y, fx)
		if plan.Public.TopK > 0 {
			dl, dx = 0, 0 // no logits to compare
		}
		if math.IsInf(dl, 1) || math.IsInf(dx, 1) {
			// A shape mismatch or a NaN/Inf logit, not an error to average away.
			return fmt.Errorf("image %d: secure logits %v %v are not comparable with the float %v and fixed-point %v references (max |diff| %g, %g)",
				i, y, y.Data, fl, fx, dl, dx)
		}
		if ls == lf {
			agree++
		} else {
			var logits []float32
			if plan.Public.TopK == 0 {
				logits = fx.Data
			}
			rep.Disagreements = append(rep.Disagreements, disagreement(rep.Skip+i, int(set.Labels[i]), lf, ls, logits, dx))
		}
		rep.MaxLogitErr = math.Max(rep.MaxLogitErr, dl)
		rep.MaxFixedErr = math.Max(rep.MaxFixedErr, dx)
		lat = append(lat, ms(st.OnlineTime))
		off = append(off, ms(st.OfflineTime))
		rep.OfflineMs += ms(st.OfflineTime) / float64(n)
		if i == 0 {
			rep.OnlineBytes, rep.OnlineRounds = st.Online.Bytes(), st.Online.Rounds
			rep.ClientMaterial, rep.RequestMsgs = st.Material, st.OfflineMsgs.Bytes()
			rep.OfflineInlineBytes, rep.OfflineInlineRounds = st.OfflineInline.Bytes(), st.OfflineInline.Rounds
			for _, l := range st.Layers {
				layers = append(layers, Layer{Name: l.Name, Op: string(l.Op), ReLUs: l.ReLUs, Bytes: l.Bytes, Rounds: l.Rounds, OfflineBytes: l.OfflineBytes})
			}
		} else if st.Online.Bytes() != rep.OnlineBytes {
			return fmt.Errorf("image %d: %d online bytes, image 0 had %d", i, st.Online.Bytes(), rep.OnlineBytes)
		}
		for k := range layers {
			if k < len(st.Layers) {
				layers[k].Ms += ms(st.Layers[k].Time) / float64(n)
			}
		}
		bar.Set(i+1, fmt.Sprintf("agree %d/%d, p50 %.0f ms", agree, i+1, stat.Percentile(lat, 0.5)))
	}
	bar.Finish("")
	if err := cl.Close(); err != nil {
		return err
	}
	if err := <-done; err != nil {
		return fmt.Errorf("server: %w", err)
	}
	mu.Lock()
	if len(serverStats) > 0 {
		rep.ServerMaterial = serverStats[0].Material
	}
	mu.Unlock()
	rep.Layers = layers
	rep.Agree = float64(agree) / float64(n)
	rep.SecureAcc = float64(secOK) / float64(n)
	rep.FloatAcc = float64(fltOK) / float64(n)
	rep.totals(n)
	rep.P50, rep.P90 = stat.Percentile(lat, 0.5), stat.Percentile(lat, 0.9)
	for _, v := range lat {
		rep.Mean += v / float64(len(lat))
	}
	rep.OfflineP50 = stat.Percentile(off, 0.5)
	rep.estimate()
	return nil
}

// totals derives the byte totals of a session of n images from the
// measured parts.
func (r *Report) totals(n int) {
	r.OfflineBytes = r.ServerMaterial + r.ClientMaterial + r.RequestMsgs + r.OfflineInlineBytes
	r.TotalBytes = r.SetupBytes + r.SetupMaterial + r.OfflineBytes + r.OnlineBytes
	r.TotalBytesAmortized = (r.SetupBytes+r.SetupMaterial)/int64(n) + r.OfflineBytes + r.OnlineBytes
	if r.ReLUs > 0 {
		r.BytesPerReLU = float64(r.OnlineBytes) / float64(r.ReLUs)
	}
}

// estimate sets the cost model's latency on each of Networks: rounds ×
// RTT + bytes / bandwidth + the measured online p50.
func (r *Report) estimate() {
	for _, nm := range Networks {
		bps := nm.Gbps * 1e9 / 8 // bytes per second
		// The twoparty suite's inline offline traffic and rounds are on
		// the online phase's critical path (zero for the dealer suite).
		rounds, bytes := r.OnlineRounds+r.OfflineInlineRounds, r.OnlineBytes+r.OfflineInlineBytes
		r.Estimates = append(r.Estimates, Estimate{Network: nm.Name, Gbps: nm.Gbps, RTTms: nm.RTT,
			Ms:        float64(rounds)*nm.RTT + float64(bytes)/bps*1e3 + r.P50,
			OfflineMs: float64(r.ServerMaterial+r.ClientMaterial) / bps * 1e3})
	}
}

// serverErr adds the server's error, if it ends within a second, to the
// client's.
func serverErr(err error, done chan error) error {
	select {
	case serr := <-done:
		if serr != nil {
			return fmt.Errorf("%w (server: %v)", err, serr)
		}
	case <-time.After(time.Second):
	}
	return err
}

// conns returns the server's and the client's connection.
func conns(trans string) (transport.Conn, transport.Conn, error) {
	if trans == "pipe" {
		a, b := transport.Pipe()
		return a, b, nil
	}
	l, err := transport.Listen("127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type acc struct {
		c   transport.Conn
		err error
	}
	ch := make(chan acc, 1)
	go func() {
		c, err := l.Accept(ctx)
		ch <- acc{c, err}
	}()
	c1, err := transport.Dial(ctx, l.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	a := <-ch
	if a.err != nil {
		c1.Close()
		return nil, nil, a.err
	}
	return a.c, c1, nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
