package mpc

import (
	"fmt"

	"github.com/autorep/autorep/mpc/corr"
)

// Opening is one value to open in a combined round: this party's share of
// a masked value, and what to do with the opened value. Protocols that
// open once (the MSB-trick truncation, the polynomial, a family's gates)
// prepare an Opening, so that a layer can open several of them in one
// message (Act opens its ReLU and polynomial positions together).
type Opening struct {
	// Masked is this party's share of the masked value.
	Masked []uint64
	// Finish receives the opened value (len(Masked) values) and computes
	// this party's output shares.
	Finish func(xhat []uint64) error
}

// OpenAll opens all masked values in one simultaneous round (one message
// each way) and runs the finishers.
func (s *Session) OpenAll(what string, ops ...Opening) error {
	n := 0
	for _, o := range ops {
		n += len(o.Masked)
	}
	if n == 0 {
		for _, o := range ops {
			if err := o.Finish(nil); err != nil {
				return err
			}
		}
		return nil
	}
	xhat, err := s.open(what, concatMasked(ops))
	if err != nil {
		return err
	}
	return finishAll(ops, xhat)
}

// concatMasked concatenates the masked shares of ops (one message).
func concatMasked(ops []Opening) []uint64 {
	var msg []uint64
	for _, o := range ops {
		msg = append(msg, o.Masked...)
	}
	return msg
}

// finishAll runs the finishers of ops on their parts of the opened xhat.
func finishAll(ops []Opening, xhat []uint64) error {
	for _, o := range ops {
		k := len(o.Masked)
		if err := o.Finish(xhat[:k:k]); err != nil {
			return err
		}
		xhat = xhat[k:]
	}
	return nil
}

// Gates is the plug point of the comparison gates that core layers use but
// the core does not implement: the ReLU positions of Act and the
// comparisons of MaxPool. A protocol family implements it (the FSS one:
// fssgates.Gates) and whoever binds the protocols (today pi) sets it on
// the Session, so the core depends on no family. Each method fetches the
// gate's material from src (Session.Fetch) and returns the opening of its masked
// input, whose finisher stores this party's output shares in *out; the
// caller opens it, possibly with others in the same round.
type Gates interface {
	// ReLU prepares shares of max(x, 0) for signed x in
	// [−2^(ell−1), 2^(ell−1)) (ell 0 means 64).
	ReLU(s *Session, src corr.Provider, label string, x []uint64, ell int, out *[]uint64) (Opening, error)
	// ReLUTrunc prepares shares of ReLU(z) >> shift for signed z of ell
	// bits: 0 for z < 0, floor(z/2^shift) or one more for z ≥ 0.
	ReLUTrunc(s *Session, src corr.Provider, label string, z []uint64, shift uint, ell int, out *[]uint64) (Opening, error)
	// ReLUNeeds lists, in order, the material ReLU fetches for n values
	// of ell bits under label (a layer's Needs: the core names no
	// family's kind).
	ReLUNeeds(label string, n, ell int) []corr.Request
	// ReLUTruncNeeds lists the material ReLUTrunc fetches for n values.
	ReLUTruncNeeds(label string, n int, shift uint, ell int) []corr.Request
}

// gates returns the session's gates, or an error naming the layer that
// needs them.
func (s *Session) gates(what string) (Gates, error) {
	if s.Gates == nil {
		return nil, fmt.Errorf("mpc: %s: the session has no comparison gates (Session.Gates)", what)
	}
	return s.Gates, nil
}
