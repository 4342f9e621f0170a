// Package ot implements oblivious transfer for the dealer-free two-party
// mode: Chou–Orlandi base OT on Ristretto255 (BaseSend, BaseReceive), IKNP
// OT extension with a global Δ (Sender, Receiver: correlated, random,
// chosen-message and additively correlated OT over Z_2^ℓ) and 1-out-of-N
// OT after Kolesnikov–Kumaresan (NSender, NReceiver). Session sets up both
// directions of each between two parties over one transport.Conn.
//
// Semi-honest security, κ = 128: the base OT rests on CDH in Ristretto255
// with SHA-256 as a random oracle, the extension on AES-128 as a PRG (in
// counter mode, ring.PRG) and as a fixed-key ideal permutation for the
// tweakable correlation-robust hash of Guo–Katz–Wang–Yu (hash.go).
// docs/PROTOCOLS.md ("Oblivious transfer") gives the protocols, message
// sizes and assumptions.
//
// Every received message is checked for its exact length before use; a
// malformed or truncated message is an error, never a panic.
package ot
