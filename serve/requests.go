package serve

import (
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/pi"
)

// SetupRequests lists the dealer requests party p makes in the
// once-per-session setup of pi's secure run of pub: the server's weight
// masks (one per linear step) and coefficient masks (one per activation
// step with polynomial positions); the client makes none.
func SetupRequests(pub *pi.Public, p mpc.Party) []mpc.Request {
	if p != mpc.Server {
		return nil
	}
	var reqs []mpc.Request
	for i := range pub.Steps {
		st := &pub.Steps[i]
		switch st.Op {
		case pi.OpLinear:
			if st.Conv != nil {
				reqs = append(reqs, mpc.Request{Kind: mpc.KindWeightMask, Label: st.Name, Linear: st.Conv.Params(1)})
			}
		case pi.OpAct:
			if st.ReLUs != st.Positions() && len(st.Shape) > 0 {
				reqs = append(reqs, mpc.Request{Kind: mpc.KindCoefMask, Label: st.Name + "/poly", Act: mpc.ActSpec{C: st.Shape[0]}})
			}
		}
	}
	return reqs
}

// InferenceRequests lists, in execution order, the dealer requests both
// parties make for one inference request of n images on pub (the same
// for both parties): what the offline phase prefetches.
func InferenceRequests(pub *pi.Public, n int) []mpc.Request {
	s := &mpc.Session{Frac: pub.Frac, Ell: pub.Ell}
	var reqs []mpc.Request
	for i := range pub.Steps {
		st := &pub.Steps[i]
		switch st.Op {
		case pi.OpLinear:
			if st.Conv != nil {
				reqs = append(reqs, mpc.Request{Kind: mpc.KindLinear, Label: st.Name, Linear: st.Conv.Params(n)})
			}
		case pi.OpAct:
			c, h, w := chw3(st.Shape)
			hw := h * w
			reqs = append(reqs, s.ActRequests(st.Name, st.Name+"/poly", mpc.ActSpec{N: n, C: c, HW: hw, ReLU: st.ReLUMask()})...)
		case pi.OpMaxPool:
			if st.Pool != nil {
				c, h, w := chw3(st.InShape)
				ps := mpc.PoolSpec{N: n, C: c, H: h, W: w, K: st.Pool.K, Stride: st.Pool.Stride, Pad: st.Pool.Pad}
				reqs = append(reqs, s.MaxPoolRequests(st.Name, ps)...)
			}
		case pi.OpTrunc:
			reqs = append(reqs, mpc.Request{Kind: mpc.KindTrunc, Label: st.Name, N: n * st.Positions(), Shift: st.Shift, Ell: pub.Ell})
		}
	}
	return reqs
}

// chw3 reads a per-image shape as (C, H, W), missing dimensions being 1.
func chw3(s []int) (c, h, w int) {
	c, h, w = 1, 1, 1
	if len(s) > 0 {
		c = s[0]
	}
	if len(s) > 1 {
		h = s[1]
	}
	if len(s) > 2 {
		w = s[2]
	}
	return c, h, w
}
