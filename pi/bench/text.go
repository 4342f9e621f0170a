package bench

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report as `autorep bench pi` prints it without
// --json: a summary, the cost-model estimates, the per-layer table and the
// site costs (when measured). It returns the first write error.
func (r *Report) WriteText(out io.Writer) error {
	w := &errWriter{w: out}
	kind := ""
	if r.RandomWeights {
		kind = " (random weights)"
	}
	skipped := ""
	if r.Skip > 0 {
		skipped = fmt.Sprintf(" (after the first %d of the subset)", r.Skip)
	}
	fmt.Fprintf(w, "private inference (%s suite): %s%s on %s, %d images%s, %s transport, f=%d, ell=%d\n", r.Suite, r.Arch, kind, r.Dataset, r.N, skipped, r.Transport, r.Frac, r.Ell)
	fmt.Fprintf(w, "  ReLUs %d (+ %d max-pool comparisons)\n", r.ReLUs, r.Comparisons)
	fmt.Fprintf(w, "  agree with fixed point %.2f%%   secure accuracy %.2f%%   float accuracy %.2f%%\n", 100*r.Agree, 100*r.SecureAcc, 100*r.FloatAcc)
	for _, d := range r.Disagreements {
		why := ""
		if d.WithinError {
			why = ": a tie within the truncation error"
		}
		fmt.Fprintf(w, "  image %d (label %d): private %d, fixed point %d, fixed-point margin %.4g, |private − fixed| ≤ %.3g%s\n",
			d.Image, d.Label, d.Private, d.Fixed, d.FixedMargin, d.FixedErr, why)
	}
	fmt.Fprintf(w, "  max |logit − float| %.3g   max |logit − fixed| %.3g\n", r.MaxLogitErr, r.MaxFixedErr)
	fmt.Fprintf(w, "  online  %s, %d rounds, %.1f B/ReLU\n", humanBytes(r.OnlineBytes), r.OnlineRounds, r.BytesPerReLU)
	fmt.Fprintf(w, "  offline %s per image (dealer material server %s, client %s; messages %s; inline %s, %d rounds); setup %s once\n",
		humanBytes(r.OfflineBytes), humanBytes(r.ServerMaterial), humanBytes(r.ClientMaterial), humanBytes(r.RequestMsgs),
		humanBytes(r.OfflineInlineBytes), r.OfflineInlineRounds, humanBytes(r.SetupBytes))
	fmt.Fprintf(w, "  total %s for one image in a session of its own (setup + offline + online, both directions); %s per image in this session of %d (setup/%d + offline + online)\n",
		humanBytes(r.TotalBytes), humanBytes(r.TotalBytesAmortized), r.N, r.N)
	if r.MinEll > 0 {
		note := ""
		if r.MinEll > 64 {
			note = ": more than 64, so no ell guarantees exact logits on them"
		}
		fmt.Fprintf(w, "  these images need ell >= %d to be guaranteed exact (pi.Plan.MinEll)%s\n", r.MinEll, note)
	}
	fmt.Fprintf(w, "  latency p50 %.1f ms  p90 %.1f ms  mean %.1f ms (online, measured); offline p50 %.1f ms\n", r.P50, r.P90, r.Mean, r.OfflineP50)
	fmt.Fprintf(w, "  CPU %.3f s per image (dealer, server and client, offline + online; process user + system time); peak RSS %.0f MiB (all parties, one process)\n", r.CPUPerImage, r.PeakRSSMiB)
	for _, e := range r.Estimates {
		fmt.Fprintf(w, "  cost model %-3s (%.1f Gbit/s, %.1f ms RTT): %.1f ms online, %.1f ms to ship the dealer material\n", strings.ToUpper(e.Network), e.Gbps, e.RTTms, e.Ms, e.OfflineMs)
	}
	fmt.Fprintf(w, "\n  %-28s %-9s %9s %12s %6s %9s %12s\n", "layer", "op", "ReLUs", "bytes", "rounds", "ms", "offline B")
	for _, l := range r.Layers {
		fmt.Fprintf(w, "  %-28s %-9s %9d %12d %6d %9.2f %12d\n", l.Name, l.Op, l.ReLUs, l.Bytes, l.Rounds, l.Ms, l.OfflineBytes)
	}
	if len(r.SiteCosts) > 0 {
		fmt.Fprintf(w, "\n  saving per replaced ReLU (µs: CPU + bytes on the LAN link saved by a polynomial of the degree; step ms recorded, not counted)\n")
		fmt.Fprintf(w, "  %-28s %9s %3s %9s %9s %11s %11s %9s %9s %9s\n", "site", "ReLUs", "deg", "relu ms", "poly ms", "relu B", "poly B", "cpu", "bytes", "cost")
		for _, c := range r.SiteCosts {
			for _, d := range c.Degrees {
				fmt.Fprintf(w, "  %-28s %9d %3d %9.2f %9.2f %11d %11d %9.3f %9.3f %9.3f\n", c.Site, c.ReLUs, d.Degree, c.ReLUMs, d.PolyMs, c.ReLUBytes, d.PolyBytes, d.CPUUs, d.BytesUs, d.Cost)
			}
		}
	}
	return w.err
}

// humanBytes prints a byte count in binary units (B, KiB, MiB, GiB).
func humanBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// errWriter keeps the first write error and skips the writes after it.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}
