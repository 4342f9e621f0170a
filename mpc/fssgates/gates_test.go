package fssgates_test

import (
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/mpc/internal/mpctest"
)

// TestTruncExact: the exact FSS truncation is floor(x/2^shift) for every
// input of its width, in one round of 8 B per element each way.
func TestTruncExact(t *testing.T) {
	const n = 2000
	for _, tc := range []struct {
		ell   int
		shift uint
		bits  uint
	}{{64, 16, 50}, {64, 32, 63}, {40, 12, 40}} {
		x := mpctest.RandSigned(n, tc.bits, 3)
		xs := mpctest.Split(x, 4)
		r := mpctest.Run2(t, 2, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
			return fssgates.Trunc(s, src, "t", xs[s.Party], tc.shift, tc.ell)
		})
		want := make([]uint64, n)
		for i, v := range x {
			want[i] = uint64(int64(v) >> tc.shift)
		}
		mpctest.EqualVec(t, "trunc", mpctest.Reconstruct(t, r), want)
		mpctest.CheckCost(t, r, 16*n, 1, 1)
	}
}

// TestReLUAndDReLU: exact ReLU and DReLU (0, −1 and 1 included), one round
// each, and the ReLU key size.
func TestReLUAndDReLU(t *testing.T) {
	const n = 1500
	x := mpctest.RandSigned(n, 40, 5)
	x[0], x[1], x[2] = 0, ^uint64(0), 1 // 0, −1, 1
	xs := mpctest.Split(x, 6)
	r := mpctest.Run2(t, 3, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
		y, err := fssgates.ReLU(s, src, "r", xs[s.Party], 0)
		if err != nil {
			return nil, err
		}
		d, err := fssgates.DReLU(s, src, "d", xs[s.Party], 41)
		return append(y, d...), err
	})
	got := mpctest.Reconstruct(t, r)
	want := make([]uint64, 2*n)
	for i, v := range x {
		if int64(v) >= 0 {
			want[i], want[n+i] = v, 1
		}
	}
	mpctest.EqualVec(t, "relu|drelu", got, want)
	mpctest.CheckCost(t, r, 2*16*n, 2, 2)
	// Dealer bytes per ReLU ≈ the FSS key plus a little framing.
	if per := float64(r[0].Prov.Offline().ByKind[fssgates.KindReLU]) / n; per < 2072 || per > 2100 {
		t.Errorf("dealer bytes per ReLU %.1f, want ≈ 2072", per)
	}
}

func TestReLUTrunc(t *testing.T) {
	const n = 3000
	for _, tc := range []struct {
		ell   int
		shift uint
		bits  uint
	}{{0, 16, 50}, {64, 16, 63}, {48, 16, 48}, {40, 12, 40}, {20, 4, 20}} {
		z := mpctest.RandSigned(n, tc.bits, byte(tc.ell+int(tc.shift)))
		z[0], z[1], z[2], z[3] = 0, ^uint64(0), 1<<tc.shift, 1<<tc.shift-1
		zs := mpctest.Split(z, 8)
		r := mpctest.Run2(t, 50, func(s *mpc.Session, src corr.Provider) ([]uint64, error) {
			return fssgates.ReLUTrunc(s, src, "rt", zs[s.Party], tc.shift, tc.ell)
		})
		got := mpctest.Reconstruct(t, r)
		ups := 0
		for i, v := range z {
			fl := int64(v) >> tc.shift
			g := int64(got[i])
			switch {
			case int64(v) < 0 && g != 0:
				t.Fatalf("ell=%d: ReLUTrunc(%d) = %d, want 0", tc.ell, int64(v), g)
			case int64(v) >= 0 && g != fl && g != fl+1:
				t.Fatalf("ell=%d: ReLUTrunc(%d) = %d, want %d or %d", tc.ell, int64(v), g, fl, fl+1)
			case int64(v) >= 0 && g == fl+1:
				ups++
			}
		}
		// Stochastic rounding: about half the non-negative values round up.
		if ups < n/4-200 || ups > n/4+200 {
			t.Errorf("ell=%d: %d of ~%d non-negative values rounded up, want about half", tc.ell, ups, n/2)
		}
		mpctest.CheckCost(t, r, 16*n, 1, 1)
	}
}
