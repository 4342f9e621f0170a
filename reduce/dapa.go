package reduce

import (
	"fmt"
	"math"
)

// MaxDegree is the highest polynomial degree DaPa fits.
const MaxDegree = 6

// normPDF is the standard normal density φ.
func normPDF(z float64) float64 { return math.Exp(-0.5*z*z) / math.Sqrt(2*math.Pi) }

// normCDF is the standard normal distribution function Φ.
func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// DaPa returns the coefficients c0, c1, ..., c_degree of the polynomial
// that minimises E[(p(x) − relu(x))²] for x ~ N(mu, sigma²), where sigma is
// the standard deviation (not the variance). Degrees 1 and 2 use the closed
// forms of the AutoReP paper; higher degrees solve the normal equations with
// Gaussian moments. sigma must be positive and finite.
func DaPa(mu, sigma float64, degree int) ([]float64, error) {
	if degree < 1 || degree > MaxDegree {
		return nil, fmt.Errorf("dapa: degree %d outside 1..%d", degree, MaxDegree)
	}
	if !(sigma > 0) || math.IsInf(sigma, 0) || math.IsNaN(mu) || math.IsInf(mu, 0) {
		return nil, fmt.Errorf("dapa: need finite mu and sigma > 0, got mu=%g sigma=%g", mu, sigma)
	}
	z := mu / sigma
	phi, cdf := normPDF(z), normCDF(z)
	switch degree {
	case 1:
		return []float64{sigma * phi, cdf}, nil
	case 2:
		return []float64{
			sigma/2*phi + mu*mu/(2*sigma)*phi,
			cdf - z*phi,
			phi / (2 * sigma),
		}, nil
	}
	return DaPaMoments(mu, sigma, degree)
}

// DaPaMoments fits the least-squares polynomial of any degree (1..MaxDegree)
// by solving the normal equations. It works in the standardised variable
// u = (x − mu)/sigma, where the Gram matrix holds standard normal moments
// E[u^(i+j)] and the right-hand side E[u^i·relu(mu + sigma·u)] has a closed
// form through φ(z), Φ(z); the solution is then expanded back to powers of x.
// DaPa uses it for degrees above 2; tests use it to cross-check the closed
// forms.
func DaPaMoments(mu, sigma float64, degree int) ([]float64, error) {
	if degree < 1 || degree > MaxDegree {
		return nil, fmt.Errorf("dapa: degree %d outside 1..%d", degree, MaxDegree)
	}
	if !(sigma > 0) || math.IsInf(sigma, 0) || math.IsNaN(mu) || math.IsInf(mu, 0) {
		return nil, fmt.Errorf("dapa: need finite mu and sigma > 0, got mu=%g sigma=%g", mu, sigma)
	}
	z := mu / sigma
	phi := normPDF(z)
	d := degree + 1
	// Standard normal moments E[u^k], k = 0..2·degree: (k−1)!! for even k.
	mom := make([]float64, 2*d)
	mom[0] = 1
	for k := 2; k < len(mom); k += 2 {
		mom[k] = mom[k-2] * float64(k-1)
	}
	// Partial moments J_n = ∫_{−z}^{∞} u^n φ(u) du:
	// J_0 = Φ(z), J_1 = φ(z), J_n = (n−1)·J_{n−2} + (−z)^{n−1}·φ(z).
	j := make([]float64, d+1)
	j[0] = normCDF(z)
	j[1] = phi
	for n := 2; n <= d; n++ {
		j[n] = float64(n-1)*j[n-2] + math.Pow(-z, float64(n-1))*phi
	}
	// E[u^i·relu(mu+sigma·u)] = sigma·(z·J_i + J_{i+1}).
	a := make([][]float64, d)
	for i := range a {
		a[i] = make([]float64, d+1)
		for k := 0; k < d; k++ {
			a[i][k] = mom[i+k]
		}
		a[i][d] = sigma * (z*j[i] + j[i+1])
	}
	q, err := solve(a)
	if err != nil {
		return nil, fmt.Errorf("dapa: degree %d at mu=%g sigma=%g: %w", degree, mu, sigma, err)
	}
	// p(x) = Σ_i q_i·((x − mu)/sigma)^i; expand with the binomial theorem.
	c := make([]float64, d)
	for i := 0; i < d; i++ {
		scale := q[i] / math.Pow(sigma, float64(i))
		binom := 1.0
		for k := 0; k <= i; k++ {
			if k > 0 {
				binom = binom * float64(i-k+1) / float64(k)
			}
			c[k] += scale * binom * math.Pow(-mu, float64(i-k))
		}
	}
	return c, nil
}

// solve runs Gaussian elimination with partial pivoting on the augmented
// n×(n+1) matrix a (modified in place) and returns the solution.
func solve(a [][]float64) ([]float64, error) {
	n := len(a)
	for col := 0; col < n; col++ {
		p := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[p][col]) {
				p = r
			}
		}
		if a[p][col] == 0 || math.IsNaN(a[p][col]) {
			return nil, fmt.Errorf("singular normal equations")
		}
		a[col], a[p] = a[p], a[col]
		for r := col + 1; r < n; r++ {
			f := a[r][col] / a[col][col]
			for k := col; k <= n; k++ {
				a[r][k] -= f * a[col][k]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := a[r][n]
		for k := r + 1; k < n; k++ {
			s -= a[r][k] * x[k]
		}
		x[r] = s / a[r][r]
	}
	return x, nil
}

// RunningStats tracks per-channel running mean and variance of a ReLU's
// input, like batch norm's running statistics (momentum 0.1 by default,
// unbiased batch variance). The first update copies the batch statistics
// so the fit does not start from the arbitrary prior (0, 1). The slices are
// float32 so they can be exposed as live state-dict buffers.
type RunningStats struct {
	Mean, Var []float32
	Momentum  float64
	// Count is the number of batches seen.
	Count int
}

// NewRunningStats returns statistics for c channels (mean 0, variance 1).
func NewRunningStats(c int) *RunningStats {
	s := &RunningStats{Mean: make([]float32, c), Var: make([]float32, c), Momentum: 0.1}
	for i := range s.Var {
		s.Var[i] = 1
	}
	return s
}

// Update folds one batch x (N·C·S values, NC(S) layout: S spatial values
// per channel) into the running statistics. Channels are processed in
// parallel (each channel's sums are computed the same way whatever the
// split).
func (s *RunningStats) Update(x []float32, n, c, spatial int) {
	cnt := float64(n * spatial)
	parallelImages(c, n*spatial, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var sum, sq float64
			for b := 0; b < n; b++ {
				for _, v := range x[(b*c+ch)*spatial : (b*c+ch+1)*spatial] {
					sum += float64(v)
				}
			}
			mean := sum / cnt
			for b := 0; b < n; b++ {
				for _, v := range x[(b*c+ch)*spatial : (b*c+ch+1)*spatial] {
					d := float64(v) - mean
					sq += d * d
				}
			}
			v := sq
			if cnt > 1 {
				v /= cnt - 1
			}
			if s.Count == 0 {
				s.Mean[ch], s.Var[ch] = float32(mean), float32(v)
				continue
			}
			s.Mean[ch] = float32((1-s.Momentum)*float64(s.Mean[ch]) + s.Momentum*mean)
			s.Var[ch] = float32((1-s.Momentum)*float64(s.Var[ch]) + s.Momentum*v)
		}
	})
	s.Count++
}
