// Package dealer is the dealer suite's in-process dealer: the seeded
// Generator of both parties' correlated randomness (every kind through
// the description its owner registered with the correlations contract,
// corr.RegisterKind, so a program links the kinds it generates: the core
// mpc's, the FSS family mpc/fssgates'), the Pairing of the two parties'
// requests of one session, and LocalProviders (both parties' sources in
// one process). It imports the contract (mpc/corr) only; the network
// dealer (serve/dealer) serves the same Generator and Pairing over TCP
// with the contract's encodings (corr.Request.MarshalBinary,
// corr.Material.MarshalParts), the one codec of material.
package dealer
