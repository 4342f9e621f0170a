// Package ot implements oblivious transfer for the dealer-free two-party
// mode: Chou–Orlandi base OT on Ristretto255 (BaseSend, BaseReceive); OT
// extension with a global Δ by IKNP or SoftSpoken (Sender, Receiver;
// NewSenderK/NewReceiverK choose SoftSpoken's k): correlated, random,
// chosen-message and additively correlated OT over Z_2^ℓ, one or two
// correlations per OT; 1-out-of-N OT from ⌈log2 N⌉ correlated OTs
// (CNSender, CNReceiver) or after Kolesnikov–Kumaresan (NSender,
// NReceiver). With Config.Ferret the correlated OTs come from Ferret
// silent OT (ferret.go: GGM-tree MPCOT with regular noise and a 10-local
// primal LPN code, bootstrapped from the extension), one bit per COT plus
// about 0.06 B (large set) or 0.37 B (small set) of iteration message.
// Session sets up both directions between two parties over one
// transport.Conn as Config says (DefaultConfig: SoftSpoken k = 4, and
// k = 8 for multiplications).
//
// Semi-honest security, κ = 128: the base OT rests on CDH in Ristretto255
// with SHA-256 as a random oracle, the extensions on AES-128 as a PRG (in
// counter mode) and as a fixed-key ideal permutation for the tweakable
// correlation-robust hash of Guo–Katz–Wang–Yu (hash.go), which also keys
// the 1-out-of-N OT from correlated OTs (ncot.go); KK13 keys are SHA-256.
// Ferret adds the regular-noise LPN assumption at emp-ot's parameter
// sets (n = 10,608,640, k = 589,824, t = 1,295; n = 607,232, k = 69,454,
// t = 593), which its authors (those of the Ferret paper, Yang et al.,
// CCS 2020, whose §6 estimates ≥ 128-bit security for its sets of this
// shape against the known attacks) use for 128-bit security; neither
// the estimate nor these exact sets' place in the paper's table is
// re-derived or checked here. Its GGM trees use the fixed-key AES π as the
// length-doubling PRG G(x) = (π(x) ⊕ x, π(x ⊕ 1) ⊕ x ⊕ 1) (ideal
// permutation model) and the same TCCR hash for the level keys, with
// tweaks apart from the extension's; semi-honest, without the
// malicious-security consistency check.
// docs/PROTOCOLS.md ("Oblivious transfer") gives the protocols, message
// sizes and assumptions.
//
// Every received message is checked for its exact length before use; a
// malformed or truncated message is an error, never a panic.
package ot
