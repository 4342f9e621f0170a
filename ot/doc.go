// Package ot implements oblivious transfer for the dealer-free two-party
// mode: Chou–Orlandi base OT on Ristretto255 (BaseSend, BaseReceive); OT
// extension with a global Δ by IKNP or SoftSpoken (Sender, Receiver;
// NewSenderK/NewReceiverK choose SoftSpoken's k): correlated, random,
// chosen-message and additively correlated OT over Z_2^ℓ, one or two
// correlations per OT; 1-out-of-N OT from ⌈log2 N⌉ correlated OTs
// (CNSender, CNReceiver) or after Kolesnikov–Kumaresan (NSender,
// NReceiver). Session sets up both directions between two parties over
// one transport.Conn as Config says (DefaultConfig: SoftSpoken k = 4, and
// k = 8 for multiplications).
//
// Semi-honest security, κ = 128: the base OT rests on CDH in Ristretto255
// with SHA-256 as a random oracle, the extensions on AES-128 as a PRG (in
// counter mode) and as a fixed-key ideal permutation for the tweakable
// correlation-robust hash of Guo–Katz–Wang–Yu (hash.go), which also keys
// the 1-out-of-N OT from correlated OTs (ncot.go); KK13 keys are SHA-256.
// docs/PROTOCOLS.md ("Oblivious transfer") gives the protocols, message
// sizes and assumptions.
//
// Every received message is checked for its exact length before use; a
// malformed or truncated message is an error, never a panic.
package ot
