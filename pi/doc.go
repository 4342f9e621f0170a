// Package pi compiles a trained (and possibly ReLU-reduced) model into a
// secure inference plan and runs it as the two parties of autorep's private
// inference: the server holds the weights, the client the image, and the
// client learns the logits.
//
// Compile walks the model's nn.Graph, folds batch norm into the preceding
// convolution (or turns it into a per-channel affine, a depthwise 1×1
// convolution, when it cannot be folded), encodes the weights in fixed point
// and splits the plan into a Public part (architecture, shapes, per-site
// ReLU/polynomial masks, fixed-point bookkeeping; known to both parties and
// identified by Public.Hash) and a Secret part (weights, biases, polynomial
// coefficients; the server's). The plan is a flat list of ring operations
// (Step) whose fixed-point scale is decided at compile time, so the secure
// executor (Server, Client) and the plaintext fixed-point executor
// (Plan.EvalFixed) run exactly the same arithmetic.
//
// Scales: activations leave a ReLU/polynomial site with f fractional bits;
// linear layers multiply by weights at f bits and produce 2f bits (no
// truncation); the mixed activation layer truncates its 2f-bit input by f
// with FSS gates (fused with the ReLU, which may round up by one unit, or
// exact before a polynomial). Average pooling is a local window sum whose public divisor is
// carried along (Step.Div) and removed either by the client after the final
// reveal or, when an activation needs it, by one exact truncation.
//
// Two protocol suites run a plan (Server.Suite, Client.Suite): SuiteDealer
// (function secret sharing over Z_2^64 with a corr.Provider's correlated
// randomness) and SuiteTwoParty (no dealer: linear steps by homomorphic
// encryption, package helinear; activations, max pooling and truncations
// by oblivious-transfer gates, package otgates; shares over Z_2^ℓ with ℓ
// the plan's Ell). The two-party suite's ReLU positions truncate exactly
// and then take the ReLU, and its polynomial positions compute
// ⌊(C2·t² + C1·t + C0)/2^2f⌋ as mpc.PolyCoefs.Eval does, so its logits
// equal Plan.EvalFixed's bit for bit while the values fit the gates'
// ranges (|x| < 2^(ℓ−2) before a truncation).
//
// Session protocol (Server.Run and Client.Infer over one transport.Conn):
//
//	client → server  "PIH1" + SHA-256 of the public plan (zeros: send it)  (dealer suite)
//	             or  "PIH2" + the hash + ℓ (1 byte, 0: plan not known) + suite name
//	server → client  "PIOK" [+ public plan JSON]  or  "PIER" + reason
//	                 (a suite mismatch: "client wants suite X, server runs Y")
//
// Dealer suite:
//
//	setup (offline, once): masked weights Ŵ = W − B of every linear step,
//	                       masked coefficients of every polynomial site
//	per request:
//	  client → server  "PIQ1" + uvarint number of images (0 ends the session)
//	  offline: the server fetches its dealer material, sends "PIRD";
//	           then the client fetches its material
//	  online:  the steps' mpc messages, then the server's output share
//
// Two-party suite:
//
//	setup (once): base OTs both ways (otgates.New), the client's HE public key
//	per request:
//	  client → server  "PIQ1" + uvarint number of images (0 ends the session)
//	  online: the client's share of the input is the input, the server's zero;
//	          the steps' helinear and otgates messages (otgates makes its bit
//	          triples as the gates run, counted in the offline phase:
//	          Stats.OfflineInline), then the server's output share
//
// Traffic is attributed to transport phases ("offline", "online") and to
// the step names as layer labels; Stats gives each party's per-request
// bytes, rounds, dealer material and per-step breakdown.
package pi
