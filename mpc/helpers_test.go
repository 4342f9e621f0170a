package mpc_test

import (
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/fssgates"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/internal/mpctest"
)

// The two-party harness (mpctest), under the names the tests use.
const frac = mpctest.Frac

type result = mpctest.Result

var (
	run2        = mpctest.Run2
	run2rec     = mpctest.Run2Rec
	reconstruct = mpctest.Reconstruct
	split       = mpctest.Split
	randSigned  = mpctest.RandSigned
	online      = mpctest.Online
	checkCost   = mpctest.CheckCost
	equalVec    = mpctest.EqualVec
	newSession  = mpctest.NewSession
)

// closeVec asserts |got − want| ≤ tol (as signed differences) everywhere.
func closeVec(t *testing.T, what string, got, want []uint64, tol int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		if d := int64(got[i] - want[i]); d > tol || d < -tol {
			if bad < 5 {
				t.Errorf("%s[%d] = %d, want %d ± %d", what, i, int64(got[i]), int64(want[i]), tol)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d values off by more than %d", what, bad, len(got), tol)
	}
}

// actNeeds is what Act(label, k, spec, ·) asks for on s (k labelled
// polyLabel): the needs of the layer object.
func actNeeds(t testing.TB, s *mpc.Session, label, polyLabel string, spec corr.ActSpec) []corr.Request {
	l, err := mpc.NewActLayer(label, polyLabel, spec.C, spec.HW, spec.ReLU, s.Frac, s.Ell, fssgates.Gates{})
	if err != nil { // t.Error: callers run in the parties' goroutines
		t.Error(err)
		return nil
	}
	return l.Needs(spec.N)
}

// linearNeeds is what Linear(k, ·) asks for.
func linearNeeds(k *mpc.LinearKey) []corr.Request {
	return (&mpc.LinearLayer{Label: k.Label, Spec: k.Spec}).Needs(k.Spec.N)
}

// maskWhere is the ReLU mask of n positions that is a ReLU where relu(i).
func maskWhere(n int, relu func(i int) bool) corr.ReLUMask {
	b := make([]bool, n)
	for i := range b {
		b[i] = relu(i)
	}
	return corr.MaskOf(b)
}
