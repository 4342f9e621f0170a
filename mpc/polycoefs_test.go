package mpc_test

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/ring"
)

// EncodePolyCoefs' scales and checks, and Eval against exact big-integer
// arithmetic: floor((C2·t² + C1·t + C0) / 2^2f), low 64 bits.
func TestPolyCoefs(t *testing.T) {
	const f = 16
	pc, err := mpc.EncodePolyCoefs([][]float64{{0.25, -1.5, 0.125}, {1}, {-2, 0.5}}, f)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.25, -1.5, 0.125, 1, 0, 0, -2, 0.5, 0}
	for i, w := range want {
		if got := ring.Decode(pc[i], (3-uint(i%3))*f); got != w {
			t.Fatalf("coefficient %d decodes to %v, want %v", i, got, w)
		}
	}
	if pc.Channels() != 3 {
		t.Fatalf("%d channels", pc.Channels())
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		c := rng.IntN(3)
		v := uint64(rng.Int64N(1<<40) - 1<<39)
		got := pc.Eval(c, v, f)
		s := func(x uint64) *big.Int { return big.NewInt(int64(x)) }
		tv := s(v)
		p := new(big.Int).Mul(s(pc[3*c+2]), tv)
		p.Add(p, s(pc[3*c+1])).Mul(p, tv).Add(p, s(pc[3*c]))
		p.Rsh(p, 2*f) // floor for negatives too
		w := new(big.Int).And(p, new(big.Int).SetUint64(^uint64(0))).Uint64()
		if got != w {
			t.Fatalf("channel %d at %d: %d, want %d", c, int64(v), int64(got), int64(w))
		}
	}
	for _, bad := range [][][]float64{{{}}, {{1, 2, 3, 4}}, {{1e30}}} {
		if _, err := mpc.EncodePolyCoefs(bad, f); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := mpc.EncodePolyCoefs([][]float64{{1}}, 21); err == nil {
		t.Error("21 fractional bits accepted")
	}
}
