package mpc_test

import (
	"fmt"
	"sync"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/dealer"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// A two-layer network y = W2 · act(W1 · x) with a mixed activation (ReLU
// on the first two units, the polynomial 0.25x² + 0.5x + 0.2 on the
// others), run by the server (weights, coefficients) and the client
// (input) with an in-process dealer; the ReLU positions use the FSS
// protocol family's gates (package mpc/fssgates). Only the client learns y.
func Example() {
	const f = 16
	enc := func(v []float64, frac uint) []uint64 {
		out := make([]uint64, len(v))
		for i, x := range v {
			out[i] = ring.Encode(x, frac)
		}
		return out
	}
	w1 := enc([]float64{1, -1, 0.5, 2, -0.5, 1, 1, 1}, f) // [4 out][2 in]
	w2 := enc([]float64{1, 1, 1, -1}, f)                  // [1][4]
	x := enc([]float64{1.5, -0.25}, f)
	l1, l2 := corr.DenseSpec(1, 2, 4), corr.DenseSpec(1, 4, 1)
	act := corr.ActSpec{N: 1, C: 4, HW: 1, ReLU: corr.MaskOf([]bool{true, true, false, false})}
	coef := [][]float64{{0.2, 0.5, 0.25}, {0.2, 0.5, 0.25}, {0.2, 0.5, 0.25}, {0.2, 0.5, 0.25}}

	gen, _ := dealer.NewRandomGenerator()
	p0, p1 := dealer.LocalProviders(gen)
	c0, c1 := transport.Pipe()
	run := func(s *mpc.Session, src corr.Provider, w1, w2, x []uint64, coef [][]float64) ([]uint64, error) {
		s.Gates = fssgates.Gates{}                        // the ReLU positions use the FSS gates
		k1, err := s.SetupLinear(src, "fc1", l1, w1, nil) // once per session
		if err != nil {
			return nil, err
		}
		k2, err := s.SetupLinear(src, "fc2", l2, w2, nil)
		if err != nil {
			return nil, err
		}
		pk, err := s.SetupPoly(src, "act1", 4, coef)
		if err != nil {
			return nil, err
		}
		h, err := s.ShareInput(x, 2) // per inference
		if err != nil {
			return nil, err
		}
		if h, err = s.Linear(src, k1, h); err != nil { // scale 2f
			return nil, err
		}
		if h, err = s.Act(src, "act1", pk, act, h); err != nil { // scale f
			return nil, err
		}
		if h, err = s.Linear(src, k2, h); err != nil { // scale 2f
			return nil, err
		}
		return s.RevealToClient("out", h)
	}
	var y []uint64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // server
		defer wg.Done()
		s, _ := mpc.NewSession(mpc.Server, c0, f)
		if _, err := run(s, p0, w1, w2, nil, coef); err != nil {
			fmt.Println("server:", err)
		}
	}()
	go func() { // client
		defer wg.Done()
		s, _ := mpc.NewSession(mpc.Client, c1, f)
		out, err := run(s, p1, nil, nil, x, nil)
		if err != nil {
			fmt.Println("client:", err)
		}
		y = out
	}()
	wg.Wait()
	// W1·x = (1.75, 0.25, −1, 1.25) → (1.75, 0.25, p(−1) = −0.05, p(1.25) = 1.215625)
	fmt.Printf("y = %.4f\n", ring.Decode(y[0], 2*f))
	// Output: y = 0.7344
}
