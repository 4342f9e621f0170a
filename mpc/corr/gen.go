package corr

import (
	"context"

	"github.com/autorep/autorep/ring"
)

// Gen draws one request's material from the request's PRG: what a
// generator hands a kind's KindDesc.Generate, and the helpers the core's
// generations and a family's share.
type Gen struct {
	// PRG is the request's generator (a generator derives it from its master
	// seed, the kind, the label and the request's index).
	PRG *ring.PRG
	// Ctx, if set, ends the generation early (GenerateContext): a
	// family's long loops pass it on (fss.GenContext) or check Err.
	Ctx context.Context
	// SessionSeed returns the seed of label's material of session kind
	// k (KindDesc.Session), which the generator derives once per session:
	// a kind that builds on a session kind's mask (a linear layer's
	// material on its weight mask, a polynomial's on its coefficient
	// masks) expands the same mask from it.
	SessionSeed func(k MaterialKind, label string) ring.Seed
}

// Context is g.Ctx, or context.Background if unset.
func (g Gen) Context() context.Context {
	if g.Ctx == nil {
		return context.Background()
	}
	return g.Ctx
}

// Err is the cause of g's context's end, nil while the generation may go
// on.
func (g Gen) Err() error { return context.Cause(g.Context()) }

// Share returns party 0's seeded share and party 1's explicit share of v.
func (g Gen) Share(v []uint64) (Vec, Vec) {
	v0 := SeededVec(g.PRG.Seed(), len(v))
	v1 := make([]uint64, len(v))
	ring.SubVec(v1, v, v0.Data)
	return v0, Vec{Data: v1}
}

// Mask returns n uniform values r shared with both shares seeded.
func (g Gen) Mask(n int) (r []uint64, r0, r1 Vec) {
	r0, r1 = SeededVec(g.PRG.Seed(), n), SeededVec(g.PRG.Seed(), n)
	r = make([]uint64, n)
	ring.AddVec(r, r0.Data, r1.Data)
	return r, r0, r1
}
