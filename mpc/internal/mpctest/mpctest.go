// Package mpctest is the two-party test harness of package mpc and its
// protocol families: it runs a protocol as the server and the client over
// an in-memory pipe with an in-process dealer, on sessions with the dealer
// suite's comparison gates (fssgates.Gates), and checks results and
// costs. Only tests import it.
package mpctest

import (
	"fmt"
	"github.com/autorep/autorep/mpc/dealer"
	"sync"
	"testing"

	"github.com/autorep/autorep/internal/privacytest"
	"github.com/autorep/autorep/mpc"
	"github.com/autorep/autorep/mpc/corr"
	"github.com/autorep/autorep/mpc/fssgates"
	"github.com/autorep/autorep/ring"
	"github.com/autorep/autorep/transport"
)

// Frac is the sessions' precision.
const Frac = 16

// NewSession is mpc.NewSession with the dealer suite's comparison gates.
func NewSession(p mpc.Party, conn transport.Conn, frac uint) (*mpc.Session, error) {
	s, err := mpc.NewSession(p, conn, frac)
	if err == nil {
		s.Gates = fssgates.Gates{}
	}
	return s, err
}

// Result is one party's run.
type Result struct {
	Out  []uint64
	Conn transport.Conn
	Rec  *privacytest.Recorder // nil unless recording
	Prov corr.Provider
}

// Run2 runs f as the server and the client over a pipe with an in-process
// dealer seeded by seed (src: the party's provider) and returns both
// parties' results; an error of either party fails t.
func Run2(t testing.TB, seed byte, f func(s *mpc.Session, src corr.Provider) ([]uint64, error)) [2]Result {
	t.Helper()
	return runParties(t, seed, false, f)
}

// Run2Rec is Run2 recording the messages each party receives
// (privacytest.Recorder).
func Run2Rec(t testing.TB, seed byte, f func(s *mpc.Session, src corr.Provider) ([]uint64, error)) [2]Result {
	t.Helper()
	return runParties(t, seed, true, f)
}

func runParties(t testing.TB, seed byte, record bool, f func(s *mpc.Session, src corr.Provider) ([]uint64, error)) [2]Result {
	t.Helper()
	var sd ring.Seed
	sd[0] = seed
	p0, p1 := dealer.LocalProviders(dealer.NewGenerator(sd))
	c0, c1 := transport.Pipe()
	conns := [2]transport.Conn{c0, c1}
	var recs [2]*privacytest.Recorder
	if record {
		recs = [2]*privacytest.Recorder{privacytest.NewRecorder(c0), privacytest.NewRecorder(c1)}
		conns = [2]transport.Conn{recs[0], recs[1]}
	}
	provs := [2]corr.Provider{p0, p1}
	var res [2]Result
	Run(t, conns, provs, func(s *mpc.Session, src corr.Provider) error {
		out, err := f(s, src)
		res[s.Party] = Result{Out: out, Conn: conns[s.Party], Rec: recs[s.Party], Prov: provs[s.Party]}
		return err
	})
	return res
}

// Run runs f as the server and the client, each in its own goroutine on a
// session (NewSession) over conns[p], with provider provs[p] as src. A party's
// error closes its connection, so that the peer does not wait for it, and
// fails t once both have returned.
func Run(t testing.TB, conns [2]transport.Conn, provs [2]corr.Provider, f func(s *mpc.Session, src corr.Provider) error) {
	t.Helper()
	var errs [2]error
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := NewSession(mpc.Party(p), conns[p], Frac)
			if err == nil {
				err = f(s, provs[p])
			}
			if err != nil {
				errs[p] = fmt.Errorf("%v: %w", mpc.Party(p), err)
				conns[p].Close()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Reconstruct adds both parties' outputs.
func Reconstruct(t testing.TB, r [2]Result) []uint64 {
	t.Helper()
	if len(r[0].Out) != len(r[1].Out) {
		t.Fatalf("share lengths %d and %d", len(r[0].Out), len(r[1].Out))
	}
	out := make([]uint64, len(r[0].Out))
	ring.AddVec(out, r[0].Out, r[1].Out)
	return out
}

// Split returns random additive shares of x.
func Split(x []uint64, seed byte) [2][]uint64 {
	var sd ring.Seed
	sd[0], sd[1] = seed, 0xa5
	t, _ := ring.FromData(append([]uint64(nil), x...), len(x))
	a, b := ring.Share(t, ring.NewPRG(sd))
	return [2][]uint64{a.Data, b.Data}
}

// RandSigned returns n values uniform in [−2^(bits−1), 2^(bits−1)).
func RandSigned(n int, bits uint, seed byte) []uint64 {
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

// Online returns the online counters of a party's connection.
func Online(r Result) transport.Counts {
	return r.Conn.Stats().Snapshot().Phases[transport.PhaseOnline]
}

// CheckCost asserts total online bytes (both directions) and each party's
// rounds.
func CheckCost(t *testing.T, r [2]Result, bytes int64, rounds0, rounds1 int64) {
	t.Helper()
	c0, c1 := Online(r[0]), Online(r[1])
	if got := c0.BytesSent + c1.BytesSent; got != bytes {
		t.Errorf("online bytes = %d, want %d", got, bytes)
	}
	if c0.Rounds != rounds0 || c1.Rounds != rounds1 {
		t.Errorf("rounds = (%d, %d), want (%d, %d)", c0.Rounds, c1.Rounds, rounds0, rounds1)
	}
}

// EqualVec asserts got == want element by element.
func EqualVec(t *testing.T, what string, got, want []uint64) {
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
