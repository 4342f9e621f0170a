package mpc

import (
	"context"
	"fmt"

	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// conv returns y = w ⊛ x over Z_2^64 for the geometry p (ring.Conv2d).
func conv(p corr.LinearSpec, w, x []uint64) ([]uint64, error) {
	y := make([]uint64, p.YLen())
	if err := ring.Conv2d(p, x, w, y); err != nil {
		return nil, fmt.Errorf("mpc: %w", err)
	}
	return y, nil
}

// convContext is conv stopping with ctx's cause once ctx ends: a batch is
// convolved in up to 16 groups of images, the context checked between
// them (each image's output depends on that image only, so the result is
// conv's).
func convContext(ctx context.Context, p corr.LinearSpec, w, x []uint64) ([]uint64, error) {
	if ctx.Done() == nil || p.N <= 1 {
		return conv(p, w, x)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("mpc: %w", err)
	}
	if len(x) != p.XLen() {
		return nil, fmt.Errorf("mpc: conv input of %d values, want %d", len(x), p.XLen())
	}
	xi, yi := p.XLen()/p.N, p.YLen()/p.N
	y := make([]uint64, p.YLen())
	step := (p.N + 15) / 16
	for lo := 0; lo < p.N; lo += step {
		if err := context.Cause(ctx); err != nil {
			return nil, err
		}
		hi := min(lo+step, p.N)
		q := p
		q.N = hi - lo
		if err := ring.Conv2d(q, x[lo*xi:hi*xi], w, y[lo*yi:hi*yi]); err != nil {
			return nil, fmt.Errorf("mpc: %w", err)
		}
	}
	return y, nil
}
