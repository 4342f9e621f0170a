package reduce

import (
	"math"
	"testing"

	"github.com/autorep/autorep/reduce/sitecost"
)

// TestReplacementDegree checks which degree's savings a search is weighted
// by: AutoReP's degree (default 2), SNL's identity at degree 1.
func TestReplacementDegree(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want int
	}{
		{Config{Method: MethodAutoReP}, DefaultDegree},
		{Config{Method: MethodAutoReP, Degree: 1}, 1},
		{Config{Method: MethodAutoReP, Degree: 3}, 3},
		{Config{Method: MethodSNL, Degree: 2}, 1},
	} {
		if got := c.cfg.replacementDegree(); got != c.want {
			t.Errorf("%+v: degree %d, want %d", c.cfg, got, c.want)
		}
	}
}

// TestSavingWeights checks the budget loss's reading of a two-degree cost
// file: with the savings of the degree searched as weights, the density
// is the fraction of the removable cost still spent,
// (C(mask) − C(all poly)) / (C(all ReLU) − C(all poly)), computed here
// from per-position costs written out by hand.
func TestSavingWeights(t *testing.T) {
	// Per-position costs (µs) of a ReLU and of each degree's polynomial.
	relu := []float64{10, 4}
	poly := map[int][]float64{1: {2, 3}, 2: {6, 3.5}}
	f := sitecost.File{Sites: []sitecost.Site{
		{Site: "a", Cost: 4, Degrees: []sitecost.Poly{{Degree: 1, Cost: 8}, {Degree: 2, Cost: 4}}},
		{Site: "b", Cost: 0.5, Degrees: []sitecost.Poly{{Degree: 1, Cost: 1}, {Degree: 2, Cost: 0.5}}},
	}}
	a, err := NewFixed("a", []int{1, 10}, []float32{1, 1, 1, 0, 0, 0, 0, 0, 0, 0}, [][]float32{{0, 1, 0}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewFixed("b", []int{1, 4}, []float32{1, 1, 1, 1}, [][]float32{{0, 1, 0}})
	if err != nil {
		t.Fatal(err)
	}
	sites := []*Masked{a, b}
	for _, deg := range []int{1, 2} {
		w, err := f.Weights([]string{"a", "b"}, deg)
		if err != nil {
			t.Fatal(err)
		}
		p := &Penalty{Lambda: 1, Budget: 7, Weights: w}
		got, limit := p.Density(sites)
		cost := func(keep func(s, i int) bool) float64 {
			var c float64
			for s, m := range sites {
				for i := range m.Mask {
					if keep(s, i) {
						c += relu[s]
					} else {
						c += poly[deg][s]
					}
				}
			}
			return c
		}
		now := cost(func(s, i int) bool { return sites[s].Mask[i] != 0 })
		all := cost(func(int, int) bool { return true })
		none := cost(func(int, int) bool { return false })
		if want := (now - none) / (all - none); math.Abs(got-want) > 1e-12 || limit != 0.5 {
			t.Errorf("degree %d: density %g, want %g; limit %g", deg, got, want, limit)
		}
	}
}
