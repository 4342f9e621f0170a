package mpc_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

const frac = 16

// recConn records the messages a party receives.
type recConn struct {
	transport.Conn
	mu   sync.Mutex
	recv [][]byte
}

func (c *recConn) Recv() ([]byte, error) {
	b, err := c.Conn.Recv()
	if err == nil {
		c.mu.Lock()
		c.recv = append(c.recv, append([]byte(nil), b...))
		c.mu.Unlock()
	}
	return b, err
}

// result of one party's run.
type result struct {
	out  []uint64
	conn transport.Conn
	rec  *recConn // nil unless recording
	prov mpc.Provider
}

// run2 runs f as the server and the client over a pipe with an in-process
// dealer seeded by seed and returns both parties' results.
func run2(t testing.TB, seed byte, f func(s *mpc.Session) ([]uint64, error)) [2]result {
	t.Helper()
	return runParties(t, seed, false, f)
}

// run2rec is run2 recording the messages each party receives. (Round
// counts of a recording connection may differ: it hides the pipe's
// asynchronous send from transport.Exchange.)
func run2rec(t testing.TB, seed byte, f func(s *mpc.Session) ([]uint64, error)) [2]result {
	t.Helper()
	return runParties(t, seed, true, f)
}

func runParties(t testing.TB, seed byte, record bool, f func(s *mpc.Session) ([]uint64, error)) [2]result {
	t.Helper()
	var sd ring.Seed
	sd[0] = seed
	p0, p1 := mpc.LocalProviders(mpc.NewDealer(sd))
	c0, c1 := transport.Pipe()
	conns := [2]transport.Conn{c0, c1}
	var recs [2]*recConn
	if record {
		recs = [2]*recConn{{Conn: c0}, {Conn: c1}}
		conns = [2]transport.Conn{recs[0], recs[1]}
	}
	provs := [2]mpc.Provider{p0, p1}
	var res [2]result
	var errs [2]error
	var wg sync.WaitGroup
	for p := 0; p < 2; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := newSession(mpc.Party(p), conns[p], provs[p], frac)
			if err != nil {
				errs[p] = err
				conns[p].Close()
				return
			}
			out, err := f(s)
			if err != nil {
				errs[p] = fmt.Errorf("%v: %w", mpc.Party(p), err)
				conns[p].Close()
			}
			res[p] = result{out: out, conn: conns[p], rec: recs[p], prov: provs[p]}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return res
}

// reconstruct adds both parties' outputs.
func reconstruct(t testing.TB, r [2]result) []uint64 {
	t.Helper()
	if len(r[0].out) != len(r[1].out) {
		t.Fatalf("share lengths %d and %d", len(r[0].out), len(r[1].out))
	}
	out := make([]uint64, len(r[0].out))
	ring.AddVec(out, r[0].out, r[1].out)
	return out
}

// split returns random additive shares of x.
func split(x []uint64, seed byte) [2][]uint64 {
	var sd ring.Seed
	sd[0], sd[1] = seed, 0xa5
	t, _ := ring.FromData(append([]uint64(nil), x...), len(x))
	a, b := ring.Share(t, ring.NewPRG(sd))
	return [2][]uint64{a.Data, b.Data}
}

// randSigned returns n values uniform in [−2^(bits−1), 2^(bits−1)).
func randSigned(n int, bits uint, seed byte) []uint64 {
	var sd ring.Seed
	sd[0], sd[1] = seed, 0x3c
	prg := ring.NewPRG(sd)
	v := make([]uint64, n)
	prg.Uint64s(v)
	for i := range v {
		v[i] = uint64(int64(v[i]<<(64-bits)) >> (64 - bits))
	}
	return v
}

// online returns the online counters of a party's connection.
func online(r result) transport.Counts {
	return r.conn.Stats().Snapshot().Phases[transport.PhaseOnline]
}

// checkCost asserts total bytes (both directions) and each party's rounds.
func checkCost(t *testing.T, r [2]result, bytes int64, rounds0, rounds1 int64) {
	t.Helper()
	c0, c1 := online(r[0]), online(r[1])
	if got := c0.BytesSent + c1.BytesSent; got != bytes {
		t.Errorf("online bytes = %d, want %d", got, bytes)
	}
	if c0.Rounds != rounds0 || c1.Rounds != rounds1 {
		t.Errorf("rounds = (%d, %d), want (%d, %d)", c0.Rounds, c1.Rounds, rounds0, rounds1)
	}
}

func equalVec(t *testing.T, what string, got, want []uint64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		if got[i] != want[i] {
			if bad < 5 {
				t.Errorf("%s[%d] = %d, want %d", what, i, int64(got[i]), int64(want[i]))
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d values differ", what, bad, len(got))
	}
}

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
func actNeeds(t testing.TB, s *mpc.Session, label, polyLabel string, spec mpc.ActSpec) []mpc.Request {
	l, err := mpc.NewActLayer(label, polyLabel, spec.C, spec.HW, spec.ReLU, s.Frac, s.Ell)
	if err != nil { // t.Error: callers run in the parties' goroutines
		t.Error(err)
		return nil
	}
	return l.Needs(spec.N)
}

// linearNeeds is what Linear(k, ·) asks for.
func linearNeeds(k *mpc.LinearKey) []mpc.Request {
	return (&mpc.LinearLayer{Label: k.Label, Spec: k.Spec}).Needs(k.Spec.N)
}

// maskWhere is the ReLU mask of n positions that is a ReLU where relu(i).
func maskWhere(n int, relu func(i int) bool) mpc.ReLUMask {
	b := make([]bool, n)
	for i := range b {
		b[i] = relu(i)
	}
	return mpc.MaskOf(b)
}

// newSession is mpc.NewSession with the dealer suite's comparison gates.
func newSession(p mpc.Party, conn transport.Conn, prov mpc.Provider, frac uint) (*mpc.Session, error) {
	s, err := mpc.NewSession(p, conn, prov, frac)
	if err == nil {
		s.Gates = fssgates.Gates{}
	}
	return s, err
}
