package reduce

import "github.com/autorep/autorep/nn"

// PolyTwin replaces the activation of every site by the same degree-2
// polynomial at every position (DaPa for a standard normal input) and
// keeps no ReLU. The twin of an all-ReLU model computes a different
// function; it exists to measure what a ReLU position costs in private
// inference over a polynomial one (package sitecost), for which the
// coefficients' values do not matter.
func PolyTwin(sites []*nn.Site) error {
	coef, err := DaPa(0, 1, 2)
	if err != nil {
		return err
	}
	for _, s := range sites {
		p := nn.NewPolyMask(s.Shape, 2)
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
