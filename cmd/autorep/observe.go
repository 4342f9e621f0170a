package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/autorep/autorep/internal/metrics"
)

// processLogger is the structured logger of a long-running process
// (serve, dealer): text or JSON records on stderr, tagged with its name.
func processLogger(process string, json bool) *slog.Logger {
	var h slog.Handler = slog.NewTextHandler(os.Stderr, nil)
	if json {
		h = slog.NewJSONHandler(os.Stderr, nil)
	}
	return slog.New(h).With("process", process)
}

// metricsSource is a server whose counters a metrics endpoint serves.
type metricsSource interface {
	Register(*metrics.Registry)
	Ready() bool
}

// serveMetrics serves src's metrics, the process's own, /healthz and
// /readyz on addr until the returned stop is called; the endpoint
// outlives the server's drain, so it reports "not ready" meanwhile.
func serveMetrics(process string, src metricsSource, addr string) (stop func(), err error) {
	reg := metrics.NewRegistry()
	reg.RegisterProcess()
	src.Register(reg)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := (&metrics.Endpoint{Registry: reg, Ready: src.Ready}).Listen(ctx, addr)
	if err != nil {
		cancel()
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "%s: metrics on http://%s/metrics\n", process, a)
	return cancel, nil
}
