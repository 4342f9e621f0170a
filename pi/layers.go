package pi

import (
	"fmt"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/fssgates"
)

// dealerGates are the dealer suite's comparison gates: the session's
// (Session.Gates) and the ones that name its layers' material.
var dealerGates mpc.Gates = fssgates.Gates{}

// compileLayers returns the mpc layer object of every interactive step of
// pub (nil for the local steps), its public spec computed once: the
// activation split, the max-pool tournament, the precision.
func compileLayers(pub *Public) ([]mpc.Layer, error) {
	layers := make([]mpc.Layer, len(pub.Steps))
	for i := range pub.Steps {
		st := &pub.Steps[i]
		var err error
		switch st.Op {
		case OpLinear:
			if st.Conv == nil {
				return nil, fmt.Errorf("pi: step %q: linear step without geometry", st.Name)
			}
			layers[i] = &mpc.LinearLayer{Label: st.Name, Spec: st.Conv.Params(1)}
		case OpAct:
			c, h, w := chw(st.Shape)
			layers[i], err = mpc.NewActLayer(st.Name, polyLabel(st), c, h*w, st.Mask, pub.Frac, pub.Ell, dealerGates)
		case OpMaxPool:
			if st.Pool == nil {
				return nil, fmt.Errorf("pi: step %q: pooling step without a window", st.Name)
			}
			layers[i], err = mpc.NewMaxPoolLayer(st.Name, poolSpec(st, 1), pub.Ell, dealerGates)
		case OpTrunc:
			layers[i] = &fssgates.TruncLayer{Label: st.Name, Positions: st.Positions(), Shift: st.Shift, Ell: pub.Ell}
		}
		if err != nil {
			return nil, fmt.Errorf("pi: step %q: %w", st.Name, err)
		}
	}
	return layers, nil
}

// SetupRequests lists the dealer requests party p makes in the
// once-per-session setup of the secure run of pub: the server's weight
// masks (one per linear step) and coefficient masks (one per activation
// step with polynomial positions); the client makes none. It returns nil
// for a public plan that does not validate.
func SetupRequests(pub *Public, p mpc.Party) []corr.Request {
	layers, err := compileLayers(pub)
	if err != nil {
		return nil
	}
	return mpc.SetupNeeds(layers, p)
}

// InferenceRequests lists, in execution order, the dealer requests of one
// inference of n images on pub, the same for both parties: what the
// offline phase prefetches (the layers' needs, then the secure argmax's in
// top-k output mode; the secure run prefetches
// the same list, so a dealer that serves it serves exactly what the run
// asks for). It returns nil for a public plan that does not validate.
func InferenceRequests(pub *Public, n int) []corr.Request {
	layers, err := compileLayers(pub)
	if err != nil {
		return nil
	}
	return append(mpc.Needs(layers, n), argmaxRequests(pub, n)...)
}
