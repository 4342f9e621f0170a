package mpc

import (
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/ring"
)

// maxMSBShift is the largest shift of TruncMSB: the offset 2^61 must stay
// a multiple of 2^shift.
const maxMSBShift = 61

// msbOffset is added to a value before its masked opening in TruncMSB and
// the polynomial activation: for |x| < 2^61, x' = x + 2^61 lies in
// [0, 2^62), so x' + r wraps around 2^64 exactly when msb(r) = 1 and
// msb(x' + r mod 2^64) = 0.
const msbOffset = uint64(1) << 61

// truncMSBOpening prepares x >> shift (1 ≤ shift ≤ 61, |x| < 2^61) with the
// MSB trick: open x̂ = x + 2^61 + r (mod 2^64), then with a = 1 − msb(x̂),
// M = msb(r) and the exact integer identity x + 2^61 = x̂ − r + 2^64·a·M,
//
//	y = (x̂ >> s) − 2^(61−s) − [r >> s] + 2^(64−s)·a·[M]   (mod 2^64)
//	  = floor(x/2^s) + 1{x̂ mod 2^s < r mod 2^s}
//
// from the dealer's shares of r >> s and M: one bit of error (the borrow
// of the low bits), no larger error for any |x| < 2^61.
func (s *Session) truncMSBOpening(src corr.Provider, label string, x []uint64, shift uint, out *[]uint64) (Opening, error) {
	n := len(x)
	req := truncMSBRequest(label, n, shift)
	if err := req.Validate(); err != nil {
		return Opening{}, err
	}
	m, err := s.Fetch(src, req, n, n, n)
	if err != nil {
		return Opening{}, err
	}
	masked := make([]uint64, n)
	ring.AddVec(masked, x, m.Vecs[0].Data)
	if s.Party == Server {
		for i := range masked {
			masked[i] += msbOffset
		}
	}
	party := s.Party
	return Opening{Masked: masked, Finish: func(xh []uint64) error {
		*out = truncMSBEval(party, shift, xh, m.Vecs[1].Data, m.Vecs[2].Data)
		return nil
	}}, nil
}

// truncMSBEval is the local part of TruncMSB: this party's shares of
// x >> shift from the opened x̂ and its shares rh of r >> shift and msb of
// M = msb(r).
func truncMSBEval(party Party, shift uint, xh, rh, msb []uint64) []uint64 {
	y := make([]uint64, len(xh))
	top := 64 - shift
	if party == Server {
		off := msbOffset >> shift
		for i, v := range xh {
			a := 1 - v>>63
			y[i] = v>>shift - off - rh[i] + (a*msb[i])<<top
		}
		return y
	}
	for i, v := range xh {
		a := 1 - v>>63
		y[i] = (a*msb[i])<<top - rh[i]
	}
	return y
}

// TruncMSB returns shares of x >> shift for signed x with |x| < 2^61 and
// 1 ≤ shift ≤ 61: floor(x/2^shift) or one more (the one-bit error is 1
// with probability (x mod 2^shift)/2^shift, unbiased stochastic
// rounding). One round, 8 bytes per element each way; the dealer sends
// 16 bytes per element to the client and seeds to the server (no FSS keys,
// no AES work online). Outside |x| < 2^61 the result is garbage.
func (s *Session) TruncMSB(src corr.Provider, label string, x []uint64, shift uint) ([]uint64, error) {
	var y []uint64
	op, err := s.truncMSBOpening(src, label, x, shift, &y)
	if err != nil {
		return nil, err
	}
	if err := s.OpenAll("trunc-msb "+label, op); err != nil {
		return nil, err
	}
	return y, nil
}
