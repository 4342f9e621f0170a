package reduce

import (
	"math"
	"testing"
)

// quadFit solves the least-squares fit of relu under N(mu, sigma²) with the
// moments computed by composite Simpson quadrature in x (split at the kink).
func quadFit(t *testing.T, mu, sigma float64, degree int) []float64 {
	t.Helper()
	d := degree + 1
	lo, hi := mu-12*sigma, mu+12*sigma
	pdf := func(x float64) float64 {
		z := (x - mu) / sigma
		return math.Exp(-0.5*z*z) / (sigma * math.Sqrt(2*math.Pi))
	}
	gram := make([][]float64, d)
	for i := range gram {
		gram[i] = make([]float64, d+1)
	}
	simpson := func(a, b float64) {
		if b <= a {
			return
		}
		const n = 20000
		h := (b - a) / n
		for k := 0; k <= n; k++ {
			x := a + float64(k)*h
			w := 2.0
			switch {
			case k == 0 || k == n:
				w = 1
			case k%2 == 1:
				w = 4
			}
			w *= h / 3 * pdf(x)
			r := math.Max(x, 0)
			for i := 0; i < d; i++ {
				xi := math.Pow(x, float64(i))
				for j := 0; j < d; j++ {
					gram[i][j] += w * xi * math.Pow(x, float64(j))
				}
				gram[i][d] += w * xi * r
			}
		}
	}
	if lo < 0 && hi > 0 {
		simpson(lo, 0)
		simpson(0, hi)
	} else {
		simpson(lo, hi)
	}
	c, err := solve(gram)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDaPaMatchesQuadrature(t *testing.T) {
	for _, mu := range []float64{-2, -0.5, 0, 0.3, 1.5} {
		for _, sigma := range []float64{0.3, 0.5, 1, 2} {
			for deg := 1; deg <= 3; deg++ {
				got, err := DaPa(mu, sigma, deg)
				if err != nil {
					t.Fatal(err)
				}
				want := quadFit(t, mu, sigma, deg)
				for k := range want {
					if math.Abs(got[k]-want[k]) > 1e-6*math.Max(1, math.Abs(want[k])) {
						t.Errorf("mu=%g sigma=%g deg=%d c%d = %.9g, quadrature %.9g", mu, sigma, deg, k, got[k], want[k])
					}
				}
			}
		}
	}
}

func TestDaPaClosedFormsAgreeWithMoments(t *testing.T) {
	for _, mu := range []float64{-3, -1, 0, 0.7, 2.5} {
		for _, sigma := range []float64{0.05, 0.4, 1, 3} {
			for deg := 1; deg <= 2; deg++ {
				a, _ := DaPa(mu, sigma, deg)
				b, err := DaPaMoments(mu, sigma, deg)
				if err != nil {
					t.Fatal(err)
				}
				for k := range a {
					if math.Abs(a[k]-b[k]) > 1e-9*math.Max(1, math.Abs(a[k])) {
						t.Errorf("mu=%g sigma=%g deg=%d c%d closed %.12g moments %.12g", mu, sigma, deg, k, a[k], b[k])
					}
				}
			}
		}
	}
}

func TestDaPaStandardNormal(t *testing.T) {
	c, err := DaPa(0, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c[2]-0.19947) > 1e-5 || math.Abs(c[0]-0.19947) > 1e-5 || math.Abs(c[1]-0.5) > 1e-12 {
		t.Fatalf("DaPa(0,1,2) = %v, want c0=c2=0.19947, c1=0.5", c)
	}
	c1, _ := DaPa(0, 1, 1)
	if math.Abs(c1[1]-0.5) > 1e-12 || math.Abs(c1[0]-1/math.Sqrt(2*math.Pi)) > 1e-12 {
		t.Fatalf("DaPa(0,1,1) = %v", c1)
	}
}

func TestDaPaRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		mu, sigma float64
		deg       int
	}{{0, 0, 2}, {0, -1, 2}, {math.NaN(), 1, 2}, {0, math.Inf(1), 2}, {0, 1, 0}, {0, 1, MaxDegree + 1}} {
		if _, err := DaPa(tc.mu, tc.sigma, tc.deg); err == nil {
			t.Errorf("DaPa(%g, %g, %d): no error", tc.mu, tc.sigma, tc.deg)
		}
	}
}

func TestRunningStats(t *testing.T) {
	// 2 images, 2 channels, 2 spatial values.
	x := []float32{1, 3, 10, 10, 5, 7, 10, 10}
	s := NewRunningStats(2)
	s.Update(x, 2, 2, 2)
	if s.Mean[0] != 4 || math.Abs(float64(s.Var[0])-20.0/3) > 1e-6 || s.Mean[1] != 10 || s.Var[1] != 0 {
		t.Fatalf("first update: mean %v var %v", s.Mean, s.Var)
	}
	s.Update([]float32{0, 0, 0, 0, 0, 0, 0, 0}, 2, 2, 2)
	if math.Abs(float64(s.Mean[0])-3.6) > 1e-6 || math.Abs(float64(s.Var[0])-6) > 1e-5 {
		t.Fatalf("momentum update: mean %v var %v", s.Mean, s.Var)
	}
}
