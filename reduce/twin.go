package reduce

import (
	"fmt"

	"github.com/autorep/autorep/nn"
)

// PolyTwin replaces the activation of every site by the same degree-2
// polynomial at every position; see PolyTwinDegree.
func PolyTwin(sites []*nn.Site) error { return PolyTwinDegree(sites, 2) }

// PolyTwinDegree replaces the activation of every site by the same
// polynomial of the given degree (1 or 2, the degrees private inference
// evaluates) at every position (DaPa for a standard normal input) and
// keeps no ReLU. The twin of an all-ReLU model computes a different
// function; it exists to measure what a ReLU position costs in private
// inference over a polynomial one (package sitecost), for which the
// coefficients' values do not matter but the degree does: the two-party
// suite skips the square of a degree-1 site.
func PolyTwinDegree(sites []*nn.Site, degree int) error {
	if degree != 1 && degree != 2 {
		return fmt.Errorf("reduce: polynomial twin of degree %d, want 1 or 2", degree)
	}
	coef, err := DaPa(0, 1, degree)
	if err != nil {
		return err
	}
	for _, s := range sites {
		p := nn.NewPolyMask(s.Shape, degree)
		for i := range p.Mask {
			p.Mask[i] = 0
		}
		for _, row := range p.Coef {
			for d := range row {
				row[d] = float32(coef[d])
			}
		}
		s.Act = p
	}
	return nil
}
