// Package reduce implements ReLU reduction for private inference: AutoReP
// (a trainable binary mask per ReLU element with hysteresis and a
// straight-through estimator, a ReLU-budget loss, and DaPa polynomial
// replacements) and the SNL baseline (Selective Network Linearization).
//
// # AutoReP
//
// Masked is the per-site activation y = m⊙relu(x) + (1−m)⊙p_c(x). Before
// every forward pass the mask follows the scores a with hysteresis,
// m ← m·[a > −t] + (1−m)·[a > t]; backward passes ∂L/∂a = ∂L/∂m·softplus(a).
// Penalty is the budget loss λ·max(0, density − B/total), optionally with a
// cost weight per site (see Penalty). Run installs the activations on a
// models.Model and drives package train's Trainer: the search trains
// weights, coefficients and scores with Adam (cosine to 1e-5) under
// CE + KD(T=4) + penalty, keeps the best epoch within budget (by test
// accuracy, as the reference does), and optionally finetunes with the mask
// frozen (SGD, momentum 0.9, wd 5e-4, cosine). Every phase checkpoints each
// epoch and resumes exactly; the masked activations expose their scores,
// coefficients, masks and DaPa statistics as state-dict parameters and
// buffers ("<site>.score", "<site>.poly", "<site>.mask", "<site>.dapa_*"),
// so the checkpoint is the ordinary state dict. At the end every site gets
// a frozen nn.PolyMask, saved as "<site>.mask" and "<site>.poly".
//
// As an option (Config.ScaleX2; the reference scripts use S = 0.1), the x²
// term is S·θ2·x²: θ2 is refitted to the least-squares c2, so the fitted
// quadratic enters S times smaller and learns S times slower; by default
// S = 1 (it lost on the reference's schedule). Each term of degree ≥ 2 stays within
// κ·|x| on its channel's input range (Config.PolyBound). By default
// AutoReP evaluates with the batch-norm running averages and SNL
// recomputes the statistics before each evaluation (Config.BNBatches).
//
// Hysteresis follows the formula literally: a kept ReLU stays while a > −t
// (a = −t drops it), a dropped one returns only when a > t.
//
// # DaPa: the correct formula
//
// DaPa fits ReLU by the least-squares polynomial under x ~ N(μ, σ²) with
// per-channel running statistics (momentum 0.1) of the ReLU input. With
// z = μ/σ, φ and Φ the standard normal pdf and cdf:
//
//	degree 1: c1 = Φ(z), c0 = σ·φ(z)
//	degree 2: c2 = φ(z)/(2σ), c1 = Φ(z) − z·φ(z), c0 = (σ/2 + μ²/(2σ))·φ(z)
//	degree ≥3: normal equations with Gaussian moments (DaPaMoments)
//
// σ is the standard deviation. The AutoReP reference code
// (approx/approx_torch.py, models_util/model_spReLU_relay.py) passes the
// batch-norm running *variance* where the formula wants σ (after clipping it
// below by var_min, 1 in its scripts) and then rescales the result (c0/5,
// c2/10, c1/scale_x1), so its "DaPa" polynomial is not the least-squares fit
// of the measured distribution. This package uses the standard deviation,
// floors it at SigmaMin (default 1, `--sigma-min`; the reference clips the
// variance at 1) to keep c2 = φ/(2σ) ≤ 0.2 — with a floor of 0.1, degree-2
// searches on ResNet-20 diverged (quadratics of outliers carried by the
// residual shortcuts) — and
// applies no rescaling; the tests check the coefficients against numerical
// least squares by quadrature to 1e-6. Unlike the reference, the first
// training batch initialises the running statistics directly (rather than
// mixing 10% of it into the prior mean 0, variance 1).
//
// # SNL
//
// SNLAct is y = α⊙relu(x) + (1−α)⊙x with a real α per element; the SNL
// search adds η·Σ|α| (η from 1e-5, ×1.1 after an epoch without a new low of
// the count of α > 0.01, from epoch 5 on), stops when the count is within
// budget, binarises at 0.01 (Binarize: replaced elements become the
// identity, saved as the polynomial c0 = 0, c1 = 1) and finetunes with KD.
package reduce
