// Package corr is the correlations contract of the secure stack: what a
// protocol asks a source of correlated randomness for and what it gets
// back, independent of the protocols and of the sources. A Request names
// a MaterialKind, a label and the kind's public geometry (LinearSpec,
// ActSpec with its ReLUMask, element count, shift, input width); a
// Material is one party's half: ring vectors (Vec, seeded or explicit)
// and a protocol-specific Payload. Kinds are an open set: the package
// owning a kind (the core mpc, a protocol family such as mpc/fssgates)
// declares its value and registers its KindDesc (RegisterKind): name,
// validation, Shape (vector lengths, exact encoded sizes, generation
// work), generation (through a Gen) and payload codec. The binary
// encodings of requests and material (MarshalBinary, UnmarshalRequest,
// UnmarshalMaterialFor) are the wire format of every source.
//
// A source is a Provider (one party's half of each request, counted in
// OfflineStats, the one place offline material is accounted); a
// Prefetching source has one prefetch queue (MaterialQueue), and
// WithPrefetch gives one to any Provider (Prefetcher).
//
// The package imports neither the core (mpc) nor any protocol family nor
// any source: they all import it (internal/importrules checks this).
package corr
