package pi

import "github.com/autorep/autorep/mpc"

// SetupRequests lists the dealer requests party p makes in the
// once-per-session setup of the secure run of pub: the server's weight
// masks (one per linear step) and coefficient masks (one per activation
// step with polynomial positions); the client makes none.
func SetupRequests(pub *Public, p mpc.Party) []mpc.Request {
	if p != mpc.Server {
		return nil
	}
	var reqs []mpc.Request
	for i := range pub.Steps {
		st := &pub.Steps[i]
		switch st.Op {
		case OpLinear:
			if st.Conv != nil {
				reqs = append(reqs, mpc.Request{Kind: mpc.KindWeightMask, Label: st.Name, Linear: st.Conv.Params(1)})
			}
		case OpAct:
			if st.ReLUs != st.Positions() && len(st.Shape) > 0 {
				reqs = append(reqs, mpc.Request{Kind: mpc.KindCoefMask, Label: polyLabel(st), Act: mpc.ActSpec{C: st.Shape[0]}})
			}
		}
	}
	return reqs
}

// InferenceRequests lists, in execution order, the dealer requests of one
// inference of n images on pub, the same for both parties: what the
// offline phase prefetches. The secure run itself prefetches this list,
// so a dealer that serves it serves exactly what the run asks for.
func InferenceRequests(pub *Public, n int) []mpc.Request {
	s := &mpc.Session{Frac: pub.Frac, Ell: pub.Ell}
	var reqs []mpc.Request
	for i := range pub.Steps {
		st := &pub.Steps[i]
		switch st.Op {
		case OpLinear:
			if st.Conv != nil {
				reqs = append(reqs, s.LinearRequests(&mpc.LinearKey{Label: st.Name, Spec: st.Conv.Params(n)})...)
			}
		case OpAct:
			reqs = append(reqs, s.ActRequests(st.Name, polyLabel(st), actSpec(st, n, st.ReLUMask()))...)
		case OpMaxPool:
			if st.Pool != nil {
				reqs = append(reqs, s.MaxPoolRequests(st.Name, poolSpec(st, n))...)
			}
		case OpTrunc:
			reqs = append(reqs, mpc.Request{Kind: mpc.KindTrunc, Label: st.Name, N: n * st.Positions(), Shift: st.Shift, Ell: pub.Ell})
		}
	}
	return reqs
}

// actSpec is the mpc specification of activation step st over n images
// with ReLU mask relu (st.ReLUMask()).
func actSpec(st *Step, n int, relu []bool) mpc.ActSpec {
	c, h, w := chw(st.Shape)
	return mpc.ActSpec{N: n, C: c, HW: h * w, ReLU: relu}
}
